"""Real snakemake runs of the IHC stage: demo phenotypes recovered, PET rule, bad input."""

import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_demo_phenotypes_equal_the_truth(demo_run):
    results = demo_run / "results/small"
    slides = pd.read_csv(results / "tables/ihc_slides.tsv", sep="\t")
    truth = pd.read_csv(results / "raw/truth/patients.tsv", sep="\t")
    merged = slides.merge(
        truth[["patient_id", "ihc_phenotype", "has_biopsy"]], on="patient_id", suffixes=("", "_truth")
    )
    assert len(merged) == len(slides) > 0
    assert merged["has_biopsy"].all()
    # Tolerance: every slide (the simulator separates phenotypes by design; 100 %
    # agreement expected, we allow at most one slide in 20 to differ).
    agreement = (merged["ihc_phenotype"] == merged["ihc_phenotype_truth"]).mean()
    assert agreement >= 0.95, merged.loc[merged["ihc_phenotype"] != merged["ihc_phenotype_truth"]]
    assert set(slides["immunoscore"].dropna()) <= {"Low", "Intermediate", "High"}
    assert slides["immunoscore_percentile"].between(0, 100).all()
    assert (slides["cd8_near_tumor_fraction"].between(0, 1)).all()


def test_patient_table_gets_baseline_ihc_features(demo_run):
    results = demo_run / "results/small"
    patients = pd.read_csv(results / "tables/patients.tsv", sep="\t")
    slides = pd.read_csv(results / "tables/ihc_slides.tsv", sep="\t")
    baseline = slides[slides["timepoint"] == "baseline"].set_index("patient_id")
    with_ihc = patients.dropna(subset=["ihc_phenotype"]).set_index("patient_id")
    assert set(with_ihc.index) == set(baseline.index)
    np.testing.assert_allclose(with_ihc["cd8_density_tumor"], baseline.loc[with_ihc.index, "cd8_density_tumor"])
    assert (with_ihc["immunoscore"] == baseline.loc[with_ihc.index, "immunoscore"]).all()
    for figure in ("ihc_cd8_density_by_phenotype", "ihc_immunoscore_distribution", "ihc_cell_map"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 0
        assert (results / "figures" / f"{figure}.source.tsv").exists()


def test_pet_correlation_rule_once_lesions_exist(tmp_path):
    """PET lands from another stage: stand in its tables/lesions.tsv and run the rule."""
    config = {"cohorts": {"small": {"simulate": {"patients": 12, "seed": 7, "modalities": ["clinical", "ihc"]}}}}
    run_snakemake(tmp_path, config, "results/small/raw/truth/lesions.tsv")
    truth = pd.read_csv(tmp_path / "results/small/raw/truth/lesions.tsv", sep="\t")
    lesions = truth.assign(suvmean=truth["suvmax"] * 0.6, suvpeak=truth["suvmax"] * 0.8)
    (tmp_path / "results/small/tables").mkdir(parents=True, exist_ok=True)
    lesions.to_csv(tmp_path / "results/small/tables/lesions.tsv", sep="\t", index=False)
    run_snakemake(tmp_path, config, "results/small/tables/ihc_pet_correlation.tsv")
    table = pd.read_csv(tmp_path / "results/small/tables/ihc_pet_correlation.tsv", sep="\t")
    slides = pd.read_csv(tmp_path / "results/small/tables/ihc_slides.tsv", sep="\t")
    # Per timepoint, never pooled; irradiated lesions left out and counted.
    assert "all" not in set(table["timepoint"])
    rows = table[table["density"] == "cd8_density_tumor"].set_index("timepoint")
    paired = slides[slides["lesion_id"].notna()].merge(
        lesions[["patient_id", "lesion_id", "timepoint", "irradiated"]], on=["patient_id", "lesion_id", "timepoint"]
    )
    for timepoint, group in paired.groupby("timepoint"):
        row = rows.loc[timepoint]
        assert row["n"] == (~group["irradiated"]).sum() and row["n_irradiated_excluded"] == group["irradiated"].sum()
        assert row["n_patients"] == group.loc[~group["irradiated"], "patient_id"].nunique()
    baseline = rows.loc["baseline"]
    assert baseline["method"].startswith("Kendall tau-b; 95% CI percentile bootstrap of patients")
    assert baseline["ci_low"] <= baseline["tau"] <= baseline["ci_high"]
    assert (tmp_path / "results/small/figures/ihc_suvmax_vs_cd8_density.png").exists()


def test_unknown_cell_class_stops_the_run(tmp_path, demo_run):
    """A real cohort whose export has a class the config does not know: clear error."""
    raw = demo_run / "results/small/raw"
    inputs = tmp_path / "inputs"
    shutil.copytree(raw / "ihc", inputs / "ihc")
    shutil.copy(raw / "clinical.tsv", inputs / "clinical.tsv")
    sheet = pd.read_csv(inputs / "ihc/slides.tsv", sep="\t")
    bad = inputs / "ihc" / sheet["cells"].iloc[0]
    cells = pd.read_csv(bad, sep="\t")
    cells.loc[3, "Class"] = "CD20"
    cells.to_csv(bad, sep="\t", index=False)
    before = bad.read_bytes()
    config = {
        "cohorts": {
            "trial": {"clinical": str(inputs / "clinical.tsv"), "ihc": {"slides": str(inputs / "ihc/slides.tsv")}}
        }
    }
    result = run_snakemake(tmp_path, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(bad) in output and "column 'Class': unknown cell class(es) ['CD20']" in output
    assert bad.read_bytes() == before
