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
Cox proportional hazards (:func:`cox_model`)
    Efron's method for ties (``coxph``'s default): lifelines' ``CoxPHFitter``; Breslow's
    (the default of SAS PROC PHREG and SPSS): statsmodels' ``PHReg(ties="breslow")``;
    both with optional strata (a separate baseline hazard per stratum, ``coxph(... +
    strata(s))``); Wald CIs and p. Continuous covariates are standardized by the sample SD (ddof = 1) of
    the model's complete cases, so the hazard ratio is per SD increase, or per SD
    decrease when the sign is flipped (the CD8-PET study reports per SD decrease).
    Categorical covariates are indicator-coded against their first level.
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

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CONF_TYPES",
    "QUANTILE_TOLERANCE",
    "SCALE_TEXT",
    "COX_MODEL_COLUMNS",
    "kaplan_meier",
    "survival_quantile",
    "survival_at",
    "median_followup",
    "LogRank",
    "logrank_test",
    "as_text",
    "Covariate",
    "cox_zph",
    "design_matrix",
    "cox_model",
]

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
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
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
        p = float(stats.chi2.sf(statistic, df))
    result = LogRank(groups, observed, expected, variance, statistic, df, p)
    if order is not None and k >= 3:
        weights = np.arange(1, k + 1, dtype=float)
        numerator = weights @ (observed - expected)
        denominator = weights @ variance @ weights
        if denominator > 0:
            result.trend_statistic = float(numerator**2 / denominator)
            result.trend_p = float(stats.chi2.sf(result.trend_statistic, 1))
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


def _cox_pieces(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    beta: np.ndarray,
    ties: str = "efron",
    strata: np.ndarray | None = None,
):
    """Per event time (and stratum): score sum and information, Efron or Breslow (R coxph).

    With ``strata`` the risk sets are those of each stratum; the event times of all
    strata are returned together (a time may repeat, once per stratum).
    """
    if strata is not None:
        pieces = [
            _cox_pieces(time[strata == k], event[strata == k], x[strata == k], beta, ties) for k in np.unique(strata)
        ]
        return tuple(np.concatenate(part) for part in zip(*pieces, strict=True))
    order = np.argsort(time, kind="stable")
    time, event, x = time[order], event[order], x[order]
    w = np.exp(x @ beta)
    # Risk-set sums for subjects with time >= t: suffix sums in time order.
    s0 = w[::-1].cumsum()[::-1]
    s1 = (w[:, None] * x)[::-1].cumsum(axis=0)[::-1]
    s2 = (w[:, None, None] * x[:, :, None] * x[:, None, :])[::-1].cumsum(axis=0)[::-1]
    event_times = np.unique(time[event > 0])
    first = np.searchsorted(time, event_times, side="left")
    scores, informations = [], []
    for t, start in zip(event_times, first, strict=True):
        dead = (time == t) & (event > 0)
        d = int(dead.sum())
        t0, t1 = w[dead].sum(), (w[dead, None] * x[dead]).sum(axis=0)
        t2 = (w[dead, None, None] * x[dead, :, None] * x[dead, None, :]).sum(axis=0)
        score = x[dead].sum(axis=0)
        information = np.zeros((x.shape[1], x.shape[1]))
        for j in range(d):
            f = j / d if ties == "efron" else 0.0
            a0, a1, a2 = s0[start] - f * t0, s1[start] - f * t1, s2[start] - f * t2
            mean = a1 / a0
            score = score - mean
            information += a2 / a0 - np.outer(mean, mean)
        scores.append(score)
        informations.append(information)
    return event_times, np.array(scores), np.array(informations)


def _exp(value: float) -> float:
    """exp() that overflows to inf instead of raising, as R's exp()."""
    return math.exp(value) if value < 709.0 else math.inf


