"""Response classifier from baseline features, validated without leakage.

Model: scikit-learn ``Pipeline(SimpleImputer(median), StandardScaler(), LogisticRegression(l2, C))``
(Newton-Cholesky solver; the intercept is not penalized).
Imputation and standardization are pipeline steps, so they are re-fitted inside every
training fold and nothing estimated on a test fold reaches the model (Hastie,
Tibshirani & Friedman, *Elements of Statistical Learning*, 2nd ed., section 7.10.2).

Validation:

* n >= 30: repeated stratified K-fold (``folds`` x ``repeats``); the AUC of each
  repeat's pooled out-of-fold predictions, averaged over repeats.
* n < 30: leave-one-out; the AUC of the pooled out-of-fold predictions (per-fold AUCs
  are undefined with one test patient).
* CI: percentile bootstrap of patients on the out-of-fold predictions (averaged over
  repeats), ``bootstrap`` resamples.
* Permutation test: the outcome is permuted ``permutations`` times and the whole
  cross-validation redone (one repeat); p = (1 + #{AUC_perm >= AUC}) / (1 + permutations)
  (Ojala & Garriga, JMLR 2010).
* Calibration of the out-of-fold probabilities: intercept and slope of the logistic
  recalibration model ``logit P(y) = a + b logit(p)`` (Van Calster et al., J Clin
  Epidemiol 2016), and the Brier score.
* Univariable AUC of every feature on its available values (no fitting, so no leakage);
  AUC < 0.5 means lower values go with response.

Features with more than half of their values missing, or constant, are dropped; the
outcome is ``responder`` (patients without one are excluded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "n", "n_responders", "method", "note"]


def _pipeline(c: float):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=c, solver="newton-cholesky", max_iter=1000)),
        ]
    )


def _out_of_fold(x, y, c, splitter) -> np.ndarray:
    from sklearn.model_selection import cross_val_predict

    return cross_val_predict(_pipeline(c), x, y, cv=splitter, method="predict_proba")[:, 1]


def select_features(patients: pd.DataFrame, candidates: list[str]) -> list[str]:
    """Candidate columns present, numeric, at most half missing and not constant."""
    chosen = []
    for column in candidates:
        if column not in patients.columns:
            continue
        values = pd.to_numeric(patients[column], errors="coerce")
        if values.notna().mean() >= 0.5 and values.nunique() > 1:
            chosen.append(column)
    return chosen


def evaluate_classifier(*args, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """See :func:`_evaluate_classifier`; runs with scikit-learn's per-call input checks off (inputs are checked here)."""
    import sklearn

    with sklearn.config_context(assume_finite=False, skip_parameter_validation=True):
        return _evaluate_classifier(*args, **kwargs)


def _evaluate_classifier(
    patients: pd.DataFrame,
    candidates: list[str],
    *,
    outcome: str = "responder",
    penalty_c: float = 1.0,
    folds: int = 5,
    repeats: int = 10,
    permutations: int = 100,
    bootstrap: int = 2000,
    min_per_class: int = 5,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(table, roc)``: the results table (``COLUMNS``) and the ROC curve points.

    When fewer than 2 usable features or fewer than ``min_per_class`` patients in a
    class remain, the table has one ``skipped`` row saying why and the ROC is empty.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
    from sklearn.model_selection import LeaveOneOut, StratifiedKFold

    data = patients[patients[outcome].notna()].copy() if outcome in patients else patients.iloc[0:0]
    y = data[outcome].astype(bool).to_numpy(int) if len(data) else np.array([])  # boolean in patients.tsv
    features = select_features(data, candidates)
    n, n_pos = len(y), int(y.sum())
    base = {"n": n, "n_responders": n_pos}
    empty_roc = pd.DataFrame(columns=["false_positive_rate", "true_positive_rate", "threshold"])
    if len(features) < 2 or min(n_pos, n - n_pos) < min_per_class:
        note = f"skipped: {len(features)} usable feature(s) {features}, {n_pos} responders and {n - n_pos} non-responders (need >= 2 features and >= {min_per_class} per class)"
        return pd.DataFrame([{**base, "analysis": "skipped", "note": note}], columns=COLUMNS), empty_roc

    x = data[features].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    rng = np.random.default_rng(seed)
    if n < 30:
        splitters = [LeaveOneOut()]
        method = "leave-one-out cross-validation"
    else:
        splitters = [StratifiedKFold(folds, shuffle=True, random_state=seed + r) for r in range(repeats)]
        method = f"{repeats} x repeated stratified {folds}-fold cross-validation"
    predictions = np.array([_out_of_fold(x, y, penalty_c, s) for s in splitters])
    auc = float(np.mean([roc_auc_score(y, p) for p in predictions]))
    mean_prediction = predictions.mean(axis=0)

    boot = []
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)
        if 0 < y[idx].sum() < n:
            boot.append(roc_auc_score(y[idx], mean_prediction[idx]))
    low, high = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)

    null = []
    for k in range(permutations):
        permuted = rng.permutation(y)
        splitter = LeaveOneOut() if n < 30 else StratifiedKFold(folds, shuffle=True, random_state=seed + 10_000 + k)
        null.append(roc_auc_score(permuted, _out_of_fold(x, permuted, penalty_c, splitter)))
    p_perm = (1 + int(np.sum(np.array(null) >= auc - 1e-12))) / (1 + permutations) if permutations else np.nan

    import statsmodels.api as sm

    clipped = np.clip(mean_prediction, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped))
    try:
        fit = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
        intercept, slope = (float(v) for v in fit.params)
        (i_low, s_low), (i_high, s_high) = fit.conf_int().T
    except (np.linalg.LinAlgError, ValueError):  # perfect separation of tiny samples
        intercept = slope = i_low = i_high = s_low = s_high = np.nan

    rows = [
        {
            "analysis": "cv_auc",
            "term": "+".join(features),
            "estimate": auc,
            "ci_low": low,
            "ci_high": high,
            "p": p_perm,
            "method": f"L2 logistic regression (C={penalty_c}), {method}; bootstrap percentile CI; permutation p",
        },
        {
            "analysis": "calibration_intercept",
            "term": "out-of-fold",
            "estimate": intercept,
            "ci_low": i_low,
            "ci_high": i_high,
            "method": "logistic recalibration",
        },
        {
            "analysis": "calibration_slope",
            "term": "out-of-fold",
            "estimate": slope,
            "ci_low": s_low,
            "ci_high": s_high,
            "method": "logistic recalibration",
        },
        {"analysis": "brier_score", "term": "out-of-fold", "estimate": brier_score_loss(y, mean_prediction)},
    ]
    for column, values in zip(features, x.T, strict=True):
        present = ~np.isnan(values)
        ok = present.sum() and 0 < y[present].sum() < present.sum()
        rows.append(
            {
                "analysis": "univariable_auc",
                "term": column,
                "estimate": roc_auc_score(y[present], values[present]) if ok else np.nan,
                "n": int(present.sum()),
                "n_responders": int(y[present].sum()),
                "method": "ROC AUC of the raw feature (no fitting)",
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["n"] = table["n"].fillna(n).astype(int)
    table["n_responders"] = table["n_responders"].fillna(n_pos).astype(int)
    fpr, tpr, thresholds = roc_curve(y, mean_prediction)
    roc = pd.DataFrame({"false_positive_rate": fpr, "true_positive_rate": tpr, "threshold": thresholds})
    return table, roc
