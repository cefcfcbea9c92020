"""Biodistribution and dose finding of a PET tracer from reference-region uptake.

Part A of the 89ZED88082A study (Kist de Ruijter L, et al. Nat Med 2022;28:2601-2610)
imaged patients 0, 2, 4 and 7 days after injection of 89ZED88082A at a 4 or 10 mg
protein dose and chose the imaging day and dose from the uptake of normal tissues --
the blood pool (tracer still circulating: lesion contrast) and the spleen (a CD8-rich
antigen sink that takes up more of a low protein dose). This module turns the
reference-region table of the pet stage (one row per scan and region, with
``days_post_injection`` and ``protein_dose_mg``) into:

* a biodistribution table per tissue, day and statistic (SUVmean, SUVmax):

  - ``model``: the geometric mean SUV per tissue and day, adjusted for dose, from the
    linear mixed model (REML)

        ln SUV_pd = mu_d + sum_j beta_j (x_pj - 1/K) + b_p + e_pd,
        b_p ~ N(0, s_b^2),  e_pd ~ N(0, s_e^2),

    with day d categorical, x_pj = 1 when patient p received dose level j (j = 2..K,
    the lowest dose the reference) and a random intercept b_p per patient (repeated
    scans of a patient). Dose is coded in deviations from its mean over the K levels,
    so exp(mu_d) is the geometric mean averaged with equal weight over the doses (the
    estimated marginal mean of ``emmeans``; R: ``emmeans(lmer(log(suv) ~ day + dose +
    (1 | patient)), ~ day, lmer.df = "satterthwaite")``); ``ci_level`` t interval with Satterthwaite df (``df``
    column; the band of the figure).
  - ``model`` rows per dose: exp(mu_d + beta_j - mean(beta)), the same model's geometric
    mean at each dose (parallel on the log scale), with its Satterthwaite t interval.
  - ``descriptive`` rows per dose: arithmetic mean, SD and t interval of the mean over
    patients (``df`` = patients - 1).

* a dose comparison per tissue (``comparison_tissues``) and day: the ratio of geometric
  means (dose j / lowest dose) from the cell-means model ``ln SUV ~ 0 + day:dose +
  (1 | patient)`` (REML) with its Satterthwaite t interval and t-test; over all days the
  ratio of the main-effects model above with its t interval and t-test, an F test of
  dose with Satterthwaite denominator df when there are 3 or more dose levels, and the F
  test of the day-by-dose interaction (Satterthwaite denominator df).

Inference on the fixed effects is small-sample, as lmerTest (Kuznetsova, Brockhoff &
Christensen 2017, J Stat Softw 82(13)) and as the lesion models of
:mod:`contexture.pet.models`: :meth:`contexture.stats.mixed.MixedFit.t_test` (t with
Satterthwaite df; R: ``lmerTest::contest1D(fit, L, confint = TRUE)``) and
:meth:`~contexture.stats.mixed.MixedFit.f_test` (R: ``anova(fit)``, type III, on the
treatment-coded model). A dose-finding part has a handful of patients, so normal-quantile
(Wald) intervals would be too narrow; one test per contrast (no likelihood-ratio test
beside the t-test). Mixed models are fitted by
:func:`contexture.stats.mixed.fit_random_intercepts` (the profiled REML of lme4, checked
against ``statsmodels.MixedLM``).
"""

from __future__ import annotations

__all__ = [
    "biodistribution_table",
    "descriptive_rows",
    "dose_comparison",
    "interaction_contrasts",
    "model_rows",
    "prepare_reference_regions",
    "tissue_name",
]

import logging
import math

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.pet.models import T_METHOD
from contexture.stats.mixed import FTest, MixedFit, fit_random_intercepts

log = logging.getLogger(__name__)

