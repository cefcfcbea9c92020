"""Real snakemake runs of the toxicity analysis (rule response_toxicity) on the `small` demo cohort."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from contexture.toxicity.analysis import COLUMNS
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def _expected_mann_whitney(patients: pd.DataFrame, severe_grade: float):
    graded = patients["irae_grade_max"].notna()
    severe = patients["irae_grade_max"] >= severe_grade
    marker = patients["pet_geomean_suvmax_baseline"]
    x, y = marker[severe].dropna(), marker[graded & ~severe].dropna()
    # Both groups < 50, no ties: R's wilcox.test is exact, as scipy's method="exact".
    return x, y, mannwhitneyu(x, y, alternative="two-sided", method="exact")


def _check_row(table: pd.DataFrame, x, y, expected) -> None:
    row = table[(table["biomarker"] == "pet_geomean_suvmax_baseline") & (table["test"] == "mann_whitney")].iloc[0]
    assert row["toxicity"] == "irae_grade_max"
    assert (row["n_severe"], row["n_other"]) == (len(x), len(y))
    assert row["statistic"] == expected.statistic
    assert row["p"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert row["q"] >= row["p"]


def test_toxicity_table_of_the_demo_run(demo_run):
    out = demo_run / "results/small"
    table = pd.read_csv(out / "tables/toxicity.tsv", sep="\t")
    assert list(table.columns) == COLUMNS
    patients = pd.read_csv(out / "tables/patients.tsv", sep="\t")
    x, y, expected = _expected_mann_whitney(patients, 3)
    if len(x) < 2:  # seed 7 draws a single grade >= 3 irAE: the rule skips cleanly
        assert table.empty
        log = (out / "logs/response_toxicity.log").read_text()
        assert f"{len(x)} patient(s) with grade >= 3" in log and "header-only" in log
    else:
        _check_row(table, x, y, expected)
    # The demo's reference regions are aorta and muscle, and it has no organ column: no organ rows.
    assert (table["test"] != "uptake_change_mann_whitney").all()
    assert (out / "figures/toxicity_biomarkers.png").is_file()


def test_toxicity_rule_with_grade_2_and_a_thyroid_region(demo_run, tmp_path):
    """Re-run only response_toxicity on the demo run's tables, with severe = grade >= 2 and a
    hand-added thyroid reference region and irAE organ column (the demo simulates neither)."""
    source = demo_run / "results/small"
    target = tmp_path / "results/small"
    (target / "tables").mkdir(parents=True)
    (target / "pet").mkdir()
    patients = pd.read_csv(source / "tables/patients.tsv", sep="\t")
    thyroiditis = patients["patient_id"].isin(patients["patient_id"].iloc[:4])
    patients["irae_organ"] = np.where(thyroiditis, "thyroid", "")
    patients.to_csv(target / "tables/patients.tsv", sep="\t", index=False)
    regions = pd.read_csv(source / "pet/reference_regions.tsv", sep="\t")
    thyroid = regions[regions["region"] == "aorta"].copy()
    thyroid["region"] = "thyroid"
    bump = thyroid["patient_id"].isin(patients.loc[thyroiditis, "patient_id"]) & (
        thyroid["timepoint"] == "on_treatment"
    )
    thyroid.loc[bump, "suvmean"] *= 1.5
    pd.concat([regions, thyroid]).to_csv(target / "pet/reference_regions.tsv", sep="\t", index=False)
    config = {
        "cohorts": {"small": {"simulate": {"patients": 24, "seed": 7}, "response": {"toxicity": {"severe_grade": 2}}}}
    }
    run_snakemake(tmp_path, config, "results/small/tables/toxicity.tsv", "--allowed-rules", "response_toxicity")
    table = pd.read_csv(target / "tables/toxicity.tsv", sep="\t")
    x, y, expected = _expected_mann_whitney(patients, 2)
    assert len(x) >= 2
    _check_row(table, x, y, expected)
    organ = table[table["test"] == "uptake_change_mann_whitney"]
    assert organ["toxicity"].tolist() == ["irae_organ:thyroid"]
    changes = pd.read_csv(target / "response/toxicity_organ_uptake_change.tsv", sep="\t")
    base = thyroid[thyroid["timepoint"] == "baseline"].set_index("patient_id")["suvmean"]
    on = thyroid[thyroid["timepoint"] == "on_treatment"].groupby("patient_id")["suvmean"].first()
    pct = (100 * (on - base) / base).dropna()
    np.testing.assert_allclose(changes.set_index("patient_id")["pct_change"].reindex(pct.index), pct, rtol=1e-9)
    irae = pct.index.isin(patients.loc[thyroiditis, "patient_id"])
    expected_organ = mannwhitneyu(pct[irae], pct[~irae], alternative="two-sided", method="exact")
    assert organ["p"].iloc[0] == pytest.approx(expected_organ.pvalue, rel=1e-9)
    assert (organ["n_severe"].iloc[0], organ["n_other"].iloc[0]) == (irae.sum(), (~irae).sum())
