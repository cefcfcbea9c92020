"""Statistical analyses of CD8-PET lesion uptake: linear mixed models on log SUVmax.

Reproduces the analyses of the 89ZED88082A CD8-PET study (Kist de Ruijter L, et al.
"Whole-body CD8+ T cell visualization before and during cancer immunotherapy: a phase
1/2 trial". Nat Med 2022;28:2601-2610): lesions are clustered in patients, so uptake is
modelled on the log scale with a random intercept per patient,

    ln SUVmax_ij = x_ij' beta + b_i + e_ij,     b_i ~ N(0, s_b^2),  e_ij ~ N(0, s_e^2),

and, for repeated scans, a second random intercept per lesion nested in its patient
(``+ u_il``, u_il ~ N(0, s_l^2)). Estimates are back-transformed: exp(intercept) is the
geometric mean SUVmax, exp(beta) a ratio of geometric means, 100 (exp(beta) - 1) a
percentage difference or change.

Engine: :func:`contexture.stats.mixed.fit_random_intercepts` (the profiled REML/ML of
lme4, Bates et al. 2015, checked against ``statsmodels.MixedLM``; R equivalents:
``lme4::lmer(log(suvmax) ~ site + (1 | patient_id))`` (REML) and ``lmer(..., REML =
FALSE)`` (ML)); this module holds the PET analyses' designs and tests.

Inference (the study's tests, with small-sample intervals as lmerTest):

* Fixed effects: t intervals and t-tests with Satterthwaite degrees of freedom under
  REML (:meth:`contexture.stats.mixed.MixedFit.t_test`; as lmerTest's ``summary`` and
  ``contest``, Kuznetsova et al. 2017, J Stat Softw 82(13)); ``df`` column.
* Factors with 3 or more levels (organ site): F test of equality of all level means with
  Satterthwaite denominator df under REML, on the hypothesis basis of lmerTest's
  ``anova()`` (R: ``anova(lmerTest::lmer(log(suvmax) ~ site + (1 | patient_id)))``); each
  ratio to the reference has its own t-test p.
* Two-level factors (dMMR/pMMR; IHC desert vs stromal/inflamed; malignant vs normal
  lymph nodes): likelihood-ratio test of models with and without the factor, both fitted
  by ML (as ``anova(fit0, fit1)`` in R) -- the one p of the factor, on its ``test[...]``
  row; the ratio row carries the REML estimate and its Satterthwaite t interval, no p.
* CD8 IHC phenotype: on the biopsied lesions at both timepoints, each paired with its own
  slide (:func:`biopsied_lesions`), random intercept per patient (and per lesion when
  identifiable); the patient-projected analysis only with ``ihc_phenotype_unit: patient``.
* ICC = s_b^2 / (s_b^2 + s_e^2) of the model without covariates, REML; confidence
  interval by parametric bootstrap (:func:`contexture.stats.mixed.bootstrap_icc`;
  percentile interval, fixed seed): replicates are drawn
  from the fitted model through its sufficient statistics -- patient means
  ybar_i ~ N(mu, s_b^2 + s_e^2 / n_i) and the pooled within-patient sum of squares
  ~ s_e^2 chi^2(N - k) -- and refitted by REML, which is exactly a bootstrap of the data.
* Trend of baseline uptake across ordered best overall response: Kendall's tau-b
  (``scipy.stats.kendalltau``; a Jonckheere-Terpstra-type test, R:
  ``cor.test(x, as.numeric(bor), method = "kendall", exact = FALSE)``); responders vs
  non-responders: Mann-Whitney U (exact without ties when both groups have < 50
  patients, else normal approximation with continuity correction -- R's
  ``wilcox.test`` defaults) with the Hodges-Lehmann ratio and R's interval
  (``wilcox.test(conf.int = TRUE)``: exact order statistics from the null distribution of
  W, or the continuity-corrected normal inversion with ties), both from
  :mod:`contexture.stats.rank_tests`.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_OPTIONS",
    "T_METHOD",
    "baseline_analysis",
    "biopsied_lesions",
    "change_analysis",
    "factor_analysis",
    "lymph_node_analysis",
    "patient_covariates",
    "phenotype_analysis",
    "phenotype_data",
    "prepare_lesions",
    "response_analysis",
    "run_pet_models",
]

import logging
import math

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.pet.features import geometric_mean_suvmax
from contexture.stats.mixed import MixedFit, NotEstimable, bootstrap_icc, fit_random_intercepts, sequential_contrasts
from contexture.stats.rank_tests import rank_sum_test

log = logging.getLogger(__name__)

COLUMNS = ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "df", "method"]
LESION_COLUMNS = ("patient_id", "lesion_id", "timepoint", "scan_day", "site", "suvmax")
TIMEPOINTS = ("baseline", "on_treatment")

DEFAULT_OPTIONS = {
    "exclude_irradiated": True,
    "ci_level": 0.95,
    "site_reference": "lymph_node",
    "lymph_node_sites": {"malignant": "lymph_node", "normal": "lymph_node_normal"},
    "responder_groups": {"responder": ["CR", "PR", "SD"], "non_responder": ["PD"]},
    "bor_order": ["PD", "SD", "PR", "CR"],
    "baseline_time": "zero",
    "bootstrap_replicates": 999,
    "seed": 20221201,
    "ihc_phenotype_unit": "biopsied_lesion",
}
PHENOTYPE_GROUPS = {"desert": "desert", "stromal": "stromal_or_inflamed", "inflamed": "stromal_or_inflamed"}
T_METHOD = "Satterthwaite t (REML)"


# --------------------------------------------------------------------------- inputs


def prepare_lesions(
    lesions: pd.DataFrame, exclude_irradiated: bool = True, file: str = "lesions table"
) -> pd.DataFrame:
    """Lesions usable for the models, with ``log_suvmax``.

    Drops irradiated lesions (when ``exclude_irradiated``; the study analysed
    non-irradiated lesions only, as radiotherapy changes local immune infiltration) and
    lesions without an SUVmax (not measurable on that scan), logging how many. An SUVmax
    that is not positive cannot be log-transformed and is an error.
    """
    missing = [c for c in LESION_COLUMNS if c not in lesions.columns]
    if missing:
        raise InputError(f"{file}: missing column(s) {missing}; expected {list(LESION_COLUMNS)}")
    table = lesions.copy()
    table["patient_id"] = table["patient_id"].astype(str)
    table["lesion_id"] = table["lesion_id"].astype(str)
    table["site"] = table["site"].astype(str)
    table["suvmax"] = pd.to_numeric(table["suvmax"], errors="coerce")
    unknown = sorted(set(table["timepoint"].dropna()) - set(TIMEPOINTS))
    if unknown:
        raise InputError(f"{file}: column 'timepoint' has value(s) {unknown}; expected one of {list(TIMEPOINTS)}")
    bad = table["suvmax"].notna() & (table["suvmax"] <= 0)
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1).tolist()[:10]
        raise InputError(f"{file}: column 'suvmax' must be positive (log scale); non-positive in data row(s) {rows}")
    if exclude_irradiated and "irradiated" in table.columns:
        irradiated = table["irradiated"].astype("boolean").fillna(False).astype(bool)
        if irradiated.any():
            log.info("excluded %d irradiated lesion measurement(s)", int(irradiated.sum()))
        table = table[~irradiated]
    no_value = table["suvmax"].isna()
    if no_value.any():
        log.info("excluded %d lesion measurement(s) without SUVmax", int(no_value.sum()))
    table = table[~no_value].copy()
    table["log_suvmax"] = np.log(table["suvmax"])
    return table.sort_values(["patient_id", "lesion_id", "timepoint"], kind="stable").reset_index(drop=True)


def patient_covariates(patients: pd.DataFrame | None, responder_groups: dict[str, list[str]]) -> pd.DataFrame:
    """Patient-level covariates from ``tables/patients.tsv``: dmmr, phenotype, response.

    ``dmmr`` becomes ``dMMR``/``pMMR``; ``ihc_phenotype_group`` is ``desert`` or
    ``stromal_or_inflamed`` (the study's contrast); ``response_group`` maps best overall
    response through ``responder_groups`` (other responses, e.g. NE, are missing).
    """
    columns = ["patient_id", "dmmr", "ihc_phenotype", "ihc_phenotype_group", "bor", "response_group"]
    if patients is None:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({"patient_id": patients["patient_id"].astype(str)})
    if "dmmr" in patients.columns:
        out["dmmr"] = patients["dmmr"].map({True: "dMMR", False: "pMMR"})
    else:
        out["dmmr"] = pd.NA
    phenotype = patients["ihc_phenotype"] if "ihc_phenotype" in patients.columns else pd.Series(pd.NA, index=out.index)
    phenotype = phenotype.astype("string").str.strip().str.lower()
    out["ihc_phenotype"] = phenotype.where(phenotype.isin(["desert", "stromal", "inflamed"]))
    out["ihc_phenotype_group"] = out["ihc_phenotype"].map(PHENOTYPE_GROUPS)
    bor = patients["bor"] if "bor" in patients.columns else pd.Series(pd.NA, index=out.index)
    out["bor"] = bor.astype("string").str.strip().str.upper()
    lookup = {str(r).upper(): group for group, responses in responder_groups.items() for r in responses}
    out["response_group"] = out["bor"].map(lookup)
    return out[columns].astype(object).where(out[columns].notna(), None)


# --------------------------------------------------------------------------- analyses


def _row(analysis: str, term: str, estimate: float, low: float = math.nan, high: float = math.nan,
         p: float = math.nan, df: float = math.nan, method: str = "") -> dict:  # fmt: skip
    return {"analysis": analysis, "term": term, "estimate": estimate, "ci_low": low, "ci_high": high, "p": p,
            "df": df, "method": method}  # fmt: skip


def _t_exp(
    fit: MixedFit, weights: dict, ci_level: float, transform=math.exp
) -> tuple[float, float, float, float, float]:
    """transform(estimate), transform(CI), two-sided p and df of a linear combination.

    Satterthwaite t interval and test (:meth:`contexture.stats.mixed.MixedFit.t_test`;
    R: ``lmerTest::contest1D(fit, L, confint = TRUE)``, ``summary(fit)``).
    """
    test = fit.t_test(weights)
    low, high = test.interval(ci_level)
    return transform(test.estimate), transform(low), transform(high), test.p, test.df


def _percent(values: tuple[float, float, float, float, float]) -> tuple[float, float, float, float, float]:
    ratio, low, high, p, df = values
    return 100 * (ratio - 1), 100 * (low - 1), 100 * (high - 1), p, df


def _gcv(variance: float) -> float:
    """Geometric coefficient of variation (%): 100 sqrt(exp(s^2) - 1) (Kirkwood 1979)."""
    return 100 * math.sqrt(math.expm1(variance))


def baseline_analysis(baseline: pd.DataFrame, options: dict) -> list[dict]:
    """Overall geometric mean SUVmax, its GCV, per-patient geometric means, and the ICC.

    Random-intercept model without covariates on ln SUVmax of baseline lesions (REML).
    """
    level = options["ci_level"]
    if baseline.empty:
        log.info("baseline analyses skipped: no baseline lesions")
        return []
    fit = fit_random_intercepts(
        baseline["log_suvmax"], pd.DataFrame({"intercept": np.ones(len(baseline))}), baseline["patient_id"]
    )
    pct = f"{level:.0%}"
    method = f"REML random-intercept LMM on ln SUVmax, exp(intercept); {pct} CI: {T_METHOD}"
    geomean, low, high, _, df = _t_exp(fit, {"intercept": 1.0}, level)
    # prepare_lesions has applied options["exclude_irradiated"]: every lesion left counts.
    per_patient = geometric_mean_suvmax(baseline, irradiated="include")["geomean_suvmax"].to_numpy()
    q1, median, q3 = np.quantile(per_patient, [0.25, 0.5, 0.75])  # R quantile type 7
    total = fit.var_patient + fit.var_residual
    rows = [
        _row("baseline_geomean", "n_patients", fit.n_patients, method="count of patients with baseline lesions"),
        _row("baseline_geomean", "n_lesions", fit.n_obs, method="count of baseline lesions"),
        _row("baseline_geomean", "geometric_mean_suvmax", geomean, low, high, df=df, method=method),
        _row(
            "baseline_geomean",
            "geometric_cv_percent_total",
            _gcv(total),
            method="100*sqrt(exp(s_b^2+s_e^2)-1), REML variance components",
        ),  # fmt: skip
        _row(
            "baseline_geomean",
            "geometric_cv_percent_between_patients",
            _gcv(fit.var_patient),
            method="100*sqrt(exp(s_b^2)-1), REML",
        ),  # fmt: skip
        _row(
            "baseline_geomean",
            "geometric_cv_percent_within_patient",
            _gcv(fit.var_residual),
            method="100*sqrt(exp(s_e^2)-1), REML",
        ),  # fmt: skip
        _row(
            "baseline_geomean",
            "patient_geomean_median",
            float(median),
            float(q1),
            float(q3),
            method="median of per-patient geometric means; ci_low/ci_high = interquartile interval "
            "(25th-75th percentile, R quantile type 7), not a CI",
        ),  # fmt: skip
    ]
    replicates, seed = int(options["bootstrap_replicates"]), int(options["seed"])
    if fit.n_patients >= 2 and replicates > 0:
        boot = bootstrap_icc(fit, replicates, seed)
        low_icc, high_icc = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2])
    else:
        low_icc = high_icc = math.nan
    rows += [
        _row(
            "icc",
            "icc",
            fit.icc,
            float(low_icc),
            float(high_icc),
            method=f"s_b^2/(s_b^2+s_e^2), REML random-intercept LMM on ln SUVmax without covariates; "
            f"{pct} parametric bootstrap percentile CI ({replicates} replicates, seed {seed})",
        ),  # fmt: skip
        _row("icc", "variance_between_patients", fit.var_patient, method="REML, ln SUVmax scale"),
        _row("icc", "variance_within_patient", fit.var_residual, method="REML, ln SUVmax scale"),
    ]
    return rows


def factor_analysis(
    data: pd.DataFrame,
    column: str,
    analysis: str,
    reference: str | None,
    ci_level: float,
    subgroups: str | None = None,
    design_text: str = "",
) -> list[dict]:
    """Uptake by a factor: geometric mean per level, ratios to ``reference``, one test.

    Cell-means REML random-intercept model ``ln SUVmax ~ 0 + factor + (1 | patient)``
    [``+ (1 | patient:lesion)`` with ``subgroups``, the lesion column] gives each level's
    geometric mean (exp of its coefficient) and ratios to the reference level (exp of
    differences), with Satterthwaite t intervals. The test of the factor: for >= 3 levels
    an F test of equality of all level means with Satterthwaite denominator df under REML
    (as ``anova(lmerTest::lmer(...))``), and each ratio carries its own t-test p; for 2
    levels the likelihood-ratio test of ML fits with and without the factor (the study's
    choice) on the ``test[...]`` row, and the ratio row has its interval but no second p.
    Rows with a missing factor are dropped; a factor with < 2 levels is skipped with a log
    message. ``design_text`` is added to every method (what the observations are).
    """
    from scipy import stats  # on first use: a job that never calls this need not import it

    frame = data[data[column].notna()]
    levels = sorted(frame[column].astype(str).unique())
    if len(levels) < 2:
        log.info("%s analysis skipped: '%s' has %d level(s) among lesions", analysis, column, len(levels))
        return []
    if reference not in levels:
        counts = frame[column].astype(str).value_counts()
        reference = str(sorted(counts[counts == counts.max()].index)[0])
    values = frame[column].astype(str).to_numpy()
    design = pd.DataFrame({f"{column}={lvl}": (values == lvl).astype(float) for lvl in levels})
    y, groups = frame["log_suvmax"].to_numpy(), frame["patient_id"].to_numpy()
    lesions = None if subgroups is None else frame[subgroups].to_numpy()
    fit = fit_random_intercepts(y, design, groups, lesions)
    pct = f"{ci_level:.0%}"
    clusters = "(1|patient) + (1|patient:lesion)" if subgroups else "(1|patient)"
    suffix = f"; {design_text}" if design_text else ""
    rows = []
    for lvl in levels:
        n_lesions = int((values == lvl).sum())
        n_patients = int(frame.loc[values == lvl, "patient_id"].nunique())
        est, low, high, _, df = _t_exp(fit, {f"{column}={lvl}": 1.0}, ci_level)
        rows.append(_row(analysis, f"geometric_mean_suvmax[{lvl}]", est, low, high, df=df,
                         method=f"REML cell-means LMM ln SUVmax ~ 0 + {column} + {clusters}; {pct} CI: {T_METHOD}; "
                         f"{n_lesions} lesion measurements in {n_patients} patients{suffix}"))  # fmt: skip
    two_levels = len(levels) == 2
    for lvl in levels:
        if lvl == reference:
            continue
        est, low, high, p, df = _t_exp(fit, {f"{column}={lvl}": 1.0, f"{column}={reference}": -1.0}, ci_level)
        if two_levels:
            p = math.nan
            method = (f"ratio of geometric means, REML; {pct} CI: {T_METHOD}; p: likelihood-ratio test on the "
                      f"test[{column}] row")  # fmt: skip
        else:
            method = f"ratio of geometric means, REML; {pct} CI and t-test p: {T_METHOD}"
        rows.append(_row(analysis, f"ratio[{lvl}/{reference}]", est, low, high, p, df, method=method))
    others = [lvl for lvl in levels if lvl != reference]
    if not two_levels:
        # Hypothesis basis of anova(lmerTest::lmer(ln SUVmax ~ factor + (1 | patient))) for
        # the treatment-coded design [1, dummies of the other levels] (the Satterthwaite ddf
        # depends on the basis), mapped to the cell means: beta_T = M beta_cell.
        treatment = np.column_stack([np.ones(len(values))] + [(values == lvl).astype(float) for lvl in others])
        to_treatment = np.zeros((len(levels), len(levels)))
        to_treatment[0, levels.index(reference)] = 1.0
        for i, lvl in enumerate(others, start=1):
            to_treatment[i, levels.index(lvl)] = 1.0
            to_treatment[i, levels.index(reference)] = -1.0
        contrast = sequential_contrasts(treatment, list(range(1, len(levels)))) @ to_treatment
        test = fit.f_test(contrast)
        rows.append(_row(analysis, f"test[{column}]", test.statistic, p=test.p, df=test.df_den,
                         method=f"Satterthwaite F test (REML) of equality of all level means: F({test.df_num}, "
                         f"{test.df_den:.1f}); df = denominator df{suffix}"))  # fmt: skip
    else:
        lvl = others[0]
        full = pd.DataFrame({"intercept": 1.0, f"{column}={lvl}": (values == lvl).astype(float)})
        ml_full = fit_random_intercepts(y, full, groups, lesions, reml=False)
        ml_null = fit_random_intercepts(y, full[["intercept"]], groups, lesions, reml=False)
        statistic = max(2 * (ml_full.loglike - ml_null.loglike), 0.0)
        rows.append(_row(analysis, f"test[{column}]", statistic, p=float(stats.chi2.sf(statistic, 1)), df=1.0,
                         method="likelihood-ratio chi-square statistic, ML fits with vs without the factor; "
                         f"df = chi-square df{suffix}"))  # fmt: skip
    return rows


def lymph_node_analysis(baseline_all: pd.DataFrame, sites: dict[str, str], ci_level: float) -> list[dict]:
    """Malignant vs normal lymph nodes: % difference in geometric mean SUVmax.

    Uses the baseline lesions labelled ``sites['malignant']`` and ``sites['normal']``;
    skipped (log message) unless both labels occur. LRT under ML (two-level factor).
    """
    malignant, normal = sites["malignant"], sites["normal"]
    frame = baseline_all[baseline_all["site"].isin([malignant, normal])]
    if not {malignant, normal} <= set(frame["site"]):
        log.info("lymph node analysis skipped: sites '%s' and '%s' not both present", malignant, normal)
        return []
    frame = frame.assign(node=np.where(frame["site"] == malignant, "malignant", "normal"))
    rows = factor_analysis(frame, "node", "lymph_node", "normal", ci_level)
    out = []
    for row in rows:
        if row["term"] == "ratio[malignant/normal]":
            pct = {k: 100 * (row[k] - 1) for k in ("estimate", "ci_low", "ci_high")}
            out.append({**row, **pct, "term": "percent_difference[malignant/normal]",
                        "method": f"100*(ratio-1) of geometric mean SUVmax, REML; {ci_level:.0%} CI: {T_METHOD}; "
                        "p: likelihood-ratio test on the test[node] row"})  # fmt: skip
        else:
            out.append(row)
    return out


def biopsied_lesions(tumour: pd.DataFrame, slides: pd.DataFrame | None) -> pd.DataFrame:
    """Each IHC slide's phenotype joined to the PET measurement of its biopsied lesion.

    ``slides`` as ``tables/ihc_slides.tsv``: a slide's ``lesion_id`` names the PET lesion
    it was cut from. A slide is paired with that lesion's scan at the slide's timepoint, on
    (``patient_id``, ``lesion_id``, ``timepoint``) -- the biopsy describes that lesion at
    that time, so a baseline biopsy is not given to the on-treatment scan nor to the
    patient's other lesions. Slides without a lesion or a phenotype are left out; slides
    whose lesion has no usable PET measurement (irradiated, normal node, no SUVmax) are
    logged. Two slides of one lesion and timepoint with different phenotypes are refused.
    Returns the lesion rows with ``ihc_phenotype`` and ``ihc_phenotype_group``.
    """
    columns = [*tumour.columns, "ihc_phenotype", "ihc_phenotype_group"]
    if slides is None or not {"lesion_id", "ihc_phenotype"} <= set(slides.columns):
        return pd.DataFrame(columns=columns)
    keys = ["patient_id", "lesion_id", "timepoint"]
    table = slides[[*keys, "slide_id", "ihc_phenotype"]].copy() if "slide_id" in slides.columns else None
    if table is None:
        table = slides[[*keys, "ihc_phenotype"]].assign(slide_id=[f"row {i + 1}" for i in range(len(slides))])
    table["ihc_phenotype"] = table["ihc_phenotype"].astype("string").str.strip().str.lower()
    lesion_text = table["lesion_id"].astype("string").str.strip()
    table = table[lesion_text.notna() & (lesion_text != "") & table["ihc_phenotype"].isin(list(PHENOTYPE_GROUPS))]
    table = table.astype({key: str for key in keys})
    conflicts = table.groupby(keys)["ihc_phenotype"].nunique()
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        key = conflicts.index[0]
        names = table.set_index(keys).loc[[key], "slide_id"].tolist()
        raise InputError(
            f"ihc slides table: slides {names} of patient {key[0]}, lesion {key[1]}, {key[2]} have different "
            "ihc_phenotype values; one phenotype per biopsied lesion and timepoint is needed"
        )
    table = table.drop_duplicates(keys)[[*keys, "ihc_phenotype"]]
    pairs = tumour.merge(table, on=keys, how="inner", validate="many_to_one")
    unmatched = table.merge(tumour[keys], on=keys, how="left", indicator=True)
    unmatched = unmatched[unmatched["_merge"] == "left_only"]
    if len(unmatched):
        log.info(
            "phenotype analysis: %d biopsied lesion(s) without a usable PET measurement at the biopsy's timepoint "
            "(irradiated, normal node, no SUVmax or not in the lesion table): %s",
            len(unmatched),
            ", ".join(f"{r.patient_id}/{r.lesion_id}/{r.timepoint}" for r in unmatched.itertuples()),
        )
    pairs["ihc_phenotype_group"] = pairs["ihc_phenotype"].map(PHENOTYPE_GROUPS)
    return pairs.sort_values(keys, kind="stable").reset_index(drop=True)[columns]


def phenotype_data(
    tumour: pd.DataFrame, covariates: pd.DataFrame, slides: pd.DataFrame | None, unit: str
) -> tuple[pd.DataFrame, str]:
    """(lesion measurements with ``ihc_phenotype``/``ihc_phenotype_group``, analysis name).

    ``unit`` ``biopsied_lesion``: :func:`biopsied_lesions` (analysis ``ihc_phenotype``);
    ``patient``: the patient's phenotype projected onto all their baseline lesions
    (analysis ``ihc_phenotype_patient_projected``).
    """
    if unit == "patient":
        data = tumour[tumour["timepoint"] == "baseline"].merge(covariates, on="patient_id", how="left")
        return data[data["ihc_phenotype_group"].notna()], "ihc_phenotype_patient_projected"
    return biopsied_lesions(tumour, slides), "ihc_phenotype"


def phenotype_analysis(
    tumour: pd.DataFrame, covariates: pd.DataFrame, slides: pd.DataFrame | None, options: dict
) -> list[dict]:
    """SUVmax of desert vs stromal/inflamed lesions (the study's CD8 IHC contrast).

    ``ihc_phenotype_unit: biopsied_lesion`` (default, the study's design): the biopsied
    lesions only, at both timepoints, each with its own slide's phenotype
    (:func:`biopsied_lesions`), random intercept per patient and, when a patient has
    several biopsied lesions and a lesion two scans (both needed to tell the two levels
    apart), per lesion. ``patient``: the patient's phenotype (``tables/patients.tsv``)
    projected onto all their baseline lesions -- kept as an explicit option, reported as
    analysis ``ihc_phenotype_patient_projected``. Counts of measurements, lesions and
    patients come first; tests as :func:`factor_analysis` (two levels: LRT).
    """
    unit = options["ihc_phenotype_unit"]
    data, analysis = phenotype_data(tumour, covariates, slides, unit)
    if unit == "patient":
        subgroups, text = None, "patient phenotype projected onto all baseline lesions of the patient"
    else:
        if data.empty:
            log.info(
                "ihc_phenotype analysis skipped: no IHC slide names a PET lesion (lesion_id); set "
                "pet_analysis.ihc_phenotype_unit: patient for the patient-projected analysis"
            )
            return []
        per_patient = data.groupby("patient_id")["lesion_id"].nunique()
        per_lesion = data.groupby(["patient_id", "lesion_id"]).size()
        nested = bool((per_patient > 1).any() and (per_lesion > 1).any())
        subgroups = "lesion_id" if nested else None
        text = "biopsied lesions at both timepoints, each with its own slide's phenotype"
    if data["ihc_phenotype_group"].nunique() < 2:
        log.info("%s analysis skipped: fewer than 2 phenotype groups among lesions", analysis)
        return []
    counts = [
        _row(analysis, "n_measurements", len(data), method=f"lesion measurements in the model ({text})"),
        _row(analysis, "n_lesions", int(data.groupby(["patient_id", "lesion_id"]).ngroups), method="lesions"),
        _row(analysis, "n_patients", int(data["patient_id"].nunique()), method="patients"),
    ]
    return counts + factor_analysis(data, "ihc_phenotype_group", analysis, "desert", options["ci_level"], subgroups)


def _weeks(frame: pd.DataFrame, baseline_time: str) -> np.ndarray:
    """Weeks of treatment at each scan: scan_day / 7; baseline scans at 0 when
    ``baseline_time == 'zero'`` (no treatment exposure yet), else at their own scan day."""
    weeks = pd.to_numeric(frame["scan_day"], errors="coerce").to_numpy(dtype=float) / 7.0
    if baseline_time == "zero":
        weeks = np.where(frame["timepoint"].to_numpy() == "baseline", 0.0, weeks)
    return weeks


def change_analysis(
    lesions: pd.DataFrame, covariates: pd.DataFrame, options: dict, volume_adjusted: bool
) -> list[dict]:
    """% change in geometric mean SUVmax per week of treatment, overall and by response.

    Patients with at least one on-treatment measurement; model
    ``ln SUVmax ~ weeks [+ ln volume] + (1 | patient) + (1 | patient:lesion)`` (REML),
    then ``ln SUVmax ~ group + weeks:group [+ ln volume] + ...`` for the per-group slopes
    and their difference (Satterthwaite t under REML). 100 (exp(slope) - 1) is the % change per
    week; exp(slope difference) the ratio of weekly fold-changes (responder /
    non-responder). With ``volume_adjusted``, ln volume_ml is a covariate (partial-volume
    sensitivity: uptake change not explained by lesion volume change).
    """
    analysis = "change_per_week_volume_adjusted" if volume_adjusted else "change_per_week"
    level = options["ci_level"]
    on_patients = set(lesions.loc[lesions["timepoint"] == "on_treatment", "patient_id"])
    frame = lesions[lesions["patient_id"].isin(on_patients)].copy()
    frame["weeks"] = _weeks(frame, options["baseline_time"])
    frame = frame[np.isfinite(frame["weeks"])]
    if volume_adjusted:
        if "volume_ml" not in frame.columns:
            log.info("%s skipped: no volume_ml column", analysis)
            return []
        volume = pd.to_numeric(frame["volume_ml"], errors="coerce")
        frame = frame[volume > 0].assign(log_volume=np.log(volume[volume > 0]))
    if frame.empty or frame["weeks"].nunique() < 2:
        log.info("%s skipped: no on-treatment scans", analysis)
        return []
    pct = f"{level:.0%}"
    adjust = " + ln volume_ml" if volume_adjusted else ""
    base_method = f"REML LMM ln SUVmax ~ weeks{adjust} + (1|patient) + (1|patient:lesion); {pct} CI and p: {T_METHOD}"
    y, groups, lesion = frame["log_suvmax"].to_numpy(), frame["patient_id"].to_numpy(), frame["lesion_id"].to_numpy()
    design = pd.DataFrame({"intercept": 1.0, "weeks": frame["weeks"].to_numpy()})
    if volume_adjusted:
        design["log_volume"] = frame["log_volume"].to_numpy()
    fit = fit_random_intercepts(y, design, groups, lesion)
    rows = [
        _row(analysis, "n_patients", fit.n_patients, method="patients with an on-treatment scan"),
        _row(
            analysis,
            "percent_change_per_week[all]",
            *_percent(_t_exp(fit, {"weeks": 1.0}, level)),
            method=f"100*(exp(slope)-1); {base_method}",
        ),  # fmt: skip
    ]
    if volume_adjusted:
        rows.append(_row(analysis, "percent_change_per_volume_doubling",
                         *_t_exp(fit, {"log_volume": 1.0}, level, transform=lambda b: 100 * (2**b - 1)),
                         method=f"100*(2^beta_lnvolume-1); {base_method}"))  # fmt: skip
    response = covariates.set_index("patient_id")["response_group"] if len(covariates) else pd.Series(dtype=object)
    group = frame["patient_id"].map(response)
    keep = group.isin(["responder", "non_responder"]).to_numpy()
    present = set(group[keep])
    if present != {"responder", "non_responder"}:
        log.info("%s by response skipped: response groups present %s", analysis, sorted(present))
        return rows
    sub = frame[keep]
    responder = (group[keep] == "responder").to_numpy(dtype=float)
    design = pd.DataFrame(
        {
            "intercept": 1.0,
            "responder": responder,
            "weeks:non_responder": sub["weeks"].to_numpy() * (1 - responder),
            "weeks:responder": sub["weeks"].to_numpy() * responder,
        }
    )
    if volume_adjusted:
        design["log_volume"] = sub["log_volume"].to_numpy()
    fit = fit_random_intercepts(sub["log_suvmax"], design, sub["patient_id"], sub["lesion_id"])
    groups_text = ", ".join(f"{g}: {'/'.join(r)}" for g, r in options["responder_groups"].items())
    method = (f"100*(exp(slope)-1); REML LMM ln SUVmax ~ response + weeks:response{adjust} + (1|patient) + "
              f"(1|patient:lesion) ({groups_text}); {pct} CI and p: {T_METHOD}")  # fmt: skip
    for name in ("responder", "non_responder"):
        n = int(sub.loc[group[keep] == name, "patient_id"].nunique())
        rows.append(_row(analysis, f"percent_change_per_week[{name}]",
                         *_percent(_t_exp(fit, {f"weeks:{name}": 1.0}, level)), method=f"{method}; {n} patients"))  # fmt: skip
    rows.append(_row(analysis, "interaction_ratio[responder/non_responder]",
                     *_t_exp(fit, {"weeks:responder": 1.0, "weeks:non_responder": -1.0}, level),
                     method=f"ratio of weekly fold-changes exp(slope_R - slope_NR), REML; {pct} CI and p: {T_METHOD}"))  # fmt: skip
    return rows


def response_analysis(baseline: pd.DataFrame, covariates: pd.DataFrame, options: dict) -> list[dict]:
    """Baseline per-patient geometric mean SUVmax vs best overall response.

    Trend across ``bor_order`` (Kendall's tau-b), and responders vs non-responders
    (Mann-Whitney U; Hodges-Lehmann ratio of geometric means with CI).
    """
    from scipy import stats  # on first use: a job that never calls this need not import it

    level = options["ci_level"]
    # prepare_lesions has applied options["exclude_irradiated"]: every lesion left counts.
    geomeans = geometric_mean_suvmax(baseline, irradiated="include").reset_index()
    geomeans = geomeans.merge(covariates, on="patient_id", how="left")
    order = [str(b).upper() for b in options["bor_order"]]
    ranked = geomeans[geomeans["bor"].isin(order)]
    rows = []
    if ranked["bor"].nunique() >= 2:
        codes = ranked["bor"].map({b: i for i, b in enumerate(order)}).to_numpy()
        tau = stats.kendalltau(codes, np.log(ranked["geomean_suvmax"].to_numpy()), variant="b")
        rows.append(_row("response_trend", f"kendall_tau_b[{'<'.join(order)}]", float(tau.statistic),
                         p=float(tau.pvalue), method=f"Kendall tau-b of per-patient baseline geometric mean SUVmax "
                         f"with ordered best overall response, asymptotic p with ties; {len(ranked)} patients"))  # fmt: skip
    else:
        log.info("response trend skipped: fewer than 2 ordered best-response categories")
    grouped = geomeans[geomeans["response_group"].isin(["responder", "non_responder"])]
    x = np.log(grouped.loc[grouped["response_group"] == "responder", "geomean_suvmax"].to_numpy())
    y = np.log(grouped.loc[grouped["response_group"] == "non_responder", "geomean_suvmax"].to_numpy())
    if x.size and y.size:
        # R: wilcox.test(log(x), log(y), conf.int = TRUE, conf.level = level): test, shift and interval.
        test = rank_sum_test(x, y, conf_int=True, conf_level=level)
        kind = "exact" if test.exact else "normal approximation, continuity corrected"
        rows.append(_row("response_group", "hodges_lehmann_ratio[responder/non_responder]", math.exp(test.estimate),
                         math.exp(test.ci_low), math.exp(test.ci_high), test.p,
                         method=f"Mann-Whitney U ({kind}) of per-patient baseline geometric mean SUVmax; "
                         f"Hodges-Lehmann ratio with {level:.0%} CI ({kind}), as R wilcox.test(conf.int = TRUE); "
                         f"{x.size} vs {y.size} patients"))  # fmt: skip
        for name, values in (("responder", x), ("non_responder", y)):
            q1, med, q3 = np.quantile(np.exp(values), [0.25, 0.5, 0.75])
            rows.append(_row("response_group", f"patient_geomean_median[{name}]", float(med), float(q1), float(q3),
                             method="median per-patient geometric mean SUVmax; ci_low/ci_high = interquartile "
                             "interval, not a CI"))  # fmt: skip
    else:
        log.info("response group comparison skipped: need responders and non-responders")
    return rows


def run_pet_models(
    lesions: pd.DataFrame,
    patients: pd.DataFrame | None,
    options: dict | None = None,
    slides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every PET analysis as one table with the columns of ``tables/pet_models.tsv``.

    ``lesions`` as ``tables/lesions.tsv``; ``patients`` as ``tables/patients.tsv`` (or
    None); ``options`` the cohort's ``pet_analysis`` section (defaults in
    :data:`DEFAULT_OPTIONS`); ``slides`` as ``tables/ihc_slides.tsv`` (or None), for the
    lesion-level phenotype analysis. Analyses whose covariate is absent or constant are
    skipped with a log message.
    """
    options = {**DEFAULT_OPTIONS, **(options or {})}
    level = options["ci_level"]
    table = prepare_lesions(lesions, options["exclude_irradiated"])
    covariates = patient_covariates(patients, options["responder_groups"])
    normal_site = options["lymph_node_sites"]["normal"]
    baseline_all = table[table["timepoint"] == "baseline"]
    # Normal lymph nodes are reference tissue, not tumour: only in the lymph node analysis.
    tumour = table[table["site"] != normal_site]
    baseline = tumour[tumour["timepoint"] == "baseline"]
    with_covariates = baseline.merge(covariates, on="patient_id", how="left")
    has_baseline = len(baseline) > 0
    analyses = [
        ("baseline_geomean", True, lambda: baseline_analysis(baseline, options)),
        ("site", has_baseline, lambda: factor_analysis(baseline, "site", "site", options["site_reference"], level)),
        ("dmmr", has_baseline, lambda: factor_analysis(with_covariates, "dmmr", "dmmr", "pMMR", level)),
        ("ihc_phenotype", True, lambda: phenotype_analysis(tumour, covariates, slides, options)),
        ("lymph_node", True, lambda: lymph_node_analysis(baseline_all, options["lymph_node_sites"], level)),
        ("change_per_week", True, lambda: change_analysis(tumour, covariates, options, volume_adjusted=False)),
        (
            "change_per_week_volume_adjusted",
            True,
            lambda: change_analysis(tumour, covariates, options, volume_adjusted=True),
        ),
        ("response", has_baseline, lambda: response_analysis(baseline, covariates, options)),
    ]
    rows = []
    for name, applicable, analysis in analyses:
        if not applicable:
            continue
        try:
            rows += analysis()
        except NotEstimable as reason:
            # A small cohort may not identify a model; the other analyses still run.
            log.warning("PET analysis %s skipped: %s", name, reason)
    return pd.DataFrame(rows, columns=COLUMNS)
