"""Real snakemake runs of the NanoString stage: demo outputs, and bad RCC input stops the run."""

import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake
from tests.unit.nanostring.test_nanostring_rcc import CODE_LINES, rcc_text

pytestmark = pytest.mark.workflow

FIGURES = (
    "nanostring_binding_density",
    "nanostring_imaging",
    "nanostring_positive_control_linearity",
    "nanostring_normalization_factors",
    "nanostring_relative_log_expression",
)


def test_demo_writes_tables_and_figures(demo_run):
    out = demo_run / "results/small/nanostring"
    raw = pd.read_csv(out / "raw_counts.tsv", sep="\t")
    lanes = pd.read_csv(out / "lanes.tsv", sep="\t")
    normalized = pd.read_csv(out / "normalized.tsv", sep="\t")
    samples = pd.read_csv(out / "samples.tsv", sep="\t")
    sheet = pd.read_csv(demo_run / "results/small/raw/nanostring/samples.tsv", sep="\t")
    truth = __import__("yaml").safe_load((demo_run / "results/small/raw/nanostring/truth.yaml").read_text())

    assert list(raw.columns[:3]) == ["code_class", "name", "accession"]
    sample_ids = sorted(sheet["sample_id"])
    assert list(raw.columns[3:]) == sample_ids
    assert all(pd.api.types.is_integer_dtype(raw[c]) for c in sample_ids)
    assert list(samples.columns) == [
        "sample_id",
        "run",
        "patient_id",
        "timepoint",
        "batch",
        "file",
        "qc_pass",
        "included",
    ]
    assert set(samples["run"]) == {"run1"}  # a simulated cohort is one run
    assert samples["sample_id"].tolist() == sample_ids
    # The designed failures, and only they, fail QC and are excluded downstream.
    failed = set(lanes.loc[~lanes["qc_pass"], "sample_id"])
    assert failed == set(truth["failed_lanes"])
    for sample, reason in truth["failed_lanes"].items():
        assert lanes.set_index("sample_id").loc[sample, f"flag_{reason}"]
    assert normalized.columns[0] == "name"
    assert list(normalized.columns[1:]) == [s for s in sample_ids if s not in failed]
    assert {"pos_factor", "hk_factor", "fov_ratio", "positive_linearity_r2", "lod_threshold"} <= set(lanes.columns)
    # Normalized = log2(raw * pos_factor * hk_factor), floored at 0, for a passing lane.
    sample = normalized.columns[1]
    lane = lanes.set_index("sample_id").loc[sample]
    genes = raw[~raw["code_class"].isin(["Positive", "Negative"])].set_index("name")[sample]
    expected = np.log2(np.maximum(genes * lane["pos_factor"] * lane["hk_factor"], 1))
    np.testing.assert_allclose(normalized.set_index("name")[sample], expected.loc[normalized["name"]], rtol=1e-8)
    figures = demo_run / "results/small/figures"
    for name in FIGURES:
        for suffix in (".png", ".pdf", ".source.tsv"):
            assert (figures / f"{name}{suffix}").stat().st_size > 0, name + suffix


def _real_cohort(tmp_path, files):
    folder = tmp_path / "inputs" / "rcc"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return {"cohorts": {"trial": {"nanostring": {"rcc": str(folder)}}}}, folder


def test_real_cohort_without_sample_sheet(tmp_path):
    lines = CODE_LINES[:1]
    cyt = ["Endogenous,GZMA,NM_006144.2,400", "Endogenous,PRF1,NM_005041.3,1600"]
    files = {
        f"lane{i}.RCC": rcc_text([lines[0].replace(",812", f",{800 + i}"), *cyt, *CODE_LINES[1:]], lane=str(i))
        for i in range(1, 4)
    }  # distinct counts: identical files are refused as copies of one lane
    config, _ = _real_cohort(tmp_path, files)
    config["cohorts"]["trial"]["signatures"] = {"use": ["cyt"], "immunosign": "cyt"}
    run_snakemake(tmp_path, config)
    out = tmp_path / "results/trial"
    samples = pd.read_csv(out / "nanostring/samples.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert samples["sample_id"].tolist() == ["lane1", "lane2", "lane3"]
    assert samples["included"].all() and samples["patient_id"].isna().all()
    # Sample IDs stand alone: scores per sample, no patient, and no "nan" patient anywhere.
    scores = pd.read_csv(out / "tables/signature_scores.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert scores["sample_id"].tolist() == ["lane1", "lane2", "lane3"] and scores["patient_id"].isna().all()
    assert scores["group"].isna().all()  # no baseline: no high/low cut
    features = pd.read_csv(out / "signatures/patient_features.tsv", sep="\t", keep_default_na=False)
    assert features.empty and "immunosign_score" in features.columns
    for table in ("tables/patients.tsv", "signatures/patient_features.tsv", "tables/signature_scores.tsv"):
        assert "nan" not in (out / table).read_text().split(), table
    log = (out / "logs/signature_scores.log").read_text()
    assert "3 of 3 samples have no patient" in log and "left out of the patient-level features" in log
    assert "no sample has a timepoint" in log


def test_truncated_rcc_stops_the_run_and_writes_nothing(tmp_path):
    files = {"good.RCC": rcc_text(), "cut.RCC": rcc_text().split("Positive,POS_C")[0]}
    config, folder = _real_cohort(tmp_path, files)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = run_snakemake(tmp_path, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cut.RCC" in output and "line 26" in output and "truncated" in output
    assert not list((tmp_path / "results/trial").glob("nanostring/*.tsv"))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    shutil.rmtree(tmp_path / "results", ignore_errors=True)


def test_real_rlf_without_name_reads_with_no_other_config(tmp_path, shared_fixtures):
    folder = shared_fixtures / "nanostring" / "nctools_3d_rlf"
    if not folder.is_dir():
        pytest.skip("nctools_3d_rlf fixture absent")
    config = {"cohorts": {"cells": {"nanostring": {"rcc": str(folder), "rlf": str(folder / "3D_SolidTumor_Sig.rlf")}}}}
    run_snakemake(tmp_path, config, "results/cells/nanostring/lanes.tsv")
    lanes = pd.read_csv(tmp_path / "results/cells/nanostring/lanes.tsv", sep="\t")
    assert len(lanes) == 12 and set(lanes["gene_rlf"]) == {"3D_SolidTumor_Sig"}
