"""IDs are text end to end, and a lesion is (patient_id, lesion_id): one real run.

The cohort is what a real study hands over: patient IDs with leading zeros and numeric
look-alikes (``001``, ``01``, ``1``, ``1.0``, ``1e3``, and ``NA``, which pandas reads as
missing by default), lesion IDs numbered per patient (``L1`` ... ``L8`` in every patient,
as reading software writes them), and for one patient lesion IDs with spaces, unicode
and numeric look-alikes. Patient, sample and slide IDs follow the input schemas'
pattern ``^[A-Za-z0-9][A-Za-z0-9._-]*$`` (ASCII, no spaces), so spaces and unicode are
tried in lesion IDs only, which have no pattern. Clinical + RECIST + PET VOI table +
IHC density table + NanoString (RCC files with a sample sheet), one snakemake run.
"""

from __future__ import annotations

import csv
import math

import pytest

from tests.conftest import run_snakemake, write_tsv
from tests.unit.nanostring.test_nanostring_rcc import CODE_LINES, rcc_text

pytestmark = pytest.mark.workflow

PATIENTS = ["001", "01", "1", "1.0", "1e3", "NA"]
ODD_LESIONS = ["01", "1", "1.0", "1e3", "Läsion 5", "µ 6", "L7", "L8"]  # patient NA's lesion IDs
SLIDES = ["001", "01", "1", "1.0", "1e3", "10"]
SAMPLES = ["001", "01", "1", "1.0", "1e3", "1E3"]


def lesion_ids(patient: str) -> list[str]:
    return ODD_LESIONS if patient == "NA" else [f"L{k}" for k in range(1, 9)]


