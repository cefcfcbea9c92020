"""Response classifier from baseline features, validated without leakage.

Model: median imputation, standardization and L2-penalized logistic regression with an
unpenalized intercept, the objective of scikit-learn's ``Pipeline(SimpleImputer(median),
StandardScaler(), LogisticRegression(C=C))``: minimise ``||w||^2 / 2 + C sum_i
log(1 + exp(-y_i (x_i w + b)))``. Imputation medians and the standardization's mean and
SD (ddof = 0) are re-estimated inside every training fold, so nothing estimated on a test
fold reaches the model (Hastie, Tibshirani & Friedman, *Elements of Statistical
Learning*, 2nd ed., section 7.10.2).

The fit is a batched Newton-Raphson solver written here (:func:`fit_penalized_logistic`)
rather than scikit-learn's estimator because the honest CI and the permutation test
refit the model tens of thousands of times (repeats x folds x bootstrap replicates or
permutations); scikit-learn fits one problem per call (about 4 ms each), this solves all
of them at once. ``tests/unit/response/test_classifier.py`` holds it equal to
``LogisticRegression(C, tol=1e-10)`` to 1e-6.

Validation (Kohavi 1995; Parker et al., BMC Bioinformatics 2007;8:172):

* Repeated stratified K-fold cross-validation, ``folds`` x ``repeats``, for every cohort
  size; repeat r splits with ``sklearn.model_selection.StratifiedKFold(folds,
  shuffle=True, random_state=seed + r)``. When a class has fewer members than
  ``folds``, the folds shrink to that count, with a warning in the log and the table.
  Leave-one-out is not used: its pooled AUC is biased low for penalized models in small
  samples (a test patient's removal shifts the training class balance against it),
  0.34-0.36 on pure noise at n = 20-28.
* AUC: per repeat, the AUC of that repeat's pooled out-of-fold predictions; the estimate
  is the mean over repeats.
* CI: the whole repeated cross-validation is redone on ``bootstrap`` stratified
  bootstrap resamples of the patients (copies of one patient kept in one fold, so no
  patient is in its own training set); the interval is estimate +- z x the bootstrap SD
  of the replicates' mean AUC, clipped to [0, 1] (Efron & Tibshirani, *An Introduction
  to the Bootstrap*, 1993, ch. 6 and 13). It therefore includes the refitting
  variability that a bootstrap of fixed out-of-fold predictions ignores. A normal
  interval rather than percentiles because a resample holds ~63 % distinct patients,
  which shifts the replicates' AUC towards 0.5 but hardly changes its spread.
* Permutation test: the outcome is permuted ``permutations`` times and the whole
  repeated cross-validation redone; p = (1 + #{AUC_perm >= AUC}) / (1 + permutations)
  (Ojala & Garriga, JMLR 2010).
* Calibration: per repeat, the intercept and slope of the logistic recalibration model
  ``logit P(y) = a + b logit(p)`` on that repeat's out-of-fold probabilities (Van
  Calster et al., J Clin Epidemiol 2016), and the Brier score; the table gives their
  means over repeats (the interval: the mean of the repeats' Wald bounds).
* Univariable AUC of every feature on its available values (no fitting, so no leakage);
  AUC < 0.5 means lower values go with response.

Features with more than half of their values missing, or constant, are dropped; the
outcome is ``responder`` (patients without one are excluded).
"""

from __future__ import annotations

__all__ = [
    "auc_rows",
    "evaluate_classifier",
    "fit_penalized_logistic",
    "out_of_fold",
    "repeated_cv_auc",
    "replicate_cv_auc",
    "select_features",
    "stratified_fold_ids",
    "training_medians",
]

import functools
import logging
import warnings

import numpy as np
import pandas as pd
from scipy import special, stats

from contexture.parallel import map_units

log = logging.getLogger(__name__)

COLUMNS = ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "n", "n_responders", "method", "note"]
# Problems per batch of the Newton solver (bounds memory: batch x n x features floats).
_MAX_BATCH_CELLS = 4_000_000


