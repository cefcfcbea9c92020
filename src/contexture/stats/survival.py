"""Survival estimators that agree with R's survival package: Kaplan-Meier, log-rank, Cox.

Every estimate is computed the way R's ``survival`` package (Therneau) computes it, so
a statistician can check the tables with ``survfit``, ``survdiff``, ``coxph`` and
``cox.zph``; ``tests/unit/stats/test_survival.py`` holds R's numbers (survival 3.5-3) to
1e-4. The survival stage (:mod:`contexture.survival.analysis`) builds its tables from
these functions.

Kaplan-Meier (:func:`kaplan_meier`)
    S(t) = prod_{t_i <= t} (1 - d_i / n_i) over the distinct times, with Greenwood's
    standard error of log S, ``sqrt(sum d_i / (n_i (n_i - d_i)))`` (what ``survfit``
    stores as ``std.err``). Pointwise confidence intervals as ``survfit``'s
    ``conf.type``: ``"log"`` (R's default) S exp(+-z se), upper bound capped at 1;
    ``"log-log"`` exp(-exp(log(-log S) -+ z se / log S)) (Kalbfleisch & Prentice 1980);
    ``"plain"`` S +- z S se, clipped to [0, 1].
Median and its confidence interval (:func:`survival_quantile`)
    R's ``quantile.survfit``: the median is the first time S(t) <= 0.5, or the midpoint
    of the flat stretch when S is exactly 0.5 there; the CI is where the *pointwise*
    lower and upper confidence curves cross 0.5 (Brookmeyer & Crowley 1982, as
    implemented by R), empty when a curve never reaches 0.5 ("not reached"). This is
    not lifelines' ``median_survival_times(confidence_interval_)`` method, which uses
    lifelines' own exponential-Greenwood band; the CI therefore follows ``conf_type``.
Log-rank test (:func:`logrank_test`)
    ``survdiff`` with rho = 0: observed minus expected events per group and the
    hypergeometric covariance; chi-square on the first k-1 groups with positive
    expectation, df = k - 1. For ordered groups, the test for trend with scores 1..k:
    (w'(O - E))^2 / (w' V w) on 1 df (Collett 2015, *Modelling Survival Data in Medical
    Research*, 3rd ed., section 2.6).
Cox proportional hazards (:func:`cox_fit`, :func:`cox_model`)
    ``coxph``'s Newton-Raphson (``coxfit6``) on cumulative sums over ordered times:
    Efron's method for ties (``coxph``'s default) or Breslow's, optional strata, times
    equal within R's tolerance tied first (``timefix``), Wald CIs and p, and coxph's
    monotone-likelihood and non-convergence warnings. Equal to ``coxph`` to about
    1e-12 and faster than it (docs/scale.md). Continuous covariates are standardized by
    the sample SD (ddof = 1) of the model's complete cases, so the hazard ratio is per
    SD increase, or per SD decrease when the sign is flipped (the CD8-PET study reports
    per SD decrease). Categorical covariates are indicator-coded against their first
    level.
Proportional-hazards check (:func:`cox_zph`)
    The score test of R's ``cox.zph`` (survival >= 3.0, transform ``"km"``): for each
    term, the covariates times g(t) = 1 - KM(t-) are added to the model and tested by
    a score test at (beta_hat, 0) with the full information matrix (Grambsch &
    Therneau 1994; Therneau & Grambsch 2000 section 6.2). lifelines'
    ``proportional_hazard_test`` implements the older one-step approximation and gives
    different numbers (Rossi ``age``: 11.03 against R's 5.97), so it is not used.
Events per variable
    A model with fewer than ``min_events_per_variable`` (default 10) events per
    estimated coefficient is flagged (Peduzzi et al. 1996, J Clin Epidemiol 49:1373).
Median follow-up (:func:`median_followup`)
    Reverse Kaplan-Meier: the median of the KM estimate with censoring as the event
    (Schemper & Smith 1996, Control Clin Trials 17:343), i.e. R's
    ``survfit(Surv(time, 1 - status) ~ 1)``.
"""

from __future__ import annotations

