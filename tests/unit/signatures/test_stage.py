"""The signatures stage's entry points: paired score table, heat-map ordering, Immunosign check."""

import numpy as np
import pandas as pd
import pytest

from contexture.errors import ConfigError
from contexture.signatures import PAIR_COLUMNS, baseline_heatmap, paired_changes_table, score_cohort


def _samples():
    # P1: two baseline replicates and one on-treatment sample; P2 both; P3 baseline only.
    return pd.DataFrame(
        {
            "sample_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
            "patient_id": ["P1", "P1", "P1", "P2", "P2", "P3"],
            "timepoint": ["baseline", "baseline", "on_treatment", "baseline", "on_treatment", "baseline"],
        }
    )


def _scores():
    rows = []
    for signature, values in (("sigB", [1.0, 3.0, 5.0, 2.0, 4.0, 9.0]), ("sigA", [0.0, 0.0, 1.0, -1.0, 1.0, 0.5])):
        for sample, value in zip(_samples()["sample_id"], values, strict=True):
            rows.append({"signature": signature, "sample_id": sample, "score": value})
    return pd.DataFrame(rows)


def test_paired_changes_table_by_hand():
    response = pd.Series({"P1": "responder"})
    pairs = paired_changes_table(_scores(), _samples(), response, pre="baseline", post="on_treatment")
    assert list(pairs.columns) == PAIR_COLUMNS
    expected = pd.DataFrame(
        [
            # P1 baseline: mean of replicates (1 + 3) / 2 = 2; P3 has no on-treatment sample.
            ["sigB", "P1", "responder", 2.0, 5.0],
            ["sigB", "P2", "unknown", 2.0, 4.0],
            ["sigA", "P1", "responder", 0.0, 1.0],
            ["sigA", "P2", "unknown", -1.0, 1.0],
        ],
        columns=PAIR_COLUMNS,
    )
    pd.testing.assert_frame_equal(pairs, expected)


def test_paired_changes_table_other_timepoints_and_no_response():
    # pre = on_treatment, post = baseline: "baseline" holds the pre score, whatever its name.
    pairs = paired_changes_table(_scores(), _samples(), None, pre="on_treatment", post="baseline")
    first = pairs.iloc[0]
    assert (first["signature"], first["patient_id"], first["baseline"], first["on_treatment"]) == (
        "sigB",
        "P1",
        5.0,
        2.0,
    )
    assert set(pairs["response"]) == {"unknown"}
    empty = paired_changes_table(_scores().iloc[0:0], _samples(), None, pre="baseline", post="on_treatment")
    assert list(empty.columns) == PAIR_COLUMNS and empty.empty


def test_baseline_heatmap_orders_patients_by_immunosign_else_first_signature():
    expression = pd.DataFrame(
        np.arange(12, dtype=float).reshape(2, 6) ** 1.5, index=["G1", "G2"], columns=_samples()["sample_id"]
    )
    genes = pd.DataFrame({"gene": ["G2", "ABSENT", "G1"], "category": ""})
    for immunosign, label, order in (("sigA", "sigA", ["P2", "P1", "P3"]), ("missing", "sigB", ["P1", "P2", "P3"])):
        fig, source = baseline_heatmap(expression, _samples(), _scores(), None, genes, immunosign=immunosign)
        # sigA baseline: P1 0, P2 -1, P3 0.5; sigB baseline: P1 2, P2 2, P3 9 (stable order).
        assert list(dict.fromkeys(source["patient_id"])) == order
        assert list(dict.fromkeys(source["gene"])) == ["G2", "G1"]
        assert fig.axes[0].get_ylabel() == label
        fig.clf()


def test_score_cohort_refuses_an_immunosign_that_is_not_scored():
    with pytest.raises(ConfigError, match="not among signatures.use"):
        score_cohort(
            pd.DataFrame(),
            _samples(),
            [],
            immunosign="immunosign21",
            min_gene_fraction=0.8,
            on_insufficient="skip",
            low_quantile=0.25,
            log_base=2.0,
        )
