"""The signatures stage's report captions: paired n, the tests' p and the correlation counts."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.signatures.captions import FACTS


def _facts(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)


def test_signature_changes_state_paired_n_and_both_tests(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "signature": ["immunosign_21"] * 4,
                "patient_id": ["P1", "P2", "P3", "P4"],
                "baseline": [1.0, 2.0, 3.0, 4.0],
                "on_treatment": [1.5, None, 2.5, 5.0],
                "response": ["responder", "responder", "non_responder", "responder"],
            }
        ),
        tmp_path / "figures/signature_changes_by_response.source.tsv",
    )
    write_table(
        pd.DataFrame(
            {
                "feature_type": ["signature", "signature", "gene"],
                "feature": ["immunosign_21", "immunosign_21", "immunosign_21"],
                "comparison": ["all", "responder_vs_non_responder", "all"],
                "p": [0.0312, 0.5, 0.9],
            }
        ),
        tmp_path / "tables/expression_changes.tsv",
    )
    title, summary = _facts(tmp_path, "signature_changes_by_response.png")
    assert title == "Signature scores before and after treatment by response"
    assert summary == (
        "immunosign_21: n = 3 paired patients (responder 2, non_responder 1); "
        "Wilcoxon signed-rank (all) p = 0.031; Mann-Whitney U (responder vs non responder) p = 0.5"
    )


def test_correlations_count_pairs_and_name_the_strongest(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "gene": ["CXCL9", "CXCL10", "IL15"],
                "tcell_gene": ["CD8A", "CD8A", "CD3E"],
                "rho": [0.41, -0.83, 0.2],
                "p": [0.04, 0.00002, 0.3],
                "q": [0.06, 0.0001, 0.3],
                "n": [20, 20, 19],
            }
        ),
        tmp_path / "tables/expression_correlations.tsv",
    )
    expected = (
        "Chemokine and cytokine vs T-cell gene correlations",
        "n = 20 baseline samples, 3 gene pairs; Spearman rho, Benjamini-Hochberg q < 0.05 for 1 pairs; "
        "strongest CXCL10-CD8A rho = -0.83, p < 0.0001",
    )
    assert _facts(tmp_path, "expression_correlations.tsv") == expected
    assert _facts(tmp_path, "chemokine_tcell_correlations.png") == expected


def test_scores_changes_and_heatmap_counts(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "sample_id": ["s1", "s1", "s2", "s2", "s3", "s3"],
                "patient_id": ["P1", "P1", "P1", "P1", "P2", "P2"],
                "signature": ["a", "b"] * 3,
            }
        ),
        tmp_path / "tables/signature_scores.tsv",
    )
    write_table(
        pd.DataFrame(
            {
                "feature": ["a", "a", "CD8A"],
                "comparison": ["all", "responder_vs_non_responder", "all"],
                "n": [7, 7, 6],
                "q": [0.01, 0.2, 0.04],
            }
        ),
        tmp_path / "tables/expression_changes.tsv",
    )
    write_table(
        pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "gene": ["CD8A", "GZMB", "CD8A"]}),
        tmp_path / "figures/immune_genes_baseline_heatmap.source.tsv",
    )
    assert _facts(tmp_path, "signature_scores.tsv")[1] == "n = 3 samples of 2 patients, 2 signatures"
    assert _facts(tmp_path, "expression_changes.tsv")[1] == (
        "n = 7 paired patients, 2 features; Wilcoxon signed-rank within groups, Mann-Whitney U between; "
        "2 tests with BH q < 0.05"
    )
    assert _facts(tmp_path, "immune_genes_baseline_heatmap.png")[1] == "n = 2 patients, 2 genes (z-scores; no test)"