__all__ = [
    "COX_MODEL_COLUMNS",
    "Covariate",
    "CoxFit",
    "LogRank",
    "SCALE_TEXT",
    "as_text",
    "cox_fit",
    "cox_model",
    "cox_zph",
    "coxph_tied_times",
    "design_matrix",
    "kaplan_meier",
    "logrank_test",
    "median_followup",
    "survival_at",
    "survival_quantile",
]

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# scipy.special, not scipy.stats: the same functions (scipy.stats' chi2.sf is chdtrc, norm.ppf
# ndtri, norm.sf ndtr of -x) without importing scipy.stats, which costs ~0.6 s in every job
# and in the workflow's config check that imports this module.
from scipy import special

log = logging.getLogger(__name__)

CONF_TYPES = ("log", "log-log", "plain")
# R's quantile.survfit tolerance for "the curve equals p here".
QUANTILE_TOLERANCE = math.sqrt(np.finfo(float).eps)
SCALE_TEXT = {"sd_decrease": "per SD decrease", "sd_increase": "per SD increase", "unit": "per unit"}
# The columns of one fitted Cox model (:func:`cox_model`).
COX_MODEL_COLUMNS = [
    "term",
    "scale",
    "hr",
    "ci_low",
    "ci_high",
    "p",
    "n",
    "events",
    "coef",
    "se",
    "sd",
    "ph_chisq",
    "ph_df",
    "ph_p",
    "ph_global_p",
    "epv",
    "warning",
]


# --------------------------------------------------------------------------- Kaplan-Meier


def kaplan_meier(
    time: Sequence[float], event: Sequence[int], conf_type: str = "log", conf_level: float = 0.95
) -> pd.DataFrame:
    """The Kaplan-Meier curve at every distinct time (events and censorings), as ``survfit``.

    Returns columns ``time``, ``n_risk``, ``n_event``, ``n_censor``, ``surv``,
    ``std_err`` (Greenwood SE of log S), ``lower``, ``upper`` (see the module docstring
    for the ``conf_type`` formulas). Bounds are NaN where R's are NA (S = 0 for "log",
    S in {0, 1} for "log-log").
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    if time.size == 0:
        return pd.DataFrame(columns=["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"])
    times, inverse = np.unique(time, return_inverse=True)
    n_event = np.bincount(inverse, weights=event, minlength=times.size)
    n_total = np.bincount(inverse, minlength=times.size).astype(float)
    n_risk = n_total[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        increment = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(increment))
    lower, upper = _pointwise_ci(surv, std_err, conf_type, conf_level)
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk.astype(int),
            "n_event": n_event.astype(int),
            "n_censor": (n_total - n_event).astype(int),
            "surv": surv,
            "std_err": std_err,
            "lower": lower,
            "upper": upper,
        }
    )


def _pointwise_ci(surv: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float) -> tuple[np.ndarray, ...]:
    """R's ``survfit_confint`` with ``logse = TRUE`` (se is the SE of log S)."""
    z = special.ndtri(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            s = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(s) - z * se)
            upper = np.minimum(np.exp(np.log(s) + z * se), 1.0)
        elif conf_type == "log-log":
            s = np.where((surv == 0) | (surv == 1), np.nan, surv)
            half = z * se / np.log(s)
            lower = np.exp(-np.exp(np.log(-np.log(s)) - half))
            upper = np.exp(-np.exp(np.log(-np.log(s)) + half))
        else:  # plain
            half = z * se * surv
            lower = np.maximum(surv - half, 0.0)
            upper = np.minimum(surv + half, 1.0)
    # Greenwood's SE is infinite once everyone at risk has died (n = d): R gives NA.
    lower = np.where(np.isfinite(se), lower, np.nan)
    upper = np.where(np.isfinite(se), upper, np.nan)
    return lower, upper


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = QUANTILE_TOLERANCE) -> float:
    """R's ``survival:::findq`` for one probability: the first x where y (= 1 - S) reaches p.

    ``y`` is non-decreasing and may hold NaN; when y equals p (within ``tol``) over a
    stretch, the result is the midpoint of that stretch (or of it and the last time).
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    n = y.size
    present = ~np.isnan(y)

    def first_index(shifted: np.ndarray) -> float:
        # approx(shifted, 1:n, p, method = "constant", f = 1): the first index whose
        # (non-missing) shifted value is >= p; NA when p is beyond the last.
        xs, idx = shifted[present], np.arange(n)[present]
        if p < xs[0] or p > xs[-1]:
            return math.nan
        return float(idx[np.searchsorted(xs, p, side="left")])

    i1, i2 = first_index(y + tol), first_index(y - tol)
    quantile = (x[int(i1)] + x[int(i2)]) / 2 if not (math.isnan(i1) or math.isnan(i2)) else math.nan
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and not math.isnan(i1):
        quantile = (x[int(i1)] + xmax) / 2
    return float(quantile)


def survival_quantile(curve: pd.DataFrame, p: float = 0.5) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the time at which survival falls to ``1 - p``, as R.

    ``curve`` is a :func:`kaplan_meier` table; the CI comes from where its pointwise
    lower and upper curves cross (R's ``quantile.survfit``). NaN = not reached.
    """
    if curve.empty:
        return math.nan, math.nan, math.nan
    x = np.concatenate([[0.0], curve["time"].to_numpy(float)])

    def at(column: str) -> float:
        return _findq(x, np.concatenate([[0.0], 1.0 - curve[column].to_numpy(float)]), p)

    return at("surv"), at("lower"), at("upper")


