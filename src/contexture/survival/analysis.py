"""Survival stage: Kaplan-Meier, log-rank and Cox tables of a cohort, as R's survival.

:func:`analyse` turns ``tables/patients.tsv`` and the cohort's ``survival`` options
(:class:`SurvivalOptions`) into the stage's tables: per endpoint the overall and
stratified Kaplan-Meier medians and landmark survival, log-rank tests (with the trend
test for ordered groups), univariable and multivariable Cox models and the median
follow-up. Stratifiers split a column as configured (``split: median``: high = above
the cohort median); covariates are continuous (standardized) when numeric with more
than two values, else categorical (:func:`covariate_for`). Columns that are absent, all
missing or constant are skipped with a log line.

Guarantee-time bias. A grouping known only after follow-up starts (best overall response,
responder, resistance, on-treatment PET or IHC, a change per week, irAEs) cannot be
compared from time zero: a patient must survive long enough to become a responder, so
the responders' early follow-up is "immortal" (Anderson, Cain & Gelber, J Clin Oncol
1983;1:710; Dafni, Circ Cardiovasc Qual Outcomes 2011;4:363). Such a column
(:func:`is_post_baseline`) is analysed by landmark: only patients still in follow-up
after the landmark (time > ``landmark_weeks``; an event or censoring at or before it
excludes the patient), with times counted from the landmark, as R's
``survfit(Surv(time - L, event) ~ g, data = subset(d, time > L))``. Every table row of
such an analysis carries ``landmark_weeks``; without a landmark (``landmark_weeks:
null``) the configuration is refused, naming the column (:func:`post_baseline_problems`).
The column's value is the one in patients.tsv (for example the best response over all
follow-up); classifying by the status reached by the landmark needs response dates and
is not done here.

The estimators themselves (Kaplan-Meier with R's pointwise CIs and median CI,
``survdiff``, ``coxph`` with Efron ties, ``cox.zph``, reverse-KM follow-up, events per
variable) are in :mod:`contexture.stats.survival`, with their formulas and references.
"""

from __future__ import annotations

__all__ = [
    "COX_COLUMNS",
    "ENDPOINTS",
    "KM_COLUMNS",
    "Stratifier",
    "SurvivalOptions",
    "analyse",
    "at_landmark",
    "covariate_for",
    "endpoint_frame",
    "is_post_baseline",
    "post_baseline_problems",
    "stratifier_groups",
    "usable_column",
]

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contexture.errors import ConfigError
from contexture.response import FEATURE_COLUMNS as RESPONSE_FEATURES
from contexture.stats.survival import (
    COX_MODEL_COLUMNS,
    Covariate,
    as_text,
    cox_model,
    kaplan_meier,
    logrank_test,
    median_followup,
    survival_at,
    survival_quantile,
)

log = logging.getLogger(__name__)

ENDPOINTS = ("pfs", "os")
DAYS_PER_MONTH = 30.4375  # months = days / 30.4375 (the clinical stage's convention)

# patients.tsv columns observed after the start of follow-up: the response stage's
# features, on-treatment imaging, toxicity and the treatment end. Further columns are
# declared with ``survival.post_baseline_columns``; any column whose name says it is
# on-treatment or a change is post-baseline too (POST_BASELINE_MARKERS).
POST_BASELINE_COLUMNS = (
    *[c for c in RESPONSE_FEATURES if c != "patient_id"],
    "irae_grade_max",
    "treatment_end_day",
    "progression_date",
    "death_date",
)
POST_BASELINE_MARKERS = ("on_treatment", "change", "per_week")
# Continuous Cox covariates are per SD increase unless configured; baseline PET uptake is
# per SD decrease, as the CD8-PET study reported it (schema default of cox.scales).
DEFAULT_SCALES = {"pet_geomean_suvmax_baseline": "sd_decrease"}

KM_COLUMNS = ["endpoint", "stratifier", "group", "n", "events", "median_months", "ci_low", "ci_high", "conf_type"]
LOGRANK_COLUMNS = ["endpoint", "stratifier", "test", "statistic", "df", "p", "groups", "n", "events", "landmark_weeks"]
COX_COLUMNS = ["endpoint", "model", *COX_MODEL_COLUMNS, "ties", "strata", "landmark_weeks"]
FOLLOWUP_COLUMNS = ["endpoint", "n", "censored", "median_months", "ci_low", "ci_high", "conf_type", "method"]


