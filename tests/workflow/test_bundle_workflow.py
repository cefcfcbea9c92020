"""The bundle: contents, manifest checksums, and byte-identical reruns."""

import hashlib
import json
import zipfile

import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundle_holds_tables_manifest_and_methods(demo_run):
    cohort_dir = demo_run / "results/small"
    with zipfile.ZipFile(cohort_dir / "small_bundle.zip") as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("small_bundle/manifest.json"))
        methods = archive.read("small_bundle/methods.md").decode()
        patients = archive.read("small_bundle/tables/patients.tsv")
    assert "small_bundle/tables/patients.tsv" in names
    assert patients == (cohort_dir / "tables/patients.tsv").read_bytes()
    assert "The analysis included 24 patients." in methods
    assert manifest["config"]["simulate"] == {
        "patients": 24,
        "seed": 7,
        "modalities": manifest["config"]["simulate"]["modalities"],
    }
    assert manifest["packages"]["scipy"] and manifest["git_commit"]
    assert "lifelines" not in manifest["packages"]  # no stage fits with it any more
    # Every input file is listed with its checksum, and the checksums are right.
    listed = {entry["path"]: entry["sha256"] for entry in manifest["inputs"]}
    assert "results/small/raw/clinical.tsv" in listed
    for path, digest in listed.items():
        assert sha256(demo_run / path) == digest


def test_two_runs_give_identical_tables(demo_run, tmp_path_factory):
    tmp_path = tmp_path_factory.getbasetemp() / "second_run"
    run_snakemake(tmp_path, {"cohorts": {"small": {"simulate": {"patients": 24, "seed": 7}}}})
    first = sorted(
        p.relative_to(demo_run) for p in (demo_run / "results").rglob("*.tsv") if "benchmarks" not in p.parts
    )
    second = sorted(
        p.relative_to(tmp_path) for p in (tmp_path / "results").rglob("*.tsv") if "benchmarks" not in p.parts
    )
    assert first == second and len(first) >= 3
    differing = [str(p) for p in first if sha256(demo_run / p) != sha256(tmp_path / p)]
    assert differing == []


def test_two_runs_give_identical_figures_and_bundles(demo_run, tmp_path_factory):
    """Figures (PNG and PDF) are byte-identical between runs, and so is the bundle zip but
    for the run's date (the manifest's, which the bundle README repeats: two runs either side
    of midnight differ there). Reuses the second run of the test above when it exists."""
    second = tmp_path_factory.getbasetemp() / "second_run"
    if not (second / "results/small/small_bundle.zip").exists():
        run_snakemake(second, {"cohorts": {"small": {"simulate": {"patients": 24, "seed": 7}}}})
    figures = sorted(p.relative_to(demo_run) for p in (demo_run / "results/small/figures").glob("*.p[nd][gf]"))
    assert len(figures) >= 50
    assert [str(p) for p in figures if sha256(demo_run / p) != sha256(second / p)] == []
    with (
        zipfile.ZipFile(demo_run / "results/small/small_bundle.zip") as one,
        zipfile.ZipFile(second / "results/small/small_bundle.zip") as two,
    ):
        assert one.namelist() == two.namelist()
        assert "small_bundle/figures/pet_suvmax_by_site.pdf" in one.namelist()
        differing = [n for n in one.namelist() if one.read(n) != two.read(n)]
        assert set(differing) <= {"small_bundle/manifest.json", "small_bundle/README.md"}
        manifests = [json.loads(z.read("small_bundle/manifest.json")) for z in (one, two)]
        readmes = [
            z.read("small_bundle/README.md").decode().replace(f" on {m['date']}:", " on <date>:")
            for z, m in zip((one, two), manifests, strict=True)
        ]
    assert readmes[0] == readmes[1] and " on <date>:" in readmes[0]
    for manifest in manifests:
        manifest.pop("date")
    assert manifests[0] == manifests[1]


def test_data_availability_counts_each_modality(demo_run):
    import pandas as pd

    cohort_dir = demo_run / "results/small"
    table = pd.read_csv(cohort_dir / "tables/data_availability.tsv", sep="\t")
    lesions = pd.read_csv(cohort_dir / "tables/lesions.tsv", sep="\t")
    samples = pd.read_csv(cohort_dir / "nanostring/samples.tsv", sep="\t")
    pet = table[table["modality"] == "pet"].set_index(["patient_id", "timepoint"])["n"]
    expected_pet = (
        lesions.drop_duplicates(["patient_id", "timepoint", "scan_day"]).groupby(["patient_id", "timepoint"]).size()
    )
    assert pet.sort_index().to_dict() == expected_pet.sort_index().to_dict()
    nanostring = table[table["modality"] == "nanostring"]["n"].sum()
    assert nanostring == samples["included"].sum() < len(samples)  # QC-failed lanes are not counted
    assert (table[table["modality"] == "clinical"]["n"] == 1).all()
    assert table["modality"].eq("clinical").sum() == 24
    assert (cohort_dir / "figures/cohort_overview.png").stat().st_size > 10_000
