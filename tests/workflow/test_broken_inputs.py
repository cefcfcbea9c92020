"""The broken-input catalogue (issue 10): one real snakemake run per broken input.

The inputs are the raw files of a small simulated cohort (written once per module),
copied into each test's folder and declared as a *real* cohort, then one thing is
broken. Every run must stop (exit code != 0) with a message naming the file and the
column or key, write no ``tables/patients.tsv``, and leave every input byte-identical.
Most cases are stopped by the central validation step (rule ``validate_inputs``,
``contexture.inputs``); PET dose and weight are checked by the PET stage itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow

COHORT = "trial"
# The smallest real-cohort config per modality (paths relative to the run folder).
SECTIONS = {
    "clinical": {"clinical": "inputs/clinical.tsv"},
    "recist": {"recist": "inputs/recist/recist.tsv"},
    "nanostring": {"nanostring": {"rcc": "inputs/nanostring/rcc", "samples": "inputs/nanostring/samples.tsv"}},
    "pet": {"pet": {"scans": "inputs/pet/scans.tsv"}},
    "ihc": {"ihc": {"slides": "inputs/ihc/slides.tsv"}},
}


@pytest.fixture(scope="module")
def raw_inputs(tmp_path_factory) -> Path:
    """Raw files of a 6-patient simulated cohort, laid out as a real study's input folder."""
    workdir = tmp_path_factory.mktemp("broken_source")
    raw = "results/source/raw"
    targets = [
        f"{raw}/clinical.tsv",
        f"{raw}/recist/recist.tsv",
        f"{raw}/nanostring/samples.tsv",
        f"{raw}/pet/scans.tsv",
        f"{raw}/ihc",
    ]
    run_snakemake(workdir, {"cohorts": {"source": {"simulate": {"patients": 6, "seed": 3}}}}, *targets)
    inputs = workdir / "inputs"
    shutil.copytree(
        workdir / raw,
        inputs,
        ignore=shutil.ignore_patterns("truth", "truth.yaml", "lanes_truth.tsv", ".snakemake*"),
    )
    return inputs


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class Case:
    """A copy of the inputs in ``tmp_path/inputs`` and the run of one broken variant."""

    def __init__(self, tmp_path: Path, raw_inputs: Path, *modalities: str) -> None:
        self.root = tmp_path
        self.inputs = tmp_path / "inputs"
        shutil.copytree(raw_inputs, self.inputs)
        self.cohort: dict = {}
        for modality in modalities:
            self.cohort.update(json.loads(json.dumps(SECTIONS[modality])))

    def path(self, relative: str) -> Path:
        return self.inputs / relative

    def table(self, relative: str) -> pd.DataFrame:
        return pd.read_csv(self.path(relative), sep="\t", dtype=str, keep_default_na=False)

    def write(self, relative: str, table: pd.DataFrame) -> None:
        table.to_csv(self.path(relative), sep="\t", index=False, lineterminator="\n")

    def run(self, config: dict | None = None) -> str:
        """Run snakemake; assert it fails without a patient table and without touching inputs."""
        before = checksums(self.inputs)
        result = run_snakemake(self.root, config or {"cohorts": {COHORT: self.cohort}}, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]  # one paragraph, not a trace
        assert not (self.root / f"results/{COHORT}/tables/patients.tsv").exists()
        assert checksums(self.inputs) == before, "an input file was modified"
        return output


def rcc_files(case: Case) -> list[Path]:
    return sorted(case.path("nanostring/rcc").glob("*.RCC"))


def assert_names(output: str, *needles: str) -> None:
    for needle in needles:
        assert needle in output, f"{needle!r} not in the message:\n{output[-3000:]}"