# --------------------------------------------------------------------------- the stage


@dataclass
class Stratifier:
    """A KM/log-rank grouping: a column, how to split it, group labels and their order."""

    column: str
    split: str = "none"  # "none" or "median" (above vs at-or-below the cohort median)
    labels: dict[str, str] = field(default_factory=dict)  # raw value (as text) -> label
    order: list[str] = field(default_factory=list)  # labels in natural order


def usable_column(patients: pd.DataFrame, column: str, what: str) -> bool:
    """True when ``column`` exists, has a value and is not constant; else log why not."""
    if column not in patients.columns:
        log.info("%s '%s': column absent from patients.tsv; skipped", what, column)
        return False
    values = patients[column].dropna()
    if values.empty:
        log.info("%s '%s': all values missing; skipped", what, column)
        return False
    if values.astype(str).nunique() < 2:
        log.info("%s '%s': constant (%r); skipped", what, column, values.iloc[0])
        return False
    return True


def stratifier_groups(patients: pd.DataFrame, stratifier: Stratifier) -> tuple[pd.Series, list[str] | None]:
    """Group label per patient (NA when missing) and the group order (None = unordered)."""
    values = patients[stratifier.column]
    if stratifier.split == "median":
        numeric = pd.to_numeric(values, errors="coerce")
        median = numeric.median()
        groups = pd.Series(np.where(numeric > median, "high", "low"), index=patients.index, dtype=object)
        groups[numeric.isna()] = pd.NA
        log.info("stratifier '%s': split at the cohort median %.6g (high = above)", stratifier.column, median)
        return groups, None if stratifier.order == [] else stratifier.order
    text = as_text(values)
    groups = text.map(lambda v: stratifier.labels.get(v, v) if not pd.isna(v) else pd.NA)
    present = list(dict.fromkeys(groups.dropna()))
    if stratifier.order and set(present) <= set(stratifier.order):
        return groups, [g for g in stratifier.order if g in present]
    if stratifier.order:
        log.info(
            "stratifier '%s': groups %s not all in the configured order %s; no trend test",
            stratifier.column,
            sorted(present),
            stratifier.order,
        )
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        ordered = [stratifier.labels.get(v, v) for v in as_text(pd.Series(sorted(values.dropna().unique())))]
        return groups, list(dict.fromkeys(ordered))
    return groups, None


def _group_order(groups: pd.Series, order: list[str] | None) -> list[str]:
    present = set(groups.dropna())
    if order is not None:
        return [g for g in order if g in present]
    return sorted(present)