TISSUE_ORDER = ["blood_pool", "spleen", "liver", "kidney_cortex", "bone_marrow", "lymph_node", "muscle"]
# Region names of the reference-region table mapped to tissue names (lower case).
TISSUE_ALIASES = {
    "aorta": "blood_pool",
    "blood": "blood_pool",
    "bloodpool": "blood_pool",
    "blood_pool": "blood_pool",
    "left_ventricle": "blood_pool",
    "kidney": "kidney_cortex",
    "kidney_cortex": "kidney_cortex",
    "renal_cortex": "kidney_cortex",
    "bone_marrow": "bone_marrow",
    "marrow": "bone_marrow",
    "lymph_node": "lymph_node",
    "lymph_nodes": "lymph_node",
    "lymph_node_normal": "lymph_node",
}
STATISTICS = ("suvmean", "suvmax")
TABLE_COLUMNS = [
    "tissue",
    "day",
    "dose_mg",
    "statistic",
    "estimate",
    "ci_low",
    "ci_high",
    "df",
    "sd",
    "n_patients",
    "method",
]
COMPARISON_COLUMNS = [
    "tissue",
    "day",
    "statistic",
    "dose_mg",
    "reference_dose_mg",
    "geomean",
    "geomean_reference",
    "ratio",
    "ci_low",
    "ci_high",
    "p",
    "test_statistic",
    "df",
    "n_patients",
    "n_patients_reference",
    "method",
]
DEFAULT_OPTIONS = {"comparison_tissues": ["blood_pool", "spleen"], "ci_level": 0.95}


def tissue_name(region: str) -> str:
    """The tissue a reference region belongs to (``aorta`` -> ``blood_pool``)."""
    key = str(region).strip().lower().replace(" ", "_").replace("-", "_")
    return TISSUE_ALIASES.get(key, key)


