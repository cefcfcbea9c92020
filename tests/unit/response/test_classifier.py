"""Response classifier: equal to scikit-learn's fit, centred at 0.5 on noise, finds a signal, skips cleanly."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from contexture.response.classifier import (
    auc_rows,
    evaluate_classifier,
    fit_penalized_logistic,
    repeated_cv_auc,
    stratified_fold_ids,
    training_medians,
)


def cohort(n, signal, seed, features=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = rng.random(n) < 1 / (1 + np.exp(-signal * x[:, 0]))
    frame = pd.DataFrame(x, columns=[f"f{k}" for k in range(features)])
    frame["responder"] = y
    return frame


def test_batched_fit_equals_scikit_learn_pipeline():
    # Reference: Pipeline(SimpleImputer("median"), StandardScaler(), LogisticRegression(C, tol=1e-12))
    # fitted on the training rows; the batched Newton solver must give the same probabilities.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5))
    x[rng.random(x.shape) < 0.15] = np.nan
    y = (rng.random(30) < 0.5).astype(int)
    train = np.ones((2, 30), bool)
    train[0, :6] = False
    train[1, 20:] = False
    predicted = fit_penalized_logistic(np.stack([x, x]), np.stack([y, y]).astype(float), train, 0.7)
    for row in range(2):
        reference = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=0.7, tol=1e-12, max_iter=10_000)),
            ]
        ).fit(x[train[row]], y[train[row]])
        assert predicted[row] == pytest.approx(reference.predict_proba(x)[:, 1], abs=1e-6)


@pytest.mark.parametrize("n", [7, 38, 599, 600, 601, 1000])
def test_training_medians_equal_numpy_nanmedian_bit_for_bit(n):
    # Reference: np.nanmedian over the training rows (its masked path below 600 rows, its
    # per-column path above), with ties, missing values and an all-missing column.
    rng = np.random.default_rng(n)
    for decimals in (0, 1, 3):
        x = np.round(rng.normal(size=(9, n, 4)) * 3, decimals)
        x[rng.random(x.shape) < 0.3] = np.nan
        x[0, :, 1] = np.nan
        train = rng.random((9, n)) < 0.8
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(np.where(train[:, :, None], x, np.nan), axis=1)
        np.testing.assert_array_equal(training_medians(x, train), expected)


@pytest.mark.parametrize("n, folds", [(38, 5), (12, 5), (7, 3), (200, 10), (9, 5)])
def test_stratified_fold_ids_equal_scikit_learn_stratified_k_fold(n, folds):
    # The reference is scikit-learn itself: StratifiedKFold(folds, shuffle=True,
    # random_state=seed).split(X, y), test fold i -> i, for balanced and unbalanced
    # labels (a class smaller than folds included) and labels not starting with 0.
    rng = np.random.default_rng(n)
    for labels in (rng.integers(0, 2, n), (rng.random(n) < 0.2).astype(int), rng.choice([3, 1], n)):
        if np.bincount(labels).max() < folds:
            continue
        seeds = [0, 1, 7, 12345, 2**31 - 1]
        expected = np.empty((len(seeds), n), dtype=int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for r, seed in enumerate(seeds):
                for fold, (_, test) in enumerate(
                    StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros((n, 1)), labels)
                ):
                    expected[r, test] = fold
        np.testing.assert_array_equal(stratified_fold_ids(labels, folds, seeds), expected)


def test_auc_rows_equal_roc_auc_score_with_ties():
    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 10)
    scores = np.round(rng.random((3, 20)), 1)  # ties
    assert auc_rows(y, scores) == pytest.approx([roc_auc_score(y, s) for s in scores])


@pytest.mark.parametrize("n", [20, 28, 40])
def test_null_simulation_mean_auc_is_half(n):
    # Pure noise, 6 features, balanced classes: over 150 simulated cohorts the mean of the
    # per-cohort AUC (mean over 20 repeats of stratified 5-fold CV) is 0.5 within 3 Monte
    # Carlo SEs. Pooled LOOCV gave 0.34 (n = 20) and 0.36 (n = 28) on the same design.
    aucs = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 6))
        y = np.zeros(n, int)
        y[rng.permutation(n)[: n // 2]] = 1
        aucs.append(repeated_cv_auc(x, y, 1.0, 5, list(range(20))).mean())
    standard_error = np.std(aucs, ddof=1) / np.sqrt(len(aucs))
    assert abs(np.mean(aucs) - 0.5) < 3 * standard_error
    assert standard_error < 0.015


@pytest.mark.parametrize("n", [20, 28, 40])
def test_null_cohort_ci_contains_half(n):
    features = [f"f{k}" for k in range(6)]
    table, _ = evaluate_classifier(
        cohort(n, 0.0, n, features=6), features, repeats=10, permutations=20, bootstrap=60, min_per_class=4
    )
    row = table.set_index("analysis").loc["cv_auc"]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["p"] > 0.05
    assert "10 x repeated stratified" in row["method"]


def test_signal_is_recovered_and_univariable_aucs():
    table, roc = evaluate_classifier(cohort(150, 2.0, 2), ["f0", "f1", "f2"], repeats=5, permutations=20, bootstrap=50)
    indexed = table.set_index(["analysis", "term"])
    auc = indexed.xs("cv_auc", level="analysis").iloc[0]
    # The simulated truth's AUC (logit slope 2 on a standard normal; 2e6 draws) is 0.862.
    assert auc["ci_low"] < 0.862 < auc["ci_high"]
    assert auc["p"] == pytest.approx(1 / 21)
    spread = indexed.xs("cv_auc_repeat_range", level="analysis").iloc[0]
    assert spread["ci_low"] <= auc["estimate"] <= spread["ci_high"]
    assert indexed.loc[("univariable_auc", "f0"), "estimate"] > 0.75
    assert indexed.loc[("univariable_auc", "f1"), "estimate"] == pytest.approx(0.5, abs=0.12)
    assert roc["true_positive_rate"].iloc[-1] == 1.0


def test_two_workers_give_the_one_core_table_and_roc():
    """threads=2 refits the bootstrap and permutation replicates in two processes: same bytes."""
    frame, features = cohort(150, 2.0, 2), ["f0", "f1", "f2"]
    options = {"repeats": 5, "permutations": 20, "bootstrap": 50}
    serial = evaluate_classifier(frame, features, **options, threads=1)
    parallel = evaluate_classifier(frame, features, **options, threads=2)
    assert [t.to_csv(sep="\t", index=False) for t in parallel] == [t.to_csv(sep="\t", index=False) for t in serial]
    # And the numbers are the recovered truth of the test above, not merely equal.
    auc = parallel[0].set_index("analysis").loc["cv_auc"]
    assert auc["ci_low"] < 0.862 < auc["ci_high"] and auc["p"] == pytest.approx(1 / 21)


def test_small_cohorts_use_repeated_k_fold_and_shrink_folds_with_a_note():
    frame = cohort(24, 3.0, 3)
    table, _ = evaluate_classifier(frame, ["f0", "f1"], permutations=5, bootstrap=10, min_per_class=3)
    row = table.set_index("analysis").loc["cv_auc"]
    assert "20 x repeated stratified 5-fold" in row["method"] and not row["note"]
    frame["responder"] = [True] * 21 + [False] * 3
    table, _ = evaluate_classifier(frame, ["f0", "f1"], permutations=5, bootstrap=10, min_per_class=3)
    row = table.set_index("analysis").loc["cv_auc"]
    assert "stratified 3-fold" in row["method"]
    assert row["note"] == "folds reduced from 5 to 3: the smaller class has 3 patients"


def test_deterministic():
    features = ["f0", "f1", "f2"]
    first, _ = evaluate_classifier(cohort(30, 1.0, 5), features, repeats=4, permutations=5, bootstrap=10, seed=3)
    second, _ = evaluate_classifier(cohort(30, 1.0, 5), features, repeats=4, permutations=5, bootstrap=10, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_skips_with_too_few_features_or_patients():
    table, roc = evaluate_classifier(cohort(40, 1.0, 4), ["f0", "missing"])
    assert table["analysis"].tolist() == ["skipped"] and roc.empty
    frame = cohort(40, 1.0, 4)
    frame["responder"] = [True] * 37 + [False] * 3
    table, _ = evaluate_classifier(frame, ["f0", "f1"])
    assert table["analysis"].tolist() == ["skipped"] and "3 non-responders" in table["note"].iloc[0]