def endpoint_frame(patients: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """``time`` (months) and ``event`` (0/1) of ``endpoint``; NaN where follow-up is missing."""
    time_column, event_column = f"{endpoint}_months", f"{endpoint}_event"
    if time_column not in patients.columns or event_column not in patients.columns:
        return pd.DataFrame({"time": np.nan, "event": np.nan}, index=patients.index)
    return pd.DataFrame(
        {
            "time": pd.to_numeric(patients[time_column], errors="coerce"),
            "event": pd.to_numeric(patients[event_column], errors="coerce"),
        },
        index=patients.index,
    )


def _km_row(time, event, conf_type, conf_level, landmarks) -> tuple[dict, pd.DataFrame]:
    curve = kaplan_meier(time, event, conf_type, conf_level)
    median, low, high = survival_quantile(curve)
    row = {"n": len(time), "events": int(np.sum(event)), "median_months": median, "ci_low": low, "ci_high": high}
    at = survival_at(curve, landmarks)
    for t, s, lo, hi in at.itertuples(index=False):
        label = f"surv_{t:g}m"
        row[label], row[f"{label}_ci_low"], row[f"{label}_ci_high"] = s, lo, hi
    return row, curve


@dataclass
class SurvivalOptions:
    """The cohort's ``survival`` config section (see src/contexture/schemas/cohort/survival.schema.yaml)."""

    endpoints: list[str] = field(default_factory=lambda: list(ENDPOINTS))
    conf_type: str = "log"
    conf_level: float = 0.95
    landmarks_months: list[float] = field(default_factory=lambda: [6.0, 12.0])
    stratifiers: list[Stratifier] = field(default_factory=list)
    univariable: list[str] = field(default_factory=list)
    models: dict[str, list[str]] = field(default_factory=dict)
    scale: str = "sd_increase"
    scales: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SCALES))
    min_events_per_variable: float = 10.0
    ties: str = "efron"
    strata: list[str] = field(default_factory=list)
    landmark_weeks: float | None = 12.0
    post_baseline_columns: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, section: dict) -> SurvivalOptions:
        cox = section.get("cox", {})
        return cls(
            endpoints=list(section.get("endpoints", ENDPOINTS)),
            conf_type=section.get("conf_type", "log"),
            conf_level=float(section.get("conf_level", 0.95)),
            landmarks_months=[float(t) for t in section.get("landmarks_months", [6, 12])],
            stratifiers=[
                Stratifier(
                    column=s["column"],
                    split=s.get("split", "none"),
                    labels={str(k): str(v) for k, v in s.get("labels", {}).items()},
                    order=[str(v) for v in s.get("order", [])],
                )
                for s in section.get("stratifiers", [])
            ],
            univariable=list(cox.get("univariable", [])),
            models={m["name"]: list(m["terms"]) for m in cox.get("models", [])},
            scale=cox.get("scale", "sd_increase"),
            scales=dict(cox.get("scales", DEFAULT_SCALES)),
            min_events_per_variable=float(cox.get("min_events_per_variable", 10)),
            ties=cox.get("ties", "efron"),
            strata=list(cox.get("strata", [])),
            landmark_weeks=None
            if section.get("landmark_weeks", 12) is None
            else float(section.get("landmark_weeks", 12)),
            post_baseline_columns=list(section.get("post_baseline_columns", [])),
        )

    def landmark_months(self, columns: list[str]) -> float | None:
        """The landmark (months) for an analysis of ``columns``; None when all are baseline.

        Raises :class:`ConfigError` naming the first post-baseline column when no landmark is set.
        """
        late = [c for c in columns if is_post_baseline(c, self.post_baseline_columns)]
        if not late:
            return None
        if self.landmark_weeks is None:
            raise ConfigError(_refusal(late[0]))
        return self.landmark_weeks * 7 / DAYS_PER_MONTH


def is_post_baseline(column: str, declared: list[str] = ()) -> bool:
    """True for a column observed after the start of follow-up (module docstring)."""
    return (
        column in POST_BASELINE_COLUMNS
        or column in declared
        or any(marker in column for marker in POST_BASELINE_MARKERS)
    )


def _refusal(column: str) -> str:
    return (
        f"survival: '{column}' is known only after follow-up starts (response, on-treatment or change "
        "measurements), so comparing survival by it from time zero has guarantee-time (immortal-time) bias; "
        "set survival.landmark_weeks (for example 12) to analyse it from a landmark, or remove it"
    )


def post_baseline_problems(section: dict) -> list[str]:
    """Why a cohort's ``survival`` section is refused: post-baseline columns without a landmark."""
    options = SurvivalOptions.from_config(section)
    if options.landmark_weeks is not None:
        return []
    used = [s.column for s in options.stratifiers] + options.univariable + options.strata
    used += [term for terms in options.models.values() for term in terms]
    late = [c for c in dict.fromkeys(used) if is_post_baseline(c, options.post_baseline_columns)]
    return [_refusal(column) for column in late]


def at_landmark(data: pd.DataFrame, landmark: float | None) -> tuple[pd.DataFrame, int]:
    """Patients in follow-up after ``landmark`` months with times from it, and how many were not.

    ``data`` has ``time`` and ``event``; None returns it unchanged (and 0).
    """
    if landmark is None:
        return data, 0
    after = data["time"] > landmark
    return data[after].assign(time=data.loc[after, "time"] - landmark), int((~after).sum())