def training_medians(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(B, p) median of each feature over each problem's training rows, NaN ignored.

    Equal to ``np.nanmedian(np.where(train[:, :, None], x, np.nan), axis=1)`` (NaN where a
    feature is missing in every training row), bit for bit: the mean of the two middle
    values of the sorted present values, as ``np.median`` takes it. Written out because
    ``nanmedian`` over more than 600 rows runs a Python-level median per problem and
    feature (150,000 calls at 1,000 patients, a fifth of the classifier's time).
    """
    ordered = np.sort(np.where(train[:, :, None], x, np.nan), axis=1)  # NaN sort last
    present = (~np.isnan(ordered)).sum(axis=1)
    low = np.maximum(present - 1, 0) // 2
    high = present // 2
    pick_low = np.take_along_axis(ordered, low[:, None, :], axis=1)[:, 0, :]
    pick_high = np.take_along_axis(ordered, np.minimum(high, ordered.shape[1] - 1)[:, None, :], axis=1)[:, 0, :]
    return np.where(present > 0, (pick_low + pick_high) / 2, np.nan)


def fit_penalized_logistic(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, c: float, *, tol: float = 1e-10, max_iter: int = 100
) -> np.ndarray:
    """Test-fold probabilities of many imputed, standardized, L2-penalized logistic fits.

    ``x`` (B, n, p) features with NaN for missing, ``y`` (B, n) 0/1 outcomes, ``train``
    (B, n) booleans: problem b is fitted on its training rows and predicts all n rows.
    Per problem: NaN -> training median (a feature missing in every training row -> 0),
    centred and scaled by the training mean and SD (ddof = 0; SD 0 -> 1, as
    ``StandardScaler``), then Newton-Raphson on the penalized log-likelihood (module
    docstring) to ``tol`` on the step. Returns (B, n) predicted probabilities.
    """
    weight = train.astype(float)
    median = np.nan_to_num(training_medians(x, train), nan=0.0)
    imputed = np.where(np.isnan(x), median[:, None, :], x)
    count = weight.sum(axis=1)[:, None]
    mean = np.einsum("bn,bnp->bp", weight, imputed) / count
    centred = imputed - mean[:, None, :]
    sd = np.sqrt(np.einsum("bn,bnp->bp", weight, centred**2) / count)
    sd = np.where(sd > 1e-12, sd, 1.0)
    design = np.concatenate([centred / sd[:, None, :], np.ones(x.shape[:2] + (1,))], axis=2)
    penalty = np.ones(design.shape[2])
    penalty[-1] = 0.0  # the intercept is not penalized
    beta = np.zeros(design.shape[::2])
    for _ in range(max_iter):
        probability = special.expit(np.einsum("bnj,bj->bn", design, beta))
        gradient = c * np.einsum("bn,bnj->bj", weight * (probability - y), design) + penalty * beta
        # A batched matrix product (D' W D): five times faster than the three-operand einsum,
        # which sums in another order (1e-15 relative); the fixed point, set by the
        # gradient, is the same.
        curvature = (weight * probability * (1 - probability))[:, :, None]
        hessian = c * np.matmul((design * curvature).transpose(0, 2, 1), design)
        hessian += np.diag(penalty)[None] + np.diag(np.full(design.shape[2], 1e-12))[None]
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        beta -= step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise RuntimeError(f"penalized logistic regression did not converge in {max_iter} Newton steps")
    return special.expit(np.einsum("bnj,bj->bn", design, beta))


def auc_rows(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of each row (Mann-Whitney form with mid-ranks; equals ``roc_auc_score``)."""
    y = np.broadcast_to(y, score.shape)
    ranks = stats.rankdata(score, axis=1)
    positives = y.sum(axis=1)
    negatives = y.shape[1] - positives
    return ((ranks * y).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)


def stratified_fold_ids(y: np.ndarray, folds: int, seeds: list[int]) -> np.ndarray:
    """(len(seeds), n) test-fold number of each patient: the folds of
    ``sklearn.model_selection.StratifiedKFold(folds, shuffle=True, random_state=seed)``
    for each seed.

    Written out instead of calling scikit-learn once per seed: its ``split`` validates
    the labels on every call (about 0.3 ms), and the demo's bootstrap and permutation
    replicates ask for 6,000 cross-validations, a third of the classifier's time (issue
    21). The steps are scikit-learn 1.9's ``StratifiedKFold._make_test_folds``: classes
    numbered in order of first appearance, each fold's share of a class allocated round
    robin over the sorted labels, and each class's fold labels shuffled by
    ``numpy.random.RandomState(seed)``, class after class. The allocation depends only
    on the labels, so it is computed once. ``tests/unit/response/test_classifier.py``
    checks the folds against scikit-learn's for many labels and seeds.
    """
    y = np.asarray(y).ravel()
    _, first_index, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, class_order = np.unique(first_index, return_inverse=True)
    encoded = class_order[inverse]
    counts = np.bincount(encoded)
    if np.all(folds > counts):
        raise ValueError(f"n_splits={folds} cannot be greater than the number of members in each class.")
    ordered = np.sort(encoded)
    allocation = np.asarray([np.bincount(ordered[i::folds], minlength=len(counts)) for i in range(folds)])
    members = [np.flatnonzero(encoded == k) for k in range(len(counts))]
    blocks = [np.arange(folds).repeat(allocation[:, k]) for k in range(len(counts))]
    ids = np.empty((len(seeds), len(y)), dtype=int)
    for r, seed in enumerate(seeds):
        rng = np.random.RandomState(seed)
        for rows, block in zip(members, blocks, strict=True):
            labels = block.copy()
            rng.shuffle(labels)
            ids[r, rows] = labels
    return ids


def out_of_fold(x: np.ndarray, y: np.ndarray, fold_ids: np.ndarray, c: float) -> np.ndarray:
    """(R, n) out-of-fold probabilities of the R cross-validations given by ``fold_ids``.

    ``x`` is (n, p) or (R, n, p) and ``y`` (n,) or (R, n): one data set shared by every
    repeat, or one per row (a bootstrap resample, a permuted outcome).
    """
    repeats, n = fold_ids.shape
    x = np.broadcast_to(x, (repeats, *x.shape[-2:]))
    y = np.broadcast_to(y, (repeats, n))
    folds = int(fold_ids.max()) + 1
    predictions = np.empty((repeats, n))
    chunk = max(1, _MAX_BATCH_CELLS // (folds * n * (x.shape[2] + 1)))
    for start in range(0, repeats, chunk):
        rows = slice(start, min(start + chunk, repeats))
        ids = fold_ids[rows]
        size = ids.shape[0]
        test = (ids[:, None, :] == np.arange(folds)[None, :, None]).reshape(size * folds, n)
        probability = fit_penalized_logistic(
            np.repeat(x[rows], folds, axis=0), np.repeat(y[rows], folds, axis=0).astype(float), ~test, c
        )
        predictions[rows] = (probability * test).reshape(size, folds, n).sum(axis=1)
    return predictions


def repeated_cv_auc(x: np.ndarray, y: np.ndarray, c: float, folds: int, seeds: list[int]) -> np.ndarray:
    """Per-repeat AUC of repeated stratified K-fold CV (one repeat per seed)."""
    return auc_rows(y, out_of_fold(x, y, stratified_fold_ids(y, folds, seeds), c))


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


def evaluate_classifier(
    patients: pd.DataFrame,
    candidates: list[str],
    *,
    outcome: str = "responder",
    penalty_c: float = 1.0,
    folds: int = 5,
    repeats: int = 20,
    permutations: int = 100,
    bootstrap: int = 200,
    min_per_class: int = 5,
    seed: int = 0,
    conf_level: float = 0.95,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(table, roc)``: the results table (``COLUMNS``) and the ROC curve points.

    The ROC curve is that of the out-of-fold predictions of every repeat together. When
    fewer than 2 usable features or fewer than ``min_per_class`` patients in a class
    remain, the table has one ``skipped`` row saying why and the ROC is empty.
    ``threads`` processes refit the bootstrap and permutation replicates
    (:func:`contexture.parallel.map_units`); the random draws are made before, in one
    order, so the results do not depend on it.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    data = patients[patients[outcome].notna()].copy() if outcome in patients else patients.iloc[0:0]
    y = data[outcome].astype(bool).to_numpy(int) if len(data) else np.array([], dtype=int)  # boolean in patients.tsv
    features = select_features(data, candidates)
    n, n_pos = len(y), int(y.sum())
    base = {"n": n, "n_responders": n_pos}
    empty_roc = pd.DataFrame(columns=["false_positive_rate", "true_positive_rate", "threshold"])
    if len(features) < 2 or min(n_pos, n - n_pos) < min_per_class:
        note = f"skipped: {len(features)} usable feature(s) {features}, {n_pos} responders and {n - n_pos} non-responders (need >= 2 features and >= {min_per_class} per class)"
        return pd.DataFrame([{**base, "analysis": "skipped", "note": note}], columns=COLUMNS), empty_roc

    x = data[features].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    smallest = min(n_pos, n - n_pos)
    used_folds = min(folds, smallest)
    note = ""
    if used_folds < folds:
        note = f"folds reduced from {folds} to {used_folds}: the smaller class has {smallest} patients"
        log.warning("response classifier: %s", note)
    seeds = [seed + r for r in range(repeats)]
    predictions = out_of_fold(x, y, stratified_fold_ids(y, used_folds, seeds), penalty_c)
    per_repeat = auc_rows(y, predictions)
    auc = float(per_repeat.mean())
    log.info("response classifier: AUC per repeat %s; mean %.4f", " ".join(f"{a:.3f}" for a in per_repeat), auc)

    # Every random draw is made here, in this order, before any refitting: the bootstrap
    # resamples, then the permuted outcomes. Each replicate carries its own fold seeds, so
    # the replicates can be refitted in any process and order (`threads`) with the same result.
    rng = np.random.default_rng(seed)
    boot_units = _bootstrap_units(y, used_folds, repeats, bootstrap, rng, seed)
    permutation_units = [
        (np.arange(n), permuted, permuted, used_folds, [seed + 10_000 + k * repeats + r for r in range(repeats)], None)
        for k, permuted in enumerate(rng.permutation(y) for _ in range(permutations))
    ]
    replicate = functools.partial(replicate_cv_auc, x=x, c=penalty_c)
    replicates = np.fromiter(map_units(replicate, boot_units + permutation_units, threads), float)
    replicate_auc, null = replicates[:bootstrap], replicates[bootstrap:]

    low = high = np.nan
    if bootstrap:
        z = stats.norm.ppf(1 - (1 - conf_level) / 2)
        spread = float(np.std(replicate_auc, ddof=1)) if bootstrap > 1 else np.nan
        low, high = max(0.0, auc - z * spread), min(1.0, auc + z * spread)

    p_perm = np.nan
    if permutations:
        p_perm = (1 + int(np.sum(null >= auc - 1e-12))) / (1 + permutations)

    calibration = np.array([_recalibration(y, p) for p in predictions])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every repeat separated: all NaN
        intercept, slope, i_low, i_high, s_low, s_high = np.nanmean(calibration, axis=0)
    brier = float(np.mean((predictions - y) ** 2))

    scheme = f"{repeats} x repeated stratified {used_folds}-fold cross-validation"
    level = f"{conf_level:.0%}"
    rows = [
        {
            "analysis": "cv_auc",
            "term": "+".join(features),
            "estimate": auc,
            "ci_low": low,
            "ci_high": high,
            "p": p_perm,
            "method": (
                f"L2 logistic regression (C={penalty_c:g}), {scheme}; mean of the per-repeat AUCs; "
                f"{level} CI +- z x SD over {bootstrap} stratified bootstrap resamples of the whole cross-validation; "
                f"permutation p ({permutations} permutations)"
            ),
            "note": note,
        },
        {
            "analysis": "cv_auc_repeat_range",
            "term": "+".join(features),
            "estimate": float(np.median(per_repeat)),
            "ci_low": float(per_repeat.min()),
            "ci_high": float(per_repeat.max()),
            "method": f"median and range of the {repeats} per-repeat AUCs (partition variability only; not a CI)",
        },
        {
            "analysis": "calibration_intercept",
            "term": "out-of-fold",
            "estimate": intercept,
            "ci_low": i_low,
            "ci_high": i_high,
            "method": "logistic recalibration per repeat; mean over repeats of the estimates and Wald bounds",
        },
        {
            "analysis": "calibration_slope",
            "term": "out-of-fold",
            "estimate": slope,
            "ci_low": s_low,
            "ci_high": s_high,
            "method": "logistic recalibration per repeat; mean over repeats of the estimates and Wald bounds",
        },
        {
            "analysis": "brier_score",
            "term": "out-of-fold",
            "estimate": brier,
            "method": "mean over repeats of the Brier score",
        },
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
    fpr, tpr, thresholds = roc_curve(np.tile(y, repeats), predictions.ravel())
    roc = pd.DataFrame({"false_positive_rate": fpr, "true_positive_rate": tpr, "threshold": thresholds})
    return table, roc


def _bootstrap_units(y: np.ndarray, folds: int, repeats: int, replicates: int, rng, seed: int) -> list[tuple]:
    """The :func:`replicate_cv_auc` units of ``replicates`` stratified bootstrap resamples of the patients.

    Patients are resampled with replacement within each class; the folds are drawn on
    the distinct patients of the resample (``StratifiedKFold`` on them), so copies of a
    patient share a test fold. A resample with fewer than two distinct patients in a
    class is drawn again.
    """
    classes = [np.flatnonzero(y == value) for value in (0, 1)]
    units = []
    for b in range(replicates):
        while True:
            index = np.concatenate([rng.choice(members, size=len(members)) for members in classes])
            distinct, position = np.unique(index, return_inverse=True)
            if all(len(np.intersect1d(distinct, members)) >= 2 for members in classes):
                break
        distinct_y = y[distinct]
        k = min(folds, max(int(distinct_y.sum()), int(len(distinct_y) - distinct_y.sum())))
        base = seed + 1_000_000 + b * repeats
        units.append((index, y[index], distinct_y, k, [base + r for r in range(repeats)], position))
    return units


def replicate_cv_auc(unit: tuple, x: np.ndarray, c: float) -> float:
    """Mean repeated-CV AUC of one replicate (a bootstrap resample or a permuted outcome).

    ``unit = (rows, outcome, fold_labels, folds, seeds, position)``: the model is
    cross-validated on ``x[rows]`` against ``outcome``; repeat r's folds are
    ``StratifiedKFold(folds, shuffle=True, random_state=seeds[r])`` on ``fold_labels``,
    mapped to the rows by ``position`` (None: one fold label per row).
    """
    rows, outcome, fold_labels, folds, seeds, position = unit
    ids = stratified_fold_ids(fold_labels, folds, seeds)
    if position is not None:
        ids = ids[:, position]
    return float(auc_rows(outcome, out_of_fold(x[rows], outcome, ids, c)).mean())


def _recalibration(y: np.ndarray, probability: np.ndarray) -> tuple[float, ...]:
    """(intercept, slope, intercept low, high, slope low, high) of ``logit P(y) = a + b logit(p)``."""
    import statsmodels.api as sm

    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped))
    try:
        fit = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
        intercept, slope = (float(v) for v in fit.params)
        (i_low, s_low), (i_high, s_high) = fit.conf_int().T
    except (np.linalg.LinAlgError, ValueError):  # perfect separation of tiny samples
        return (np.nan,) * 6
    return intercept, slope, float(i_low), float(i_high), float(s_low), float(s_high)