def cox_zph(
    time: Sequence[float],
    event: Sequence[int],
    x: np.ndarray,
    beta: np.ndarray,
    terms: dict[str, list[int]],
    ties: str = "efron",
    strata: np.ndarray | None = None,
) -> pd.DataFrame:
    """R ``cox.zph(fit, transform = "km")`` (survival >= 3.0) score tests of proportional hazards.

    ``x`` is the design matrix the model was fitted on, ``beta`` its estimates under
    ``ties``, ``strata`` the stratum code of each row (or None); g(t) is the KM of the
    whole sample, as R. ``terms`` maps each term to its columns of ``x``. Returns
    ``chisq``, ``df``, ``p`` per term and a ``GLOBAL`` row.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    # g(t) = 1 - KM(t-) of the whole sample, centred on its mean over the events (R).
    curve = kaplan_meier(time, event)
    position = np.searchsorted(curve["time"].to_numpy(), time, side="left")
    left_surv = np.concatenate([[1.0], curve["surv"].to_numpy()])[position]
    g_subject = 1.0 - left_surv
    g_subject = g_subject - g_subject[event > 0].mean()
    event_times, scores, informations = _cox_pieces(time, event, x, beta, ties, strata)
    g = np.array([g_subject[(time == t) & (event > 0)][0] for t in event_times])
    u = np.concatenate([np.zeros(p), (g[:, None] * scores).sum(axis=0)])
    a = informations.sum(axis=0)
    b = (g[:, None, None] * informations).sum(axis=0)
    c = (g[:, None, None] ** 2 * informations).sum(axis=0)
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
        rows.append((name, chisq, len(columns), float(stats.chi2.sf(chisq, len(columns)))))
    chisq = score_chisq(list(range(2 * p)))
    rows.append(("GLOBAL", chisq, p, float(stats.chi2.sf(chisq, p))))
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
    *,
    ties: str = "efron",
    strata: Sequence[str] = (),
) -> pd.DataFrame:
    """Fit one Cox model on ``frame`` (columns ``time``, ``event``, covariates and ``strata``).

    ``ties`` is ``"efron"`` (lifelines) or ``"breslow"`` (statsmodels); ``strata`` names
    columns whose combinations get their own baseline hazard. ``frame`` must hold
    complete cases only. Returns one row per design column with
    ``term`` (the patients.tsv column), ``scale``, ``hr``, Wald ``ci_low``/``ci_high``
    and ``p``, ``n``, ``events``, ``coef``, ``se``, ``sd``, the term's ``cox.zph`` test
    (``ph_chisq``, ``ph_df``, ``ph_p``), ``ph_global_p``, ``epv`` and ``warning``.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    design, terms, info = design_matrix(frame, covariates)
    n, events = len(frame), int(frame["event"].sum())
    notes = []
    epv = events / design.shape[1]
    if epv < min_events_per_variable:
        notes.append(f"EPV {epv:.1f} < {min_events_per_variable:g} (Peduzzi 1996): the model may be over-fitted")
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    data = design.assign(time=frame["time"].to_numpy(float), event=frame["event"].to_numpy(float))
    stratum = None
    if strata:
        stratum = pd.factorize(pd.MultiIndex.from_frame(as_text_frame(frame[list(strata)])), sort=True)[0]
    if ties == "breslow":
        summary = _breslow_fit(data, design.columns, stratum, notes)
    else:
        fitter = CoxPHFitter(alpha=1 - conf_level)
        fit_data = data.assign(stratum_=stratum) if stratum is not None else data
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                fitter.fit(
                    fit_data,
                    duration_col="time",
                    event_col="event",
                    strata=["stratum_"] if stratum is not None else None,
                )
            except ConvergenceError as error:
                log.warning("Cox model %s did not converge; no rows: %s", "+".join(c.column for c in covariates), error)
                return pd.DataFrame(columns=COX_MODEL_COLUMNS)
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                notes.append("convergence: " + str(warning.message).split("\n")[0].strip())
        summary = fitter.summary
    beta = summary["coef"].reindex(design.columns).to_numpy(float)
    zph = cox_zph(data["time"], data["event"], design.to_numpy(float), beta, terms, ties, stratum)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    rows = []
    column_term = {design.columns[j]: term for term, columns in terms.items() for j in columns}
    for name in design.columns:
        coef, se = float(summary.loc[name, "coef"]), float(summary.loc[name, "se(coef)"])
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
                "p": float(2 * stats.norm.sf(abs(coef / se))),
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


def as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`as_text` of every column."""
    return frame.apply(as_text)


def _breslow_fit(data: pd.DataFrame, columns, stratum: np.ndarray | None, notes: list[str]) -> pd.DataFrame:
    """statsmodels ``PHReg(ties="breslow")``: ``coef`` and ``se(coef)`` per design column."""
    from statsmodels.duration.hazard_regression import PHReg

    model = PHReg(
        data["time"].to_numpy(float),
        data[list(columns)].to_numpy(float),
        status=data["event"].to_numpy(float),
        strata=stratum,
        ties="breslow",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = model.fit(gtol=1e-10)
    for warning in caught:
        if "converge" in str(warning.message).lower():
            notes.append("convergence: " + str(warning.message).split("\n")[0].strip())
    return pd.DataFrame({"coef": result.params, "se(coef)": result.bse}, index=list(columns))