def build_cohort(folder):
    folder.mkdir()
    write_tsv(
        folder / "clinical.tsv",
        ["patient_id", "pfs_days", "pfs_event", "os_days", "os_event", "dmmr"],
        [(p, 60 + 30 * i, 1, 200 + 60 * i, i % 2, i % 2 == 0) for i, p in enumerate(PATIENTS)],
    )
    voi, recist, densities = [], [], []
    for i, patient in enumerate(PATIENTS):
        for k, lesion in enumerate(lesion_ids(patient)):
            # L8 (the last lesion) irradiated in the first two patients: 2 of 48 baseline lesions
            irradiated = k == 7 and i < 2
            base = round(math.exp(1.0 + 0.1 * i + 0.05 * k), 4)
            voi.append(
                (patient, lesion, "baseline", -3, ["liver", "lung", "bone", "lymph_node"][k % 4], base, irradiated)
            )
            voi.append((patient, lesion, "on_treatment", 28, ["liver", "lung", "bone", "lymph_node"][k % 4],
                        round(base * (0.8 + 0.08 * i), 4), irradiated))  # fmt: skip
        first, second = lesion_ids(patient)[:2]
        for day, shrink in ((-7, 1.0), (56, 0.6 + 0.15 * i), (112, 0.5 + 0.2 * i)):
            recist.append((patient, day, first, "target", round(30 * shrink, 1)))
            recist.append((patient, day, second, "target", round(20 * shrink, 1)))
        for region, marker, density in (("tumor", "CD8", 100 + 50 * i), ("margin", "CD8", 200 + 40 * i),
                                        ("tumor", "CD3", 300 + 30 * i), ("margin", "CD3", 500 + 20 * i)):  # fmt: skip
            densities.append((SLIDES[i], patient, "baseline", lesion_ids(patient)[0], region, marker, density))
    write_tsv(
        folder / "voi.tsv", ["patient_id", "lesion_id", "timepoint", "scan_day", "site", "suvmax", "irradiated"], voi
    )
    write_tsv(folder / "recist.tsv", ["patient_id", "assessment_day", "lesion_id", "kind", "diameter_mm"], recist)
    write_tsv(
        folder / "densities.tsv",
        ["slide_id", "patient_id", "timepoint", "lesion_id", "region", "marker", "density"],
        densities,
    )
    rcc = folder / "rcc"
    rcc.mkdir()
    sheet = []
    for i, (sample, patient) in enumerate(zip(SAMPLES, PATIENTS, strict=True), start=1):
        # Each lane its own counts (identical count vectors are refused as copied files).
        lines = [f"{line.rsplit(',', 1)[0]},{int(line.rsplit(',', 1)[1]) + i}" for line in CODE_LINES]
        (rcc / f"lane{i}.RCC").write_text(rcc_text(lines, sample_id=sample, lane=str(i)))
        sheet.append((f"rcc/lane{i}.RCC", sample, patient, "baseline"))
    write_tsv(folder / "samples.tsv", ["file", "sample_id", "patient_id", "timepoint"], sheet)
    return {
        "clinical": str(folder / "clinical.tsv"),
        "recist": str(folder / "recist.tsv"),
        "pet": {"voi_table": str(folder / "voi.tsv")},
        "ihc": {"densities": str(folder / "densities.tsv")},
        "nanostring": {"rcc": str(rcc), "samples": str(folder / "samples.tsv")},
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ids")
    run_snakemake(workdir, {"cohorts": {"trial": build_cohort(workdir / "inputs")}})
    return workdir / "results" / "trial"


def rows(path):
    """The table's rows as the exact strings in the file (no parsing of values)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def column(path, name):
    return [row[name] for row in rows(path)]


def test_patient_ids_survive_byte_for_byte(run):
    assert column(run / "tables/patients.tsv", "patient_id") == sorted(PATIENTS)
    for table in ("clinical/clinical.tsv", "tables/lesions.tsv", "pet/patient_features.tsv", "pet/scans.tsv",
                  "tables/recist_timepoints.tsv", "tables/ihc_slides.tsv", "nanostring/samples.tsv",
                  "tables/data_availability.tsv"):  # fmt: skip
        assert set(column(run / table, "patient_id")) == set(PATIENTS), table
    patients = {row["patient_id"]: row for row in rows(run / "tables/patients.tsv")}
    assert len(patients) == len(PATIENTS)  # 01 and 1 (and 1e3) stay distinct patients
    assert {p: patients[p]["pet_lesions_baseline"] for p in PATIENTS} == {
        "001": "7", "01": "7", "1": "8", "1.0": "8", "1e3": "8", "NA": "8"
    }  # fmt: skip
    assert all(patients[p]["bor"] for p in PATIENTS)  # RECIST joined on the same text
    assert all(patients[p]["cd8_density_tumor"] for p in PATIENTS)  # IHC too


def test_lesion_sample_and_slide_ids_survive_byte_for_byte(run):
    lesions = rows(run / "tables/lesions.tsv")
    got = sorted({(r["patient_id"], r["lesion_id"]) for r in lesions})
    assert got == sorted((p, lesion) for p in PATIENTS for lesion in lesion_ids(p))
    assert len(lesions) == 2 * 48  # every lesion at both scans, none merged
    assert sorted(column(run / "tables/ihc_slides.tsv", "slide_id")) == sorted(SLIDES)
    assert sorted(column(run / "nanostring/samples.tsv", "sample_id")) == sorted(SAMPLES)
    # each biopsied lesion (the patient's first) paired with its PET row on the exact text
    correlation = rows(run / "tables/ihc_pet_correlation.tsv")
    assert {r["n"] for r in correlation if r["density"] == "cd8_density_tumor"} == {"6"}


def test_every_table_holds_only_the_ids_written(run):
    allowed = {"patient_id": set(PATIENTS), "sample_id": set(SAMPLES), "slide_id": set(SLIDES)}
    allowed["lesion_id"] = {lesion for p in PATIENTS for lesion in lesion_ids(p)}
    pairs = {(p, lesion) for p in PATIENTS for lesion in lesion_ids(p)}
    checked = []
    for path in sorted(run.rglob("*.tsv")):
        if {"logs", "benchmarks"} & set(path.relative_to(run).parts):
            continue
        table = rows(path)
        for name, values in allowed.items():
            seen = {r[name] for r in table if name in r and r[name]}
            assert seen <= values, (path, name, sorted(seen - values))
            if seen:
                checked.append((path.relative_to(run).as_posix(), name))
        if table and {"patient_id", "lesion_id"} <= set(table[0]):
            seen = {(r["patient_id"], r["lesion_id"]) for r in table if r["lesion_id"]}
            assert seen <= pairs, (path, sorted(seen - pairs))
    # the expression matrices name their samples in the header
    for matrix in ("nanostring/raw_counts.tsv", "nanostring/normalized.tsv"):
        header = (run / matrix).read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
        assert set(SAMPLES) <= set(header), (matrix, header)
    tables = {path for path, _ in checked}
    expected = {"tables/patients.tsv", "tables/lesions.tsv", "tables/recist_timepoints.tsv", "tables/ihc_slides.tsv",
                "nanostring/samples.tsv", "nanostring/lanes.tsv", "clinical/clinical.tsv", "tables/data_availability.tsv",
                "figures/pet_lesion_overview.source.tsv", "figures/ihc_suvmax_vs_cd8_density.source.tsv"}  # fmt: skip
    assert expected <= tables, sorted(expected - tables)


def test_lesions_are_counted_with_their_patient(run):
    models = {(r["analysis"], r["term"]): r["estimate"] for r in rows(run / "tables/pet_models.tsv")}
    # 6 patients x 8 lesions, 2 irradiated (excluded by default); by lesion_id alone it would be 14
    assert models[("baseline_geomean", "n_patients")] == "6"
    assert models[("baseline_geomean", "n_lesions")] == "46"
    methods = (run / "bundle/methods.md").read_text()
    assert (
        "Uptake of 48 baseline lesions of 6 patients (96 lesion measurements in all) was read from a per-VOI" in methods
    )
    # what the run did for a VOI table: no SUV computed, so no decay correction or SUVpeak sphere
    assert "(SUVmax as exported; no SUV was recomputed from images)" in methods
    for claim in ("half-life", "89Zr", "sphere", "decay-corrected"):
        assert claim not in methods, claim
    assert "Irradiated lesions (2 of 48 baseline lesions) were excluded from the uptake analyses" in methods