def prepare_reference_regions(references: pd.DataFrame) -> pd.DataFrame:
    """One row per patient, scan day after injection and tissue: SUVmean, SUVmax, dose.

    Keeps rows with ``days_post_injection``. Several labels (or regions) of one tissue in
    one scan are pooled: SUVmean weighted by voxels (plain mean without voxel counts),
    SUVmax the largest. A non-positive SUV is an error (log scale).
    """
    required = {"patient_id", "region", "suvmean", "days_post_injection"}
    missing = required - set(references.columns)
    if missing:
        raise InputError(f"reference-region table lacks column(s) {sorted(missing)}")
    frame = references[references["days_post_injection"].notna() & references["suvmean"].notna()].copy()
    if "protein_dose_mg" not in frame.columns:
        frame["protein_dose_mg"] = np.nan
    if "suvmax" not in frame.columns:
        frame["suvmax"] = np.nan
    for column in ("suvmean", "suvmax"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column] <= 0
        if bad.any():
            row = frame[bad].iloc[0]
            raise InputError(
                f"reference region '{row['region']}' of patient {row['patient_id']} has {column} {row[column]} "
                "(> 0 expected: uptake is modelled on the log scale)"
            )
    frame["patient_id"] = frame["patient_id"].astype(str)
    frame["tissue"] = frame["region"].map(tissue_name)
    frame["day"] = frame["days_post_injection"].astype(float)
    frame["dose_mg"] = pd.to_numeric(frame["protein_dose_mg"], errors="coerce").astype(float)
    weights = pd.to_numeric(frame["voxels"], errors="coerce") if "voxels" in frame.columns else None
    frame["_w"] = 1.0 if weights is None else weights.fillna(1.0).astype(float)
    frame["_wmean"] = frame["suvmean"] * frame["_w"]
    keys = ["patient_id", "day", "tissue"]
    grouped = frame.groupby(keys, sort=True, dropna=False)
    low, high = grouped["dose_mg"].min(), grouped["dose_mg"].max()
    conflicting = low.index[(low != high) & low.notna()]
    if len(conflicting):
        raise InputError(f"patient {conflicting[0][0]} has several protein doses on one scan day")
    out = pd.DataFrame(
        {
            "suvmean": grouped["_wmean"].sum() / grouped["_w"].sum(),
            "suvmax": grouped["suvmax"].max(),
            "dose_mg": low,
        }
    ).reset_index()
    order = {t: i for i, t in enumerate(TISSUE_ORDER)}
    out["_order"] = out["tissue"].map(order).fillna(len(order))
    out = out.sort_values(["_order", "tissue", "patient_id", "day"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


def _day_label(day: float) -> str:
    return f"{day:g}"


def _dose_label(dose: float) -> str:
    return f"{dose:g}"


def _main_effects_design(days: np.ndarray, doses: np.ndarray | None, day_levels, dose_levels) -> pd.DataFrame:
    """Cell-means columns per day and mean-deviation columns for doses 2..K."""
    design = {f"day={_day_label(d)}": (days == d).astype(float) for d in day_levels}
    if doses is not None:
        k = len(dose_levels)
        for dose in dose_levels[1:]:
            design[f"dose={_dose_label(dose)}"] = (doses == dose).astype(float) - 1.0 / k
    return pd.DataFrame(design)


def _cell_design(days: np.ndarray, doses: np.ndarray, cells: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {f"day={_day_label(d)}:dose={_dose_label(j)}": ((days == d) & (doses == j)).astype(float) for d, j in cells}
    )


def _fit(y, design: pd.DataFrame, groups) -> MixedFit | None:
    try:
        return fit_random_intercepts(y, design, groups)
    except (ValueError, np.linalg.LinAlgError) as error:
        log.info("model %s not fitted: %s", list(design.columns), error)
        return None


def _t(fit: MixedFit, weights: dict, ci_level: float) -> tuple[float, float, float, float, float, float]:
    """exp(estimate), exp(CI), Satterthwaite df, t and two-sided p of a log-scale contrast
    (R: ``lmerTest::contest1D(fit, L, confint = TRUE)``)."""
    test = fit.t_test(weights)
    low, high = test.interval(ci_level)
    return math.exp(test.estimate), math.exp(low), math.exp(high), test.df, test.t, test.p


def interaction_contrasts(days: np.ndarray, doses: np.ndarray, cells: list[tuple[float, float]]) -> np.ndarray | None:
    """Rows over the cell means (columns in ``cells`` order) testing the day-by-dose interaction.

    The basis is the one ``anova(lmerTest::lmer(ln SUV ~ day * dose + (1 | patient)))``
    (type III) tests: the interaction coefficients of the treatment-coded design X_T
    (first day and lowest dose the references; columns of absent cells dropped), mapped to
    the cell means as beta_T = X_T^+ X_cell mu (lmerTest's ``ginv(X) %*% Xorig``). The
    Satterthwaite denominator df depend on this basis, the F statistic does not. None when
    the design has no interaction degrees of freedom or X_T does not span the cell means.
    """
    day_levels = sorted(set(days))
    dose_levels = sorted(set(doses))
    columns = [np.ones(days.size)]
    columns += [(days == d).astype(float) for d in day_levels[1:]]
    columns += [(doses == j).astype(float) for j in dose_levels[1:]]
    main = len(columns)
    columns += [
        ((days == d) & (doses == j)).astype(float)
        for d in day_levels[1:]
        for j in dose_levels[1:]
        if (d, j) in set(cells)
    ]
    treatment = np.column_stack(columns)
    cell = _cell_design(days, doses, cells).to_numpy()
    full_rank = np.linalg.matrix_rank(treatment) == treatment.shape[1] == len(cells)
    if treatment.shape[1] == main or not full_rank:
        return None
    rows = (np.linalg.pinv(treatment) @ cell)[main:]
    rows[np.abs(rows) < 1e-10] = 0.0
    return rows


def _row(tissue, day, dose, statistic, estimate, low, high, df, sd, n, method) -> dict:
    values = (tissue, day, dose, statistic, estimate, low, high, df, sd, n, method)
    return dict(zip(TABLE_COLUMNS, values, strict=True))


def descriptive_rows(data: pd.DataFrame, ci_level: float) -> list[dict]:
    """Arithmetic mean, SD and t interval of the mean per tissue, day, dose and statistic."""
    from scipy import stats  # on first use: a job that never calls this need not import it

    rows = []
    for statistic in STATISTICS:
        usable = data[data[statistic].notna()]
        for (tissue, day, dose), part in usable.groupby(["tissue", "day", "dose_mg"], sort=False, dropna=False):
            values = part[statistic].to_numpy(dtype=float)
            n = values.size
            mean = float(values.mean())
            sd = float(values.std(ddof=1)) if n > 1 else math.nan
            half = float(stats.t.ppf(0.5 + ci_level / 2, n - 1)) * sd / math.sqrt(n) if n > 1 else math.nan
            rows.append(
                _row(tissue, day, dose, statistic, mean, mean - half, mean + half, n - 1 if n > 1 else math.nan, sd,
                     part["patient_id"].nunique(),
                     f"descriptive: arithmetic mean and SD over patients; t {ci_level:.0%} CI of the mean")
            )  # fmt: skip
    return rows


def model_rows(data: pd.DataFrame, tissue: str, statistic: str, ci_level: float) -> list[dict]:
    """Dose-adjusted geometric means per day (and per dose) of one tissue from the LMM."""
    frame = data[data[statistic].notna()]
    dosed = frame["dose_mg"].notna()
    if dosed.any() and not dosed.all():
        log.info("%s %s: %d scan(s) without protein_dose_mg left out of the model", tissue, statistic, (~dosed).sum())
        frame = frame[dosed]
    if frame.empty:
        return []
    day_levels = sorted(frame["day"].unique())
    dose_levels = sorted(frame["dose_mg"].dropna().unique())
    use_dose = len(dose_levels) >= 2
    days = frame["day"].to_numpy()
    doses = frame["dose_mg"].to_numpy() if use_dose else None
    design = _main_effects_design(days, doses, day_levels, dose_levels)
    fit = _fit(np.log(frame[statistic].to_numpy(dtype=float)), design, frame["patient_id"].to_numpy())
    if fit is None:
        return []
    pct = f"{ci_level:.0%}"
    adjusted = "adjusted for protein dose (equal-weight average over doses, as emmeans), " if use_dose else ""
    formula = "ln SUV ~ day + dose + (1 | patient)" if use_dose else "ln SUV ~ day + (1 | patient)"
    rows = []
    for day in day_levels:
        on_day = frame["day"] == day
        name = f"day={_day_label(day)}"
        estimate, low, high, df, _, _ = _t(fit, {name: 1.0}, ci_level)
        rows.append(
            _row(tissue, day, math.nan, statistic, estimate, low, high, df, math.nan,
                 frame.loc[on_day, "patient_id"].nunique(),
                 f"model: geometric mean, REML LMM {formula}, {adjusted}{pct} CI: {T_METHOD}")
        )  # fmt: skip
        if not use_dose:
            continue
        k = len(dose_levels)
        for dose in dose_levels:
            # Dose columns are x_j - 1/K: at dose j the linear predictor is mu_d + sum_l beta_l ([l = j] - 1/K).
            weights = {name: 1.0}
            for level in dose_levels[1:]:
                weights[f"dose={_dose_label(level)}"] = float(level == dose) - 1.0 / k
            estimate, low, high, df, _, _ = _t(fit, weights, ci_level)
            rows.append(
                _row(tissue, day, dose, statistic, estimate, low, high, df, math.nan,
                     frame.loc[on_day & (frame["dose_mg"] == dose), "patient_id"].nunique(),
                     f"model: geometric mean at this dose, REML LMM {formula} (dose effect constant over days, "
                     f"{k} dose levels), {pct} CI: {T_METHOD}")
            )  # fmt: skip
    return rows


def biodistribution_table(references: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """The biodistribution table (see the module docstring) from the reference-region table."""
    options = {**DEFAULT_OPTIONS, **(options or {})}
    data = prepare_reference_regions(references)
    rows = []
    for tissue in data["tissue"].unique():
        part = data[data["tissue"] == tissue]
        for statistic in STATISTICS:
            rows += model_rows(part, tissue, statistic, options["ci_level"])
    rows += descriptive_rows(data, options["ci_level"])
    return _sorted(pd.DataFrame(rows, columns=TABLE_COLUMNS), data)


def _sorted(table: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    order = {t: i for i, t in enumerate(data["tissue"].unique())}
    table = table.assign(
        _t=table["tissue"].map(order),
        _s=table["statistic"].map({s: i for i, s in enumerate(STATISTICS)}),
        _m=table["method"].str.startswith("descriptive").astype(int),
        _d=table["dose_mg"].fillna(-1.0),
    )
    table = table.sort_values(["_t", "_s", "_m", "day", "_d"], kind="stable")
    return table.drop(columns=["_t", "_s", "_m", "_d"]).reset_index(drop=True)


def dose_comparison(references: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """Ratio of geometric mean uptake between protein doses per tissue and day (and overall).

    For each tissue of ``comparison_tissues`` and statistic: per day the ratio dose j /
    lowest dose from the REML cell-means model ``ln SUV ~ 0 + day:dose + (1 | patient)``
    with its Satterthwaite t interval and t-test; over all days (``day`` empty) the ratio
    of the main-effects model ``day + dose`` (REML) with its t interval and t-test, with 3
    or more doses an F test of dose, and as a separate row the F test of the day-by-dose
    interaction (:func:`interaction_contrasts`), both with Satterthwaite denominator df.
    ``test_statistic`` is t or F; ``df`` the t df or the F denominator df (numerator in
    ``method``).
    """
    options = {**DEFAULT_OPTIONS, **(options or {})}
    data = prepare_reference_regions(references)
    data = data[data["dose_mg"].notna()]
    rows = []
    for tissue in [tissue_name(t) for t in options["comparison_tissues"]]:
        part = data[data["tissue"] == tissue]
        dose_levels = sorted(part["dose_mg"].unique())
        if len(dose_levels) < 2:
            log.info("dose comparison of %s skipped: %d protein dose level(s)", tissue, len(dose_levels))
            continue
        for statistic in STATISTICS:
            rows += _compare(part[part[statistic].notna()], tissue, statistic, dose_levels, options["ci_level"])
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _f_text(test: FTest) -> str:
    return f"F({test.df_num}, {test.df_den:.1f}); df = denominator df"


def _compare(frame: pd.DataFrame, tissue: str, statistic: str, dose_levels, ci_level: float) -> list[dict]:
    reference = dose_levels[0]
    pct = f"{ci_level:.0%}"
    y = np.log(frame[statistic].to_numpy(dtype=float))
    days, doses, groups = frame["day"].to_numpy(), frame["dose_mg"].to_numpy(), frame["patient_id"].to_numpy()
    day_levels = sorted(frame["day"].unique())
    cells = [(d, j) for d in day_levels for j in dose_levels if ((days == d) & (doses == j)).any()]
    cell_design = _cell_design(days, doses, cells)
    cell_fit = _fit(y, cell_design, groups)

    def patients(day, dose):
        mask = frame["dose_mg"] == dose
        if day is not None:
            mask &= frame["day"] == day
        return int(frame.loc[mask, "patient_id"].nunique())

    def row(*values) -> dict:
        return dict(zip(COMPARISON_COLUMNS, values, strict=True))

    rows = []
    for day in day_levels:
        ref_cell = f"day={_day_label(day)}:dose={_dose_label(reference)}"
        if ref_cell not in cell_design.columns or cell_fit is None:
            continue
        for dose in dose_levels[1:]:
            cell = f"day={_day_label(day)}:dose={_dose_label(dose)}"
            if cell not in cell_design.columns:
                continue
            ratio, low, high, df, t, p = _t(cell_fit, {cell: 1.0, ref_cell: -1.0}, ci_level)
            rows.append(row(
                tissue, day, statistic, dose, reference,
                math.exp(cell_fit.params[cell]), math.exp(cell_fit.params[ref_cell]),
                ratio, low, high, p, t, df, patients(day, dose), patients(day, reference),
                f"ratio of geometric means at this day, REML LMM ln SUV ~ 0 + day:dose + (1 | patient); {pct} CI "
                f"and t-test p: {T_METHOD}",
            ))  # fmt: skip
    # Over all days: main effects (dose constant over days), and the interaction test.
    main = _main_effects_design(days, doses, day_levels, dose_levels)
    main_fit = _fit(y, main, groups)
    if main_fit is not None:
        for dose in dose_levels[1:]:
            # The dose columns are x_j - 1/K, so beta_j is the log ratio dose j / reference.
            ratio, low, high, df, t, p = _t(main_fit, {f"dose={_dose_label(dose)}": 1.0}, ci_level)
            rows.append(row(
                tissue, math.nan, statistic, dose, reference, math.nan, math.nan, ratio, low, high, p, t, df,
                patients(None, dose), patients(None, reference),
                f"ratio of geometric means over all days, REML LMM ln SUV ~ day + dose + (1 | patient); {pct} CI "
                f"and t-test p: {T_METHOD}",
            ))  # fmt: skip
        if len(dose_levels) >= 3:
            names = [f"dose={_dose_label(dose)}" for dose in dose_levels[1:]]
            test = main_fit.f_test(np.array([(main.columns == name).astype(float) for name in names]))
            rows.append(row(
                tissue, math.nan, statistic, math.nan, reference, math.nan, math.nan, math.nan, math.nan, math.nan,
                test.p, test.statistic, test.df_den, math.nan, math.nan,
                f"test of dose (equal geometric means at all {len(dose_levels)} doses): Satterthwaite F test (REML) "
                f"in ln SUV ~ day + dose + (1 | patient), {_f_text(test)}",
            ))  # fmt: skip
    contrasts = interaction_contrasts(days, doses, cells) if cell_fit is not None else None
    if contrasts is not None:
        test = cell_fit.f_test(contrasts)
        rows.append(row(
            tissue, math.nan, statistic, math.nan, reference, math.nan, math.nan, math.nan, math.nan, math.nan,
            test.p, test.statistic, test.df_den, math.nan, math.nan,
            f"test of day-by-dose interaction (dose ratio differs between days): Satterthwaite F test (REML) in "
            f"ln SUV ~ day * dose + (1 | patient), {_f_text(test)}",
        ))  # fmt: skip
    return rows
