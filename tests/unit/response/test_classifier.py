"""Response classifier: null simulation gives AUC ~ 0.5, a real signal is found, skips cleanly."""

import numpy as np
import pandas as pd
import pytest

from contexture.response.classifier import evaluate_classifier


def cohort(n, signal, seed, features=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = rng.random(n) < 1 / (1 + np.exp(-signal * x[:, 0]))
    frame = pd.DataFrame(x, columns=[f"f{k}" for k in range(features)])
    frame["responder"] = y
    return frame


def test_null_simulation_auc_near_half():
    # No association: the cross-validated AUC must be ~0.5 (no leakage inflates it).
    table, _ = evaluate_classifier(
        cohort(120, 0.0, 1, features=10), [f"f{k}" for k in range(10)], repeats=3, permutations=30, bootstrap=300
    )
    row = table.set_index("analysis").loc["cv_auc"]
    assert row["estimate"] == pytest.approx(0.5, abs=0.1)
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["p"] > 0.05


def test_signal_is_recovered_and_univariable_aucs():
    table, roc = evaluate_classifier(cohort(150, 2.0, 2), ["f0", "f1", "f2"], repeats=3, permutations=20, bootstrap=300)
    indexed = table.set_index(["analysis", "term"])
    auc = indexed.xs("cv_auc", level="analysis").iloc[0]
    assert auc["estimate"] > 0.75 and auc["p"] == pytest.approx(1 / 21)
    assert indexed.loc[("univariable_auc", "f0"), "estimate"] > 0.75
    assert indexed.loc[("univariable_auc", "f1"), "estimate"] == pytest.approx(0.5, abs=0.12)
    assert roc["true_positive_rate"].iloc[-1] == 1.0


def test_loocv_for_small_cohorts():
    table, _ = evaluate_classifier(cohort(24, 3.0, 3), ["f0", "f1"], permutations=10, bootstrap=100, min_per_class=3)
    assert "leave-one-out" in table.loc[table["analysis"] == "cv_auc", "method"].iloc[0]


def test_skips_with_too_few_features_or_patients():
    table, roc = evaluate_classifier(cohort(40, 1.0, 4), ["f0", "missing"])
    assert table["analysis"].tolist() == ["skipped"] and roc.empty
    frame = cohort(40, 1.0, 4)
    frame["responder"] = [True] * 37 + [False] * 3
    table, _ = evaluate_classifier(frame, ["f0", "f1"])
    assert table["analysis"].tolist() == ["skipped"] and "3 non-responders" in table["note"].iloc[0]