def covariate_for(patients: pd.DataFrame, column: str, options: SurvivalOptions) -> Covariate:
    """Continuous if numeric (not boolean) with more than two values, else categorical.

    Categorical levels follow the stratifier's labels/order when the column is a
    configured stratifier (reference = first), otherwise sorted; booleans: false first.
    """
    values = patients[column].dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > 2:
        return Covariate(column, "continuous", scale=options.scales.get(column, options.scale))
    text = as_text(values)
    present = list(dict.fromkeys(text))
    spec = next((s for s in options.stratifiers if s.column == column and s.split == "none"), None)
    if spec is not None and spec.order:
        labelled = [spec.labels.get(v, v) for v in present]
        ordered = [g for g in spec.order if g in labelled]
        if len(ordered) == len(set(labelled)):
            inverse = {spec.labels.get(v, v): v for v in present}
            return Covariate(column, "categorical", levels=[inverse[g] for g in ordered], labels=spec.labels)
    labels = spec.labels if spec is not None else {}
    if set(present) <= {"true", "false"}:
        return Covariate(column, "categorical", levels=["false", "true"], labels=labels)
    return Covariate(column, "categorical", levels=sorted(present), labels=labels)


def analyse(patients: pd.DataFrame, options: SurvivalOptions) -> dict[str, pd.DataFrame]:
    """Every survival table of a cohort from its ``tables/patients.tsv``.

    Returns ``km``, ``logrank``, ``cox``, ``followup`` (the output tables) and
    ``curves`` (the KM step curves behind the figures). Patients without follow-up for
    an endpoint are excluded from it and counted (``n_missing_survival``); patients
    with follow-up but no group are counted in ``n_missing_group``.
    """
    landmarks = options.landmarks_months
    landmark_columns = [f"surv_{t:g}m{suffix}" for t in landmarks for suffix in ("", "_ci_low", "_ci_high")]
    km_rows, logrank_rows, cox_tables, followup_rows, curves = [], [], [], [], []
    for endpoint in options.endpoints:
        outcome = endpoint_frame(patients, endpoint)
        complete = outcome.notna().all(axis=1)
        missing_survival = int((~complete).sum())
        if not complete.any():
            log.info("endpoint %s: no patient has follow-up; no survival analyses", endpoint)
            continue
        if missing_survival:
            log.info("endpoint %s: %d patient(s) without follow-up excluded", endpoint, missing_survival)
        data = outcome[complete]
        # Overall curve and median follow-up.
        row, curve = _km_row(data["time"], data["event"], options.conf_type, options.conf_level, landmarks)
        km_rows.append({"endpoint": endpoint, "stratifier": "all", "group": "all", **row})
        km_rows[-1].update(n_missing_survival=missing_survival, n_missing_group=0)
        curves.append(curve.assign(endpoint=endpoint, stratifier="all", group="all"))
        followup = median_followup(data["time"], data["event"], options.conf_type, options.conf_level)
        followup_rows.append(
            {
                "endpoint": endpoint,
                "n": len(data),
                "censored": int((data["event"] == 0).sum()),
                "median_months": followup[0],
                "ci_low": followup[1],
                "ci_high": followup[2],
                "conf_type": options.conf_type,
                "method": "reverse Kaplan-Meier (Schemper & Smith 1996)",
            }
        )
        # Stratified curves and log-rank tests.
        for stratifier in options.stratifiers:
            if not usable_column(patients, stratifier.column, f"{endpoint} stratifier"):
                continue
            landmark = options.landmark_months([stratifier.column])
            base, before = at_landmark(data, landmark)
            weeks = options.landmark_weeks if landmark is not None else math.nan
            if landmark is not None:
                log.info(
                    "%s stratifier '%s' is post-baseline: landmark at %g weeks, %d patient(s) with an event or "
                    "censored before it excluded",
                    endpoint,
                    stratifier.column,
                    weeks,
                    before,
                )
            groups, order = stratifier_groups(patients, stratifier)
            groups = groups[complete].loc[base.index]
            has_group = groups.notna()
            levels = _group_order(groups[has_group], order)
            if len(levels) < 2:
                log.info(
                    "%s stratifier '%s': fewer than two groups with follow-up; skipped", endpoint, stratifier.column
                )
                continue
            for level in levels:
                members = has_group & (groups == level)
                row, curve = _km_row(
                    base.loc[members, "time"],
                    base.loc[members, "event"],
                    options.conf_type,
                    options.conf_level,
                    landmarks,
                )
                km_rows.append({"endpoint": endpoint, "stratifier": stratifier.column, "group": level, **row})
                km_rows[-1].update(
                    n_missing_survival=missing_survival,
                    n_missing_group=int((~has_group).sum()),
                    landmark_weeks=weeks,
                    n_before_landmark=before if landmark is not None else math.nan,
                )
                curves.append(curve.assign(endpoint=endpoint, stratifier=stratifier.column, group=level))
            subset = base[has_group]
            if subset["event"].sum() == 0:
                log.info("%s stratifier '%s': no events; no log-rank test", endpoint, stratifier.column)
                continue
            test = logrank_test(subset["time"], subset["event"], groups[has_group], order=levels)
            common = {
                "endpoint": endpoint,
                "stratifier": stratifier.column,
                "groups": ";".join(levels),
                "n": len(subset),
                "events": int(subset["event"].sum()),
                "landmark_weeks": weeks,
            }
            logrank_rows.append({**common, "test": "log-rank", "statistic": test.statistic, "df": test.df, "p": test.p})
            if order is not None and len(levels) >= 3 and not math.isnan(test.trend_statistic):
                logrank_rows.append(
                    {**common, "test": "log-rank trend", "statistic": test.trend_statistic, "df": 1, "p": test.trend_p}
                )
        # Cox models.
        models = [("univariable", [c]) for c in options.univariable] + list(options.models.items())
        strata_usable = [c for c in options.strata if usable_column(patients, c, f"{endpoint} Cox stratum")]
        for name, columns in models:
            what = f"{endpoint} Cox model '{name}'" + (f" of {columns[0]}" if name == "univariable" else "")
            usable = [c for c in columns if usable_column(patients, c, f"{what}: term")]
            if len(usable) < len(columns):
                if len(columns) > 1:
                    log.info("%s: skipped (a term is unusable)", what)
                continue
            strata = [c for c in strata_usable if c not in columns]
            landmark = options.landmark_months(columns + strata)
            base, before = at_landmark(data, landmark)
            if landmark is not None:
                log.info(
                    "%s: a term is post-baseline; landmark at %g weeks (%d patient(s) excluded before it)",
                    what,
                    options.landmark_weeks,
                    before,
                )
            frame = base.join(patients[columns + strata])
            frame = frame[frame[columns + strata].notna().all(axis=1)]
            if frame["event"].sum() == 0 or len(frame) < 2:
                log.info("%s: no events among complete cases; skipped", what)
                continue
            covariates = [covariate_for(frame, c, options) for c in columns]
            if any(c.kind == "continuous" and frame[c.column].astype(float).std(ddof=1) == 0 for c in covariates):
                log.info("%s: a covariate is constant among complete cases; skipped", what)
                continue
            if any(c.kind == "categorical" and len(c.levels) < 2 for c in covariates):
                log.info("%s: a factor has one level among complete cases; skipped", what)
                continue
            log.info("%s: %d patients, %d events", what, len(frame), frame["event"].sum())
            table = cox_model(
                frame,
                covariates,
                options.conf_level,
                options.min_events_per_variable,
                ties=options.ties,
                strata=strata,
            )
            if len(table):
                cox_tables.append(
                    table.assign(
                        endpoint=endpoint,
                        model=name,
                        ties=options.ties,
                        strata="+".join(strata),
                        landmark_weeks=options.landmark_weeks if landmark is not None else math.nan,
                    )
                )
    km_columns = (
        KM_COLUMNS
        + landmark_columns
        + [
            "n_missing_survival",
            "n_missing_group",
            "landmark_weeks",
            "n_before_landmark",
        ]
    )
    km = pd.DataFrame(km_rows, columns=km_columns)
    km["conf_type"] = options.conf_type
    cox = pd.concat(cox_tables, ignore_index=True) if cox_tables else pd.DataFrame(columns=COX_COLUMNS)
    curve_columns = [
        "endpoint",
        "stratifier",
        "group",
        "time",
        "n_risk",
        "n_event",
        "n_censor",
        "surv",
        "lower",
        "upper",
    ]
    return {
        "km": km,
        "logrank": pd.DataFrame(logrank_rows, columns=LOGRANK_COLUMNS),
        "cox": cox[COX_COLUMNS],
        "followup": pd.DataFrame(followup_rows, columns=FOLLOWUP_COLUMNS),
        "curves": pd.concat(curves, ignore_index=True)[curve_columns]
        if curves
        else pd.DataFrame(columns=curve_columns),
    }