# --- NanoString ----------------------------------------------------------------------------
def test_truncated_rcc(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "nanostring")
    rcc = rcc_files(case)[2]
    text = rcc.read_bytes()
    rcc.write_bytes(text[: len(text) // 2])
    output = case.run()
    assert_names(output, rcc.name, "<Code_Summary>", "truncated", "validate_inputs")


def test_non_numeric_count(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "nanostring")
    rcc = rcc_files(case)[0]
    lines = rcc.read_text().split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("Endogenous,"))
    probe = lines[index].split(",")[1]
    lines[index] = lines[index].rsplit(",", 1)[0] + ",12x"
    rcc.write_text("\n".join(lines))
    output = case.run()
    assert_names(output, rcc.name, f"line {index + 1}", "count '12x'", f"probe '{probe}'")


def test_rcc_from_another_codeset(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "nanostring")
    rcc = rcc_files(case)[1]
    text = rcc.read_text()
    rcc.write_text(text.replace("GeneRLF,NS_Contexture_Demo_Immune_C0001", "GeneRLF,NS_Other_Panel_C9999"))
    output = case.run()
    assert_names(output, rcc.name, "GeneRLF", "NS_Other_Panel_C9999", "NS_Contexture_Demo_Immune_C0001")


def test_sample_sheet_and_rcc_files_disagree(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "nanostring")
    files = rcc_files(case)
    listed_missing = files[0]
    listed_missing.unlink()
    unlisted = files[1].with_name("20190115_20190001A_STRAY_12.RCC")
    shutil.copy(files[1], unlisted)
    output = case.run()
    assert_names(output, "samples.tsv", listed_missing.name, unlisted.name, "RCC files not in the sheet")


def test_oversized_rcc_is_refused_before_reading(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "nanostring")
    rcc = rcc_files(case)[3]
    with open(rcc, "r+b") as handle:  # sparse: 20 MB on paper, nothing on disk
        handle.truncate(20 * 1024**2)
    output = case.run()
    assert_names(output, rcc.name, "limits.rcc_mb")


# --- clinical ------------------------------------------------------------------------------
def test_clinical_table_without_patient_id(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    case.write("clinical.tsv", case.table("clinical.tsv").rename(columns={"patient_id": "subject"}))
    output = case.run()
    assert_names(output, "clinical.tsv", "column 'patient_id'")


def test_duplicate_patient_ids(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    table = case.table("clinical.tsv")
    table.loc[3, "patient_id"] = table.loc[1, "patient_id"]
    case.write("clinical.tsv", table)
    output = case.run()
    assert_names(output, "clinical.tsv", "row 4 (line 5)", "column 'patient_id'", repr(table.loc[1, "patient_id"]))


# --- RECIST --------------------------------------------------------------------------------
def test_recist_diameter_with_comma_and_unit(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "recist")
    table = case.table("recist/recist.tsv")
    row = int(np.flatnonzero(table["diameter_mm"] != "")[2])
    table.loc[row, "diameter_mm"] = "2,8 mm"
    case.write("recist/recist.tsv", table)
    output = case.run()
    assert_names(output, "recist.tsv", f"row {row + 1}", "column 'diameter_mm'", "'2,8 mm'", "a number")


def test_target_lesion_absent_at_baseline(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "recist")
    table = case.table("recist/recist.tsv")
    baseline_targets = table[(table["kind"] == "target") & (table["assessment_day"].astype(float) <= 0)]
    lesion = baseline_targets["lesion_id"].iloc[0]
    case.write("recist/recist.tsv", table.drop(index=baseline_targets.index[0]))
    output = case.run()
    assert_names(output, "recist.tsv", "column 'lesion_id'", repr(lesion), "recorded as target at baseline")


# --- PET -----------------------------------------------------------------------------------
def _first_nifti_scan(case: Case) -> str:
    scans = case.table("pet/scans.tsv")
    return next(folder for folder in scans["image"] if folder.endswith(".nii.gz")).rsplit("/", 1)[0]


def test_pet_scan_without_dose(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "pet")
    sidecar = case.path(f"pet/{_first_nifti_scan(case)}/pet.json")
    attributes = json.loads(sidecar.read_text())
    del attributes["InjectedRadioactivity"]
    sidecar.write_text(json.dumps(attributes, indent=2))
    output = case.run()
    assert_names(output, str(Path(*sidecar.parts[-3:])), "InjectedRadioactivity", "pet_quantify")


def test_pet_scan_without_weight(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "pet")
    folder = _first_nifti_scan(case)
    sidecar = case.path(f"pet/{folder}/pet.json")
    attributes = json.loads(sidecar.read_text())
    del attributes["BodyWeight"]
    sidecar.write_text(json.dumps(attributes, indent=2))
    case.write("clinical.tsv", case.table("clinical.tsv").drop(columns="weight_kg"))
    output = case.run()
    assert_names(output, f"{folder}/pet.nii.gz", "no body weight", "BodyWeight", "weight_kg")


def test_mask_labels_missing_from_label_table(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "pet")
    labels_file = "pet/" + case.table("pet/scans.tsv")["labels"].iloc[0]
    labels = case.table(labels_file)
    dropped = labels[labels["kind"] == "lesion"]["label"].iloc[-1]
    case.write(labels_file, labels[labels["label"] != dropped])
    output = case.run()
    assert_names(output, labels_file.rsplit("/", 2)[-2] + "/mask.nii.gz", f"label(s) [{dropped}]", "column 'label'")


def test_on_treatment_scan_before_treatment_start(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "pet")
    scans = case.table("pet/scans.tsv")
    row = int(np.flatnonzero(scans["timepoint"] == "on_treatment")[0])
    scans.loc[row, "scan_day"] = "-3"
    case.write("pet/scans.tsv", scans)
    output = case.run()
    assert_names(output, "scans.tsv", f"row {row + 1}", "column 'scan_day'", "on_treatment")


def test_absurd_image_dimensions_are_refused_from_the_header(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "pet")
    mask = case.path("pet/" + case.table("pet/scans.tsv")["mask"].iloc[0])
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape((2048, 2048, 4096))
    mask.unlink()
    with gzip.open(mask, "wb") as handle:  # a header claiming 16 G voxels, and no voxels
        handle.write(header.binaryblock + b"\0" * 4)
    output = case.run()
    assert_names(output, mask.name, "2048 x 2048 x 4096", "limits.image_voxels", "column 'mask'")


def test_voi_lesion_repeated_within_a_patient(tmp_path, raw_inputs):
    # A lesion is (patient_id, lesion_id): L1 in two patients is two lesions (accepted,
    # tests/workflow/test_ids_workflow.py), L1 twice in one patient's scan is refused.
    case = Case(tmp_path, raw_inputs, "clinical")
    patients = case.table("clinical.tsv")["patient_id"].tolist()
    header = "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\n"
    rows = [f"{patients[0]}\tL1\tbaseline\t-2\tliver\t4\n", f"{patients[1]}\tL1\tbaseline\t-2\tlung\t3\n"]
    rows.append(f"{patients[1]}\tL1\tbaseline\t-2\tbone\t5\n")
    case.path("voi.tsv").write_text(header + "".join(rows))
    case.cohort["pet"] = {"voi_table": "inputs/voi.tsv"}
    output = case.run()
    assert_names(
        output,
        "voi.tsv, row 3 (line 4), column 'patient_id,lesion_id,timepoint'",
        f"got ('{patients[1]}', 'L1', 'baseline')",
        "this one repeats an earlier row",
    )
    assert output.count("voi.tsv, row") == 1  # rows 1 and 2 (L1 of two patients) are not a repeat


# --- patients across modalities ------------------------------------------------------------
def _rename_pet_patient(case: Case) -> tuple[str, str]:
    scans = case.table("pet/scans.tsv")
    renamed = scans["patient_id"].iloc[0]
    scans.loc[scans["patient_id"] == renamed, "patient_id"] = "X" + renamed
    case.write("pet/scans.tsv", scans)
    return renamed, "X" + renamed


def test_pet_patient_missing_from_the_clinical_table(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "recist", "pet")
    _, unknown = _rename_pet_patient(case)
    output = case.run()
    assert_names(
        output,
        "rule 'validate_inputs'",
        "1 problem(s) in the inputs of cohort 'trial'",
        "scans.tsv', column 'patient_id': 1 patient(s) not in the clinical table",
        f"{unknown} (row 1)",
        "or set on_unknown_patient: warning",
    )
    # found before any stage: nothing but the validation log was written
    written = sorted(
        str(p.relative_to(tmp_path / "results" / COHORT)) for p in (tmp_path / "results" / COHORT).rglob("*")
    )
    assert written == ["logs", "logs/validate_inputs.log"], written


def test_unknown_patient_only_warns_when_configured(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "pet")
    renamed, unknown = _rename_pet_patient(case)
    config = {"cohorts": {COHORT: {**case.cohort, "on_unknown_patient": "warning"}}}
    run_snakemake(tmp_path, config, f"results/{COHORT}/validation/inputs.tsv")
    log = (tmp_path / f"results/{COHORT}/logs/validate_inputs.log").read_text()
    assert f"1 patient(s) not in the clinical table 'inputs/clinical.tsv': {unknown} (row 1)" in log
    assert f"clinical patient(s) have no pet data: {renamed}" in log  # the reverse is a warning


# --- IHC -----------------------------------------------------------------------------------
def test_qupath_export_without_centroid_columns(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "ihc")
    cells = case.path("ihc/" + case.table("ihc/slides.tsv")["cells"].iloc[1])
    table = pd.read_csv(cells, sep="\t", dtype=str, keep_default_na=False)
    table = table.drop(columns=[c for c in table.columns if c.startswith("Centroid")])
    with gzip.open(cells, "wt", encoding="utf-8") as handle:
        table.to_csv(handle, sep="\t", index=False, lineterminator="\n")
    output = case.run()
    assert_names(output, cells.name, "column 'Centroid X µm'", "ihc.columns.x")


def test_slide_sheet_naming_a_missing_export(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "ihc")
    annotations = case.table("ihc/slides.tsv")["annotations"].iloc[2]
    case.path("ihc/" + annotations).unlink()
    output = case.run()
    assert_names(output, "slides.tsv", "row 3", "column 'annotations'", annotations)


# --- config --------------------------------------------------------------------------------
def test_misspelled_config_key(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "recist")
    output = case.run({"cohorts": {COHORT: {**case.cohort, "respnse": {"confirmation": False}}}})
    assert_names(output, "config.yaml", "unknown key(s) ['respnse']", f"cohorts.{COHORT}")


def test_path_that_does_not_exist(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "recist")
    output = case.run({"cohorts": {COHORT: {**case.cohort, "clinical": "inputs/clinical_v2.tsv"}}})
    assert_names(output, f"cohorts.{COHORT}.clinical", "inputs/clinical_v2.tsv", "does not exist")


# --- all at once, and the clean case ----------------------------------------------------------
def test_problems_of_every_modality_are_reported_together(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "recist", "nanostring", "pet", "ihc")
    clinical = case.table("clinical.tsv")
    lost = clinical.loc[2, "patient_id"]
    clinical.loc[2, "patient_id"] = clinical.loc[0, "patient_id"]
    case.write("clinical.tsv", clinical)
    recist = case.table("recist/recist.tsv")
    recist.loc[0, "diameter_mm"] = "2,8 mm"
    case.write("recist/recist.tsv", recist)
    rcc = rcc_files(case)[0]
    rcc.write_text(rcc.read_text().replace("GeneRLF,NS_Contexture_Demo_Immune_C0001", "GeneRLF,NS_Other"))
    scans = case.table("pet/scans.tsv")
    scans.loc[int(np.flatnonzero(scans["timepoint"] == "on_treatment")[0]), "scan_day"] = "-1"
    case.write("pet/scans.tsv", scans)
    case.path("ihc/" + case.table("ihc/slides.tsv")["cells"].iloc[0]).unlink()
    # The patient whose clinical row was overwritten is now unknown in each table naming it.
    sheets = ["recist/recist.tsv", "nanostring/samples.tsv", "pet/scans.tsv", "ihc/slides.tsv"]
    unknown = sum(lost in set(case.table(sheet)["patient_id"]) for sheet in sheets)
    output = case.run()
    assert_names(
        output,
        f"{5 + unknown} problem(s) in the inputs of cohort 'trial'",
        f"{lost} (row ",
        "clinical.tsv, row 3 (line 4), column 'patient_id'",
        "column 'diameter_mm'",
        f"{rcc.name}', <Sample_Attributes> GeneRLF",
        "column 'scan_day'",
        "column 'cells'",
    )


def test_clean_inputs_pass_validation_with_checksums(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical", "recist", "nanostring", "pet", "ihc")
    config = {"cohorts": {COHORT: case.cohort}}
    run_snakemake(tmp_path, config, f"results/{COHORT}/validation/inputs.tsv")
    table = pd.read_csv(tmp_path / f"results/{COHORT}/validation/inputs.tsv", sep="\t")
    assert set(table["status"]) == {"ok"}
    expected = checksums(case.inputs)
    recorded = {
        str(Path(os.path.relpath(tmp_path / f, case.inputs))): digest
        for f, digest in zip(table["file"], table["sha256"], strict=True)
    }
    assert recorded == expected  # every input file is listed, with its SHA-256
    assert table.loc[table["kind"] == "clinical table", "rows"].item() == len(case.table("clinical.tsv"))
