"""The signatures stage in the real demo run (needs the nanostring stage's outputs)."""

import numpy as np
import pandas as pd
import pytest

from contexture.signatures.scores import quantile_type7

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def results(demo_run):
    folder = demo_run / "results" / "small"
    if not (folder / "nanostring" / "normalized.tsv").exists():
        pytest.skip("no nanostring/normalized.tsv in the demo run: the nanostring stage is not part of this branch")
    return folder


def read(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def test_scores_table_follows_the_contract_and_the_25th_percentile_cut(results):
    scores = read(results / "tables/signature_scores.tsv")
    assert list(scores.columns) == [
        "sample_id",
        "patient_id",
        "timepoint",
        "run",
        "signature",
        "score",
        "fraction_below_lod",
        "flag_below_lod",
        "group",
    ]
    # Every score knows its share of genes at background; flagged above the default 30 %.
    assert scores["fraction_below_lod"].between(0, 1).all()
    assert (scores["flag_below_lod"] == (scores["fraction_below_lod"] > 0.3)).all()
    assert {"immunosign21_proxy", "cyt"} <= set(scores["signature"])
    coverage = read(results / "tables/signature_coverage.tsv").set_index("signature")
    for signature, rows in scores.groupby("signature"):
        baseline = rows[rows["timepoint"] == "baseline"].groupby("patient_id")["score"].mean()
        cut = quantile_type7(baseline, 0.25)
        assert coverage.loc[signature, "low_cut"] == pytest.approx(cut, rel=1e-9)
        assert (rows["group"] == np.where(rows["score"] < cut, "low", "high")).all()
    # every configured signature is either scored or skipped with its missing genes named
    for signature, row in coverage.iterrows():
        assert row["status"] in {"complete", "partial", "skipped"}
        if row["status"] == "skipped":
            assert signature not in set(scores["signature"]) and row["missing_genes"] in row["message"].replace(
                ", ", ","
            )


def test_patient_table_gets_the_baseline_immunosign_columns(results):
    patients = read(results / "tables/patients.tsv")
    scores = read(results / "tables/signature_scores.tsv")
    baseline = scores[(scores["signature"] == "immunosign21_proxy") & (scores["timepoint"] == "baseline")]
    expected = baseline.groupby("patient_id")["score"].mean()
    merged = patients.set_index("patient_id").loc[expected.index]
    np.testing.assert_allclose(merged["immunosign_score"], expected, rtol=1e-9)
    cut = quantile_type7(expected, 0.25)
    assert (merged["immunosign_high"].astype(bool) == (expected >= cut)).all()


def test_changes_correlations_and_figures_are_written(results):
    changes = read(results / "tables/expression_changes.tsv")
    assert {"gene", "signature"} == set(changes["feature_type"])
    assert changes["q"].dropna().between(0, 1).all()
    patients = read(results / "tables/patients.tsv")
    if "responder" in patients.columns and patients["responder"].notna().any():
        assert "responder_vs_non_responder" in set(changes["comparison"])
    correlations = read(results / "tables/expression_correlations.tsv")
    assert {"CD3E", "CD8A", "GZMA"} <= set(correlations["tcell_gene"])
    assert correlations["rho"].dropna().between(-1, 1).all()
    for name in ("signature_changes_by_response", "immune_genes_baseline_heatmap", "chemokine_tcell_correlations"):
        for ext in (".png", ".pdf", ".source.tsv"):
            assert (results / "figures" / f"{name}{ext}").stat().st_size > 0
