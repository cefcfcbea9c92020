"""Signatures and paired changes with several NanoString runs (hand-computed values)."""

import numpy as np
import pandas as pd

from contexture.signatures.expression import cross_run_patients, paired_changes, patient_means
from contexture.signatures.scores import patient_features, patient_run_choice

# Two runs; P1 paired in A, P2 paired in B, P3 baseline in A and on-treatment in B (across runs),
# P4 paired in both runs (A first in run order).
SAMPLES = pd.DataFrame(
    [
        ("a1", "P1", "baseline", "A"),
        ("a2", "P1", "on_treatment", "A"),
        ("a3", "P3", "baseline", "A"),
        ("a4", "P4", "baseline", "A"),
        ("a5", "P4", "on_treatment", "A"),
        ("b1", "P2", "baseline", "B"),
        ("b2", "P2", "on_treatment", "B"),
        ("b3", "P3", "on_treatment", "B"),
        ("b4", "P4", "baseline", "B"),
        ("b5", "P4", "on_treatment", "B"),
    ],
    columns=["sample_id", "patient_id", "timepoint", "run"],
)
# g1 on both panels, g2 only on run B's (empty in A's samples).
VALUES = pd.DataFrame(
    {
        "a1": [1.0, np.nan], "a2": [3.0, np.nan], "a3": [5.0, np.nan], "a4": [2.0, np.nan], "a5": [2.5, np.nan],
        "b1": [10.0, 1.0], "b2": [14.0, 2.0], "b3": [20.0, 3.0], "b4": [7.0, 4.0], "b5": [9.0, 8.0],
    },
    index=["g1", "g2"],
)  # fmt: skip


def test_pairs_are_formed_within_one_run_and_the_first_run_wins():
    changes = paired_changes(VALUES, SAMPLES)
    assert list(changes.columns) == ["P1", "P2", "P4"]  # P3 crosses runs: no pair
    assert changes.loc["g1"].tolist() == [2.0, 4.0, 0.5]  # P4 from run A (first), not B's 2.0
    assert changes.loc["g2", "P1"] != changes.loc["g2", "P1"]  # g2 not on run A: no P1 change
    assert changes.loc["g2", ["P2", "P4"]].tolist() == [1.0, 4.0]  # P4's g2 pair only in run B
    assert cross_run_patients(SAMPLES, "baseline", "on_treatment") == ["P3"]


def test_one_timepoint_takes_the_first_run_never_the_mean():
    means = patient_means(VALUES, SAMPLES, "baseline")
    assert means.loc["g1"].to_dict() == {"P1": 1.0, "P2": 10.0, "P3": 5.0, "P4": 2.0}  # P4: A's 2, not (2 + 7) / 2
    assert means.loc["g2", "P4"] == 4.0 and np.isnan(means.loc["g2", "P1"])
    # Without a run column: one run, the old mean.
    single = patient_means(VALUES[["a4", "b4"]], SAMPLES.drop(columns="run").iloc[[3, 8]], "baseline")
    assert single.loc["g1", "P4"] == 4.5


def test_patient_baseline_from_the_run_with_most_genes_then_run_order():
    scores = pd.DataFrame(
        [
            ("a1", "P1", "baseline", "A", "sig", 1.0),
            ("b1", "P1", "baseline", "B", "sig", 5.0),
            ("b2", "P2", "baseline", "B", "sig", 6.0),
            ("a3", "P3", "baseline", "A", "sig", 2.0),
            ("a4", "P3", "baseline", "A", "sig", 4.0),
        ],
        columns=["sample_id", "patient_id", "timepoint", "run", "signature", "score"],
    )
    more_in_b = pd.DataFrame({"run": ["A", "B"], "signature": ["sig", "sig"], "n_present": [4, 6]})
    tied = more_in_b.assign(n_present=[6, 6])
    assert patient_run_choice(scores, "sig", more_in_b).set_index("patient_id")["run"].to_dict() == {
        "P1": "B",
        "P2": "B",
        "P3": "A",
    }
    choice = patient_run_choice(scores, "sig", tied).set_index("patient_id")
    assert choice["run"].to_dict() == {"P1": "A", "P2": "B", "P3": "A"}  # tie: run A comes first
    assert choice.loc["P3", "score"] == 3.0  # mean of P3's two baseline samples in run A
    features = patient_features(scores, "sig", 0.25, coverage=tied).set_index("patient_id")
    assert features["immunosign_run"].to_dict() == {"P1": "A", "P2": "B", "P3": "A"}
    assert features["immunosign_score"].to_dict() == {"P1": 1.0, "P2": 6.0, "P3": 3.0}
    # High/low against the patient's run's own cut: A's baseline patients {P1: 1, P3: 3} -> type-7 q25 = 1.5;
    # B's {P1: 5, P2: 6} -> 5.25.
    assert features["immunosign_high"].tolist() == [False, True, True]


def test_a_run_without_a_sample_sheet_gives_no_nan_patient(caplog):
    """Item 9 with runs: run B has no sheet; its samples stand alone, scored on B's genes."""
    from contexture.signatures import score_cohort
    from contexture.signatures.scores import read_signature, signature_path

    samples = pd.DataFrame(
        {
            "sample_id": ["a1", "a2", "b1", "b2"],
            "patient_id": ["P1", "P2", None, None],
            "timepoint": ["baseline", "baseline", None, None],
            "run": ["A", "A", "B", "B"],
        }
    )
    expression = pd.DataFrame(
        {"a1": [1.0, 3.0], "a2": [2.0, 6.0], "b1": [4.0, 8.0], "b2": [5.0, 7.0]}, index=["GZMA", "PRF1"]
    )
    result = score_cohort(
        expression,
        samples,
        [read_signature(signature_path("cyt"))],
        immunosign="cyt",
        min_gene_fraction=0.8,
        on_insufficient="skip",
        low_quantile=0.25,
        log_base=10,
    )
    scores = result.scores.set_index("sample_id")
    assert scores["score"].to_dict() == {"a1": 2.0, "a2": 4.0, "b1": 6.0, "b2": 6.0}  # mean of the two log2 values
    assert scores["run"].to_dict() == {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    assert scores.loc[["b1", "b2"], "patient_id"].isna().all() and scores.loc[["b1", "b2"], "group"].isna().all()
    assert result.features["patient_id"].tolist() == ["P1", "P2"]  # no "nan" patient
    assert result.features["immunosign_run"].tolist() == ["A", "A"]
    assert result.coverage["run"].tolist() == ["A", "B"]
    assert "2 of 4 samples have no patient" in caplog.text