def survival_at(curve: pd.DataFrame, times: Iterable[float]) -> pd.DataFrame:
    """S(t), lower, upper at each ``t`` (step function, right-continuous), as R's summary.

    Beyond the last observed time the curve is undefined and the row is NaN (R's
    ``summary(fit, times = t)`` drops such times), except that a curve that has
    reached 0 stays 0 (R's ``extend = TRUE``), with NaN bounds as R's.
    """
    times = np.asarray(list(times), dtype=float)
    rows = {"time": times, "surv": [], "lower": [], "upper": []}
    last = curve["time"].max() if not curve.empty else -math.inf
    ends_at_zero = not curve.empty and curve["surv"].iloc[-1] == 0
    for t in times:
        position = np.searchsorted(curve["time"].to_numpy(), t, side="right") - 1
        for column in ("surv", "lower", "upper"):
            if t > last:
                # Once the curve has dropped to 0 it stays there (R's CIs at S = 0 are NA).
                value = 0.0 if ends_at_zero and column == "surv" else math.nan
            elif position < 0:
                value = 1.0
            else:
                value = float(curve[column].iloc[position])
            rows[column].append(value)
    return pd.DataFrame(rows)


def median_followup(
    time: Sequence[float], event: Sequence[int], conf_type: str = "log", conf_level: float = 0.95
) -> tuple[float, float, float]:
    """Median follow-up by reverse Kaplan-Meier (Schemper & Smith 1996), with R's CI."""
    reverse = 1 - np.asarray(event, dtype=float)
    return survival_quantile(kaplan_meier(time, reverse, conf_type, conf_level))


# --------------------------------------------------------------------------- log-rank


@dataclass
class LogRank:
    """Result of :func:`logrank_test` (names as R's ``survdiff``)."""

    groups: list[str]
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    statistic: float
    df: int
    p: float
    trend_statistic: float = math.nan
    trend_p: float = math.nan


def logrank_test(
    time: Sequence[float], event: Sequence[int], group: Sequence, order: Sequence | None = None
) -> LogRank:
    """Log-rank test of equal survival across groups (R ``survdiff``, rho = 0), with trend.

    ``order`` lists the groups in their natural order; when given (3 or more groups),
    the trend test with scores 1..k is also computed. Groups are otherwise sorted.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    group = np.asarray(group, dtype=object)
    groups = list(order) if order is not None else sorted(set(group.tolist()), key=str)
    code = np.array([groups.index(g) for g in group])
    k = len(groups)
    event_times = np.unique(time[event > 0])
    # n_at_risk[t, g], deaths[t, g] on the distinct event times.
    at_risk = np.stack([(time[code == g][None, :] >= event_times[:, None]).sum(axis=1) for g in range(k)], axis=1)
    deaths = np.stack(
        [((time[(code == g) & (event > 0)][None, :]) == event_times[:, None]).sum(axis=1) for g in range(k)], axis=1
    ).astype(float)
    n = at_risk.sum(axis=1).astype(float)
    d = deaths.sum(axis=1)
    share = at_risk / n[:, None]
    observed = deaths.sum(axis=0)
    expected = (d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = np.einsum("t,tg,gh->gh", factor, share, np.eye(k)) - np.einsum("t,tg,th->gh", factor, share, share)
    usable = expected > 0
    df = int(usable.sum()) - 1
    if df < 1:
        statistic, p = math.nan, math.nan
    else:
        difference = (observed - expected)[usable][1:]
        sub = variance[np.ix_(usable, usable)][1:, 1:]
        statistic = float(difference @ np.linalg.solve(sub, difference))
        p = float(special.chdtrc(df, statistic))
    result = LogRank(groups, observed, expected, variance, statistic, df, p)
    if order is not None and k >= 3:
        weights = np.arange(1, k + 1, dtype=float)
        numerator = weights @ (observed - expected)
        denominator = weights @ variance @ weights
        if denominator > 0:
            result.trend_statistic = float(numerator**2 / denominator)
            result.trend_p = float(special.chdtrc(1, result.trend_statistic))
    return result


# --------------------------------------------------------------------------- Cox


def as_text(values: pd.Series) -> pd.Series:
    """Column values as text labels: booleans as "true"/"false", integers without ".0"."""

    def text(value: object) -> object:
        if pd.isna(value):
            return pd.NA
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return values.map(text).astype("object")


@dataclass
class Covariate:
    """How one patients.tsv column enters a model: continuous (standardized) or categorical."""

    column: str
    kind: str  # "continuous" or "categorical"
    levels: list[str] = field(default_factory=list)  # categorical: reference first
    scale: str = "sd_decrease"  # continuous: sd_decrease | sd_increase | unit
    labels: dict[str, str] = field(default_factory=dict)  # categorical: value -> display label


COX_TIES = ("efron", "breslow")
# survival::coxph.control(): eps, toler.inf = sqrt(eps), iter.max.
COX_EPS = 1e-9
COX_TOLER_INF = math.sqrt(COX_EPS)
COX_ITER_MAX = 20


def coxph_tied_times(time: Sequence[float], tolerance: float = QUANTILE_TOLERANCE) -> np.ndarray:
    """Times that differ by less than ``tolerance`` made equal, as R's ``survival::aeqSurv``.

    ``coxph`` applies this by default (``coxph.control(timefix = TRUE)``), so that times
    which are equal on paper but not in floating point (e.g. 1/3 computed two ways) form
    one tied set: sorted distinct times closer than ``tolerance`` (absolutely, or
    relative to the mean absolute time) are merged into the first of their run.
    """
    time = np.asarray(time, dtype=float)
    distinct = np.unique(time[np.isfinite(time)])
    if distinct.size < 2:
        return time
    gaps = np.diff(distinct)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(distinct)) <= tolerance)
    if not tied.any():
        return time
    cuts = distinct[np.concatenate([[True], ~tied])]
    fixed = cuts[np.clip(np.searchsorted(cuts, time, side="right") - 1, 0, None)]
    return np.where(np.isfinite(time), fixed, time)


class _RiskSets:
    """The risk-set structure of one Cox model, for vectorised score and information sums.

    Subjects are sorted by stratum, then by time *descending*, so a cumulative sum over
    the sorted subjects, restarted in each stratum, is the sum over everyone still at
    risk (time >= t) in that stratum. Subjects with the same stratum and time form a
    tie group; the groups with at least one event are the tied sets of the partial
    likelihood. Each event of a tied set with d events is one *term* j = 0..d-1 with
    Efron's weight f = j / d (Efron 1977; Therneau & Grambsch 2000, section 3.3): the
    term's risk-set sums are S_k - f T_k, where T_k sums over the set's events; for
    Breslow's method f = 0. Every per-iteration quantity is then a cumulative sum, a
    ``bincount`` over groups or terms, or one matrix product: the information
    sum_k sum_j (A2_kj / A0_kj - m_kj m_kj') is x' diag(w c) x - M'M, where c_i adds
    1 / A0_kj over the terms whose risk set holds subject i (minus f / A0_kj for the
    subject's own tied set) and M stacks the term means m_kj = A1_kj / A0_kj. This is
    the arithmetic of R's ``coxfit6`` (survival 3.5), written with array operations
    instead of a loop over subjects.
    """

    def __init__(self, time: np.ndarray, event: np.ndarray, x: np.ndarray, strata: np.ndarray, ties: str):
        order = np.lexsort((-time, strata))
        self.x = x[order]
        self.event = event[order] > 0
        time, strata = time[order], strata[order]
        n = time.size
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = (time[1:] != time[:-1]) | (strata[1:] != strata[:-1])
        self.group = np.cumsum(new_group) - 1  # tie group of each sorted subject
        self.group_starts = np.flatnonzero(new_group)
        n_groups = self.group_starts.size
        group_strata = strata[self.group_starts]
        new_stratum = np.ones(n_groups, dtype=bool)
        new_stratum[1:] = group_strata[1:] != group_strata[:-1]
        stratum_first = np.flatnonzero(new_stratum)
        stratum_last = np.concatenate([stratum_first[1:], [n_groups]]) - 1
        # One slice of groups per stratum; the loops over strata are the only Python loops.
        self.strata_bounds = list(zip(stratum_first.tolist(), (stratum_last + 1).tolist(), strict=True))
        self.group_time = time[self.group_starts]
        deaths = np.bincount(self.group, weights=self.event, minlength=n_groups).astype(int)
        self.tied_sets = np.flatnonzero(deaths > 0)  # groups with events, in sorted order
        d = deaths[self.tied_sets]
        # One term per event: its tied set (index into tied_sets) and Efron's fraction.
        self.term_set = np.repeat(np.arange(self.tied_sets.size), d)
        position = np.arange(self.term_set.size) - np.repeat(np.cumsum(d) - d, d)
        self.term_fraction = position / np.repeat(d, d) if ties == "efron" else np.zeros(self.term_set.size)
        self.dead_x_sum = np.add.reduceat(self.x * self.event[:, None], self.group_starts, axis=0)[self.tied_sets]
        self.events = int(d.sum())

    def _within_stratum_cumsum(self, per_group: np.ndarray) -> np.ndarray:
        """Sum over the groups from the stratum's first (latest time) to this one."""
        out = np.empty_like(per_group)
        for first, last in self.strata_bounds:
            np.cumsum(per_group[first:last], axis=0, out=out[first:last])
        return out

    def _within_stratum_suffix(self, per_group: np.ndarray) -> np.ndarray:
        """Sum over the groups from this one to the stratum's last (earliest time).

        Summed from the earliest time backwards, never as a difference of cumulative
        sums: the terms span many orders of magnitude (1 / A0 is tiny early, when the
        risk set is large, and can be huge late), and a difference would lose the small
        ones to rounding.
        """
        out = np.empty_like(per_group)
        for first, last in self.strata_bounds:
            out[first:last] = np.cumsum(per_group[first:last][::-1], axis=0)[::-1]
        return out

    def sums(self, beta: np.ndarray, set_weights: np.ndarray | None = None):
        """(log partial likelihood, score, information) at ``beta``.

        With ``set_weights`` h_k (one per tied set), the score and information are the
        weighted sums sum_k h_k U_k and sum_k h_k I_k of the per-set contributions (what
        :func:`cox_zph` needs); the log-likelihood is then NaN.
        """
        eta = self.x @ beta
        shift = float(eta.max()) if eta.size else 0.0  # exp() without overflow; cancels in ratios
        w = np.exp(eta - shift)
        wx = w[:, None] * self.x
        at_risk0 = self._within_stratum_cumsum(np.add.reduceat(w, self.group_starts))[self.tied_sets]
        at_risk1 = self._within_stratum_cumsum(np.add.reduceat(wx, self.group_starts, axis=0))[self.tied_sets]
        dead0 = np.add.reduceat(w * self.event, self.group_starts)[self.tied_sets]
        dead1 = np.add.reduceat(wx * self.event[:, None], self.group_starts, axis=0)[self.tied_sets]
        s, f = self.term_set, self.term_fraction
        a0 = at_risk0[s] - f * dead0[s]
        mean = (at_risk1[s] - f[:, None] * dead1[s]) / a0[:, None]
        if set_weights is None:
            h_set = np.ones(self.tied_sets.size)
            loglik = float(eta[self.event].sum() - np.log(a0).sum() - self.events * shift)
        else:
            h_set = np.asarray(set_weights, dtype=float)
            loglik = math.nan
        h = h_set[s]
        score = (h_set[:, None] * self.dead_x_sum).sum(axis=0) - (h[:, None] * mean).sum(axis=0)
        n_groups = self.group_starts.size
        inverse = np.zeros(n_groups)
        inverse[self.tied_sets] = np.bincount(s, weights=h / a0, minlength=self.tied_sets.size)
        own = np.zeros(n_groups)
        own[self.tied_sets] = np.bincount(s, weights=h * f / a0, minlength=self.tied_sets.size)
        c = self._within_stratum_suffix(inverse)[self.group] - self.event * own[self.group]
        information = (self.x * (w * c)[:, None]).T @ self.x - (mean * h[:, None]).T @ mean
        return loglik, score, information


def _solve(information: np.ndarray, score: np.ndarray) -> np.ndarray:
    """information^-1 score; a singular information matrix gets its pseudo-inverse."""
    try:
        return np.linalg.solve(information, score)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(information) @ score


@dataclass
class CoxFit:
    """Result of :func:`cox_fit` (names as R's ``coxph`` object)."""

    coef: np.ndarray
    var: np.ndarray
    loglik: tuple[float, float]  # at beta = 0 and at the estimate
    score_test: float  # score test of beta = 0
    iterations: int
    converged: bool
    possibly_infinite: np.ndarray  # per coefficient: monotone likelihood suspected
    warnings: list[str]
    ties: str


def cox_fit(
    time: Sequence[float],
    event: Sequence[int],
    x: np.ndarray,
    strata: Sequence | None = None,
    ties: str = "efron",
    iter_max: int = COX_ITER_MAX,
    eps: float = COX_EPS,
) -> CoxFit:
    """Cox proportional hazards by Newton-Raphson, as R's ``coxph`` (survival 3.5).

    ``R: coxph(Surv(time, event) ~ x + strata(s), ties = "efron" | "breslow")``. The
    iteration is ``coxfit6``'s: start at beta = 0, Newton steps, step halving
    (beta_new <- (beta_new + k beta) / (k + 1) after the k-th failed step) whenever the
    log partial likelihood falls or is not finite, stop when
    ``|1 - loglik_old / loglik_new| <= eps`` (up to ``iter_max`` iterations). The
    variance is the inverse information at the estimate. As ``coxph.fit``, a
    coefficient whose next Newton step is still larger than ``eps`` and than
    ``sqrt(eps) |beta|`` is reported as possibly infinite (monotone likelihood), and
    running out of iterations is reported. Times are made equal within R's tolerance
    first (:func:`coxph_tied_times`). Ties: Efron's approximation or Breslow's
    (Therneau & Grambsch 2000, *Modeling Survival Data*, section 3.3); strata: separate
    baseline hazards, ties never cross strata.

    Written here because no well-kept library is both fast and complete: at 100,000
    rows lifelines' ``CoxPHFitter`` (Efron only, a Python loop over event times) took
    6-10x coxph's time, scikit-survival's ``CoxPHSurvivalAnalysis`` (no strata) 15x,
    statsmodels' ``PHReg`` 17-40x; this fitter takes about 0.25x (docs/scale.md).
    """
    if ties not in COX_TIES:
        raise ValueError(f"ties must be one of {COX_TIES}, not {ties!r}")
    time = coxph_tied_times(time)
    event = np.asarray(event, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    strata = np.zeros(time.size, dtype=int) if strata is None else pd.factorize(pd.Series(list(strata)), sort=True)[0]
    # coxfit6 centres every covariate; it changes no estimate but keeps exp() in range.
    risk = _RiskSets(time, event, x - x.mean(axis=0), strata, ties)
    p = x.shape[1]
    beta = np.zeros(p)
    loglik0, score, information = risk.sums(beta)
    step = _solve(information, score)
    score_test = float(score @ step)
    best, new_beta, halving, converged, notes = loglik0, beta + step, 0, False, []
    iterations = 0
    for iterations in range(1, iter_max + 1):  # noqa: B007 - the count is reported
        loglik, score, information = risk.sums(new_beta)
        finite = np.isfinite(loglik) and np.isfinite(score).all() and np.isfinite(information).all()
        if finite and abs(1 - best / loglik) <= eps:
            beta, best, converged = new_beta, loglik, True
            break
        if not finite or loglik < best:
            halving += 1
            new_beta = (new_beta + halving * beta) / (halving + 1.0)
        else:
            halving, best, beta = 0, loglik, new_beta
            new_beta = new_beta + _solve(information, score)
    if not converged:
        best, score, information = risk.sums(beta)
    try:
        var = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        var = np.linalg.pinv(information)
    infinite = np.zeros(p, dtype=bool)
    if not converged:
        notes.append("Ran out of iterations and did not converge")
    else:
        next_step = np.abs(score @ var)
        infinite = ~np.isfinite(score) | ((next_step > eps) & (next_step > COX_TOLER_INF * np.abs(beta)))
        if infinite.any():
            columns = ",".join(str(j + 1) for j in np.flatnonzero(infinite))
            notes.append(f"Loglik converged before variable {columns}; coefficient may be infinite")
    return CoxFit(beta, var, (loglik0, best), score_test, iterations, converged, infinite, notes, ties)


def _exp(value: float) -> float:
    """exp() that overflows to inf instead of raising, as R's exp()."""
    return math.exp(value) if value < 709.0 else math.inf


def cox_zph(
    time: Sequence[float],
    event: Sequence[int],
    x: np.ndarray,
    beta: np.ndarray,
    terms: dict[str, list[int]],
    strata: Sequence | None = None,
    ties: str = "efron",
) -> pd.DataFrame:
    """R ``cox.zph(fit, transform = "km")`` (survival >= 3.0) score tests of proportional hazards.

    ``x`` is the design matrix the model was fitted on, ``beta`` its estimates (with
    ``ties`` and ``strata`` as in :func:`cox_fit`), ``terms`` maps each term to its
    columns of ``x``. Returns ``chisq``, ``df``, ``p`` per term and a ``GLOBAL`` row.
    The per-tied-set scores U_k and informations I_k at ``beta`` enter as the weighted
    sums sum_k g_k U_k, sum_k g_k^r I_k (r = 0, 1, 2), each one call of
    :meth:`_RiskSets.sums`.
    """
    time = coxph_tied_times(time)
    event = np.asarray(event, dtype=float)
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    strata = np.zeros(time.size, dtype=int) if strata is None else pd.factorize(pd.Series(list(strata)), sort=True)[0]
    # g(t) = 1 - KM(t-) of the whole sample, centred on its mean over the events (R).
    curve = kaplan_meier(time, event)
    curve_times = curve["time"].to_numpy()
    left_surv = np.concatenate([[1.0], curve["surv"].to_numpy()])

    def g_at(times: np.ndarray) -> np.ndarray:
        return 1.0 - left_surv[np.searchsorted(curve_times, times, side="left")]

    g_mean = g_at(time[event > 0]).mean()
    risk = _RiskSets(time, event, x - x.mean(axis=0), strata, ties)
    g = g_at(risk.group_time[risk.tied_sets]) - g_mean
    _, _, a = risk.sums(beta)
    _, score_g, b = risk.sums(beta, g)
    _, _, c = risk.sums(beta, g**2)
    u = np.concatenate([np.zeros(p), score_g])
    imat = np.block([[a, b], [b, c]])

    def score_chisq(keep: list[int]) -> float:
        # A singular information matrix (e.g. a covariate constant among the events of a
        # tiny cohort) has no test; R's cox.zph stops there, we report it as missing.
        try:
            return float(u[keep] @ np.linalg.solve(imat[np.ix_(keep, keep)], u[keep]))
        except np.linalg.LinAlgError:
            log.warning("proportional-hazards test not computable: singular information matrix")
            return math.nan

    rows = []
    for name, columns in terms.items():
        chisq = score_chisq(list(range(p)) + [p + j for j in columns])
        rows.append((name, chisq, len(columns), float(special.chdtrc(len(columns), chisq))))
    chisq = score_chisq(list(range(2 * p)))
    rows.append(("GLOBAL", chisq, p, float(special.chdtrc(p, chisq))))
    return pd.DataFrame(rows, columns=["term", "chisq", "df", "p"]).set_index("term")


def design_matrix(frame: pd.DataFrame, covariates: Sequence[Covariate]) -> tuple[pd.DataFrame, dict, dict]:
    """Model columns for ``covariates`` on complete cases of ``frame``.

    Returns (design, terms, info): ``terms`` maps each covariate to its design columns,
    ``info[column]`` = (scale text, SD) per design column. Continuous columns are
    centred and divided by their sample SD (ddof = 1), negated for ``sd_decrease``.
    """
    design = {}
    terms: dict[str, list[int]] = {}
    info: dict[str, tuple[str, float]] = {}
    for covariate in covariates:
        values = frame[covariate.column]
        terms[covariate.column] = []
        if covariate.kind == "continuous":
            values = values.astype(float)
            sd = float(values.std(ddof=1))
            if covariate.scale == "unit":
                column = values - values.mean()
            else:
                sign = -1.0 if covariate.scale == "sd_decrease" else 1.0
                column = sign * (values - values.mean()) / sd
            name = covariate.column
            terms[covariate.column].append(len(design))
            design[name] = column.to_numpy()
            info[name] = (SCALE_TEXT[covariate.scale], sd)
        else:
            reference = covariate.levels[0]
            text = as_text(values)
            for level in covariate.levels[1:]:
                name = f"{covariate.column}[{level}]"
                terms[covariate.column].append(len(design))
                design[name] = (text == level).astype(float).to_numpy()
                shown = covariate.labels.get
                info[name] = (f"{shown(level, level)} vs {shown(reference, reference)}", math.nan)
    return pd.DataFrame(design, index=frame.index), terms, info


def cox_model(
    frame: pd.DataFrame,
    covariates: Sequence[Covariate],
    conf_level: float = 0.95,
    min_events_per_variable: float = 10.0,
    ties: str = "efron",
    strata: Sequence[str] = (),
) -> pd.DataFrame:
    """Fit one Cox model (:func:`cox_fit`) on ``frame`` (columns ``time``, ``event`` + covariates).

    ``frame`` must hold complete cases only; ``strata`` names columns of ``frame`` whose
    combinations get separate baseline hazards (R's ``strata()``). Returns one row per
    design column with ``term`` (the patients.tsv column), ``scale``, ``hr``, Wald
    ``ci_low``/``ci_high`` and ``p``, ``n``, ``events``, ``coef``, ``se``, ``sd``, the
    term's ``cox.zph`` test (``ph_chisq``, ``ph_df``, ``ph_p``), ``ph_global_p``,
    ``epv`` and ``warning``.
    """
    design, terms, info = design_matrix(frame, covariates)
    n, events = len(frame), int(frame["event"].sum())
    notes = []
    epv = events / design.shape[1]
    if epv < min_events_per_variable:
        notes.append(f"EPV {epv:.1f} < {min_events_per_variable:g} (Peduzzi 1996): the model may be over-fitted")
    time, event, x = frame["time"].to_numpy(float), frame["event"].to_numpy(float), design.to_numpy(float)
    stratum = None
    if strata:
        stratum = frame[list(strata)].astype(str).agg("\x1f".join, axis=1).to_numpy()
    fit = cox_fit(time, event, x, strata=stratum, ties=ties)
    if not fit.converged:
        notes.append("convergence: ran out of iterations and did not converge (coxph's warning)")
    for name in design.columns[fit.possibly_infinite]:
        notes.append(f"convergence: loglik converged before {name}; coefficient may be infinite (coxph's warning)")
    if not np.isfinite(fit.coef).all():
        log.warning("Cox model %s did not converge; no rows", "+".join(c.column for c in covariates))
        return pd.DataFrame(columns=COX_MODEL_COLUMNS)
    beta, se_all = fit.coef, np.sqrt(np.diag(fit.var))
    zph = cox_zph(time, event, x, beta, terms, strata=stratum, ties=ties)
    z = special.ndtri(1 - (1 - conf_level) / 2)
    rows = []
    column_term = {design.columns[j]: term for term, columns in terms.items() for j in columns}
    for name in design.columns:
        j = design.columns.get_loc(name)
        coef, se = float(beta[j]), float(se_all[j])
        term = column_term[name]
        rows.append(
            {
                "term": term,
                "scale": info[name][0],
                # Monotone likelihood (a group without events in a tiny cohort) drives
                # the coefficient towards infinity; R prints Inf, so do we.
                "hr": _exp(coef),
                "ci_low": _exp(coef - z * se),
                "ci_high": _exp(coef + z * se),
                "p": float(2 * special.ndtr(-abs(coef / se))),
                "n": n,
                "events": events,
                "coef": coef,
                "se": se,
                "sd": info[name][1],
                "ph_chisq": zph.loc[term, "chisq"],
                "ph_df": int(zph.loc[term, "df"]),
                "ph_p": zph.loc[term, "p"],
                "ph_global_p": zph.loc["GLOBAL", "p"],
                "epv": epv,
                "warning": "; ".join(notes),
            }
        )
    for note in notes:
        log.warning("Cox model %s: %s", "+".join(c.column for c in covariates), note)
    return pd.DataFrame(rows)
