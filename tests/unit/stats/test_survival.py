"""contexture.stats.survival against R's survival package (3.5-3), to 1e-4.

Reference values were computed once with R 4.2 / survival 3.5-3 (Debian's r-cran-survival)
and are stored here as literals; the R call is in the comment above each. CI has no R.
"""

import math

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi, load_waltons
from scipy import stats

from contexture.stats import survival as sv

TOL = 1e-4

# R: survival::aml (Embury et al. 1977; maintenance chemotherapy in AML).
AML = pd.DataFrame(
    {
        "time": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
        "status": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
        "x": ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    }
)


def _km(data, conf_type="log"):
    return sv.kaplan_meier(data["time"], data["status"], conf_type)


def _assert_close(actual, expected, tol=TOL):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), (actual, expected)
    np.testing.assert_allclose(actual[~np.isnan(actual)], expected[~np.isnan(expected)], atol=tol, rtol=0)


@pytest.mark.parametrize(
    ("conf_type", "expected"),
    [
        # summary(survfit(Surv(time, status) ~ x, data = aml))$table[, c("median", "0.95LCL", "0.95UCL")]
        ("log", {"Maintained": (31, 18, math.nan), "Nonmaintained": (23, 8, math.nan)}),
        # same with conf.type = "log-log"
        ("log-log", {"Maintained": (31, 13, math.nan), "Nonmaintained": (23, 5, 33)}),
    ],
)
def test_km_median_and_ci_match_r_on_aml(conf_type, expected):
    for group, values in expected.items():
        _assert_close(sv.survival_quantile(_km(AML[AML["x"] == group], conf_type)), values)


@pytest.mark.parametrize(
    ("conf_type", "expected"),
    [
        # summary(survfit(Surv(time, status) ~ x, data = aml), times = c(12, 24))[c("surv", "lower", "upper")]
        (
            "log",
            {
                "Maintained": [(0.9090909091, 0.7541338451, 1.0), (0.6136363636, 0.3768670595, 0.9991576002)],
                "Nonmaintained": [
                    (0.5833333333, 0.3616137052, 0.9409980122),
                    (0.4861111111, 0.2675182489, 0.8833192253),
                ],
            },
        ),
        # same with conf.type = "log-log"
        (
            "log-log",
            {
                "Maintained": [(0.9090909091, 0.5080802058, 0.9866738227), (0.6136363636, 0.2657520400, 0.8352992433)],
                "Nonmaintained": [
                    (0.5833333333, 0.2701389241, 0.8009401923),
                    (0.4861111111, 0.1918766196, 0.7296715698),
                ],
            },
        ),
    ],
)
def test_km_landmark_survival_matches_r_on_aml(conf_type, expected):
    for group, rows in expected.items():
        at = sv.survival_at(_km(AML[AML["x"] == group], conf_type), [12, 24])
        _assert_close(at[["surv", "lower", "upper"]].to_numpy(), rows)


def test_overall_median_reverse_km_and_logrank_match_r_on_aml():
    # summary(survfit(Surv(time, status) ~ 1, data = aml))$table: median 27, 0.95LCL 18, 0.95UCL 45
    _assert_close(sv.survival_quantile(_km(AML)), (27, 18, 45))
    # summary(survfit(Surv(time, 1 - status) ~ 1, data = aml))$table: median 161, LCL 45, UCL NA
    _assert_close(sv.median_followup(AML["time"], AML["status"]), (161, 45, math.nan))
    # survdiff(Surv(time, status) ~ x, data = aml): Chisq = 3.396388699, p = 0.06533932204
    test = sv.logrank_test(AML["time"], AML["status"], AML["x"])
    assert test.df == 1
    assert test.statistic == pytest.approx(3.396388699, abs=TOL)
    assert test.p == pytest.approx(0.06533932204, abs=TOL)


def test_km_median_and_logrank_match_r_on_waltons():
    waltons = load_waltons().rename(columns={"T": "time", "E": "status"})
    # write.csv(lifelines' load_waltons()); survfit(Surv(T, E) ~ group), conf.type "log" / "log-log"
    expected = {
        "log": {"control": (58, 56, 60), "miR-137": (26, 22, 29)},
        "log-log": {"control": (58, 56, 60), "miR-137": (26, 19, 29)},
    }
    for conf_type, groups in expected.items():
        for group, values in groups.items():
            _assert_close(sv.survival_quantile(_km(waltons[waltons["group"] == group], conf_type)), values)
    # survdiff(Surv(T, E) ~ group): Chisq = 122.2491256
    test = sv.logrank_test(waltons["time"], waltons["status"], waltons["group"])
    assert test.statistic == pytest.approx(122.2491256, abs=TOL)


def test_median_midpoint_rule_and_not_reached_match_r():
    # survfit(Surv(c(1, 2, 3, 4), rep(1, 4)) ~ 1): S = 0.5 on [2, 3) -> median 2.5, LCL 1, UCL NA
    _assert_close(sv.survival_quantile(sv.kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])), (2.5, 1, math.nan))
    # survfit(Surv(1:5, c(1, 1, 0, 0, 0)) ~ 1): median NA (not reached), LCL 2, UCL NA
    _assert_close(sv.survival_quantile(sv.kaplan_meier([1, 2, 3, 4, 5], [1, 1, 0, 0, 0])), (math.nan, 2, math.nan))


def test_all_censored_group_has_no_median_and_no_error():
    curve = sv.kaplan_meier([3, 5, 8], [0, 0, 0])
    assert (curve["surv"] == 1).all()
    _assert_close(sv.survival_quantile(curve), (math.nan, math.nan, math.nan))


def test_logrank_trend_matches_r_survdiff_algebra_on_rossi():
    rossi = load_rossi()
    rossi["prior"] = pd.cut(rossi["prio"], [-1, 0, 3, 100], labels=["none", "few", "many"]).astype(str)
    # pg <- cut(prio, c(-1, 0, 3, 100)); s <- survdiff(Surv(week, arrest) ~ pg): chisq 9.270089683,
    # obs 10 60 44, exp 9.856920754 74.130251827 30.012827419;
    # w <- 1:3; U <- sum(w * (s$obs - s$exp)); U^2 / drop(t(w) %*% s$var %*% w) = 5.310050951, p 0.02120273624
    test = sv.logrank_test(rossi["week"], rossi["arrest"], rossi["prior"], order=["none", "few", "many"])
    assert test.statistic == pytest.approx(9.270089683, abs=TOL) and test.df == 2
    _assert_close(test.observed, [10, 60, 44])
    _assert_close(test.expected, [9.856920754, 74.130251827, 30.012827419])
    assert test.trend_statistic == pytest.approx(5.310050951, abs=TOL)
    assert test.trend_p == pytest.approx(0.02120273624, abs=TOL)


ROSSI_TERMS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi) (Efron ties):
# summary(m)$coefficients[, c("coef", "se(coef)", "Pr(>|z|)")]; cox.zph(m, transform = "km")$table[, "chisq"]
ROSSI_R = {
    "fin": (-0.37942216649, 0.19137948071, 0.047416094866, 0.0624298),
    "age": (-0.05743774268, 0.02199947060, 0.009031239904, 5.9739817),
    "race": (0.31389978784, 0.30799277656, 0.308117966977, 2.0682654),
    "wexp": (-0.14979569767, 0.21222429625, 0.480289694009, 4.2245956),
    "mar": (-0.43370387794, 0.38186805767, 0.256064243381, 1.0110216),
    "paro": (-0.08487108250, 0.19575667191, 0.664612365679, 0.0183833),
    "prio": (0.09149708099, 0.02864854996, 0.001404245279, 0.5205843),
}


def _rossi_frame():
    return load_rossi().rename(columns={"week": "time", "arrest": "event"})


def test_cox_coefficients_and_cox_zph_match_r_on_rossi():
    covariates = [sv.Covariate(term, "continuous", scale="unit") for term in ROSSI_TERMS]
    table = sv.cox_model(_rossi_frame(), covariates).set_index("term")
    for term, (coef, se, p, zph) in ROSSI_R.items():
        assert table.loc[term, "coef"] == pytest.approx(coef, abs=TOL)
        assert table.loc[term, "se"] == pytest.approx(se, abs=TOL)
        assert table.loc[term, "p"] == pytest.approx(p, abs=TOL)
        assert table.loc[term, "hr"] == pytest.approx(math.exp(coef), rel=TOL)
        assert table.loc[term, "ph_chisq"] == pytest.approx(zph, abs=TOL)
    # summary(m)$conf.int["fin", c("lower .95", "upper .95")] = 0.4702367179 0.9956840636
    assert table.loc["fin", "ci_low"] == pytest.approx(0.4702367179, abs=TOL)
    assert table.loc["fin", "ci_high"] == pytest.approx(0.9956840636, abs=TOL)
    # cox.zph(m)$table["GLOBAL", "p"] = 0.013428
    assert table["ph_global_p"].iloc[0] == pytest.approx(0.013428, abs=TOL)
    assert table["n"].iloc[0] == 432 and table["events"].iloc[0] == 114
    assert table["epv"].iloc[0] == pytest.approx(114 / 7) and table["warning"].iloc[0] == ""


def test_hr_per_sd_decrease_matches_r_on_rossi_age():
    # Rossi$age_z <- -(age - mean(age)) / sd(age); coxph(Surv(week, arrest) ~ age_z):
    # coef 0.4453313792, exp 1.561007396 (1.216797322, 2.002588308), p 0.0004586355754; cox.zph chisq 6.06061
    row = sv.cox_model(_rossi_frame(), [sv.Covariate("age", "continuous", scale="sd_decrease")]).iloc[0]
    assert row["scale"] == "per SD decrease"
    assert row["hr"] == pytest.approx(1.561007396, abs=TOL)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((1.216797322, 2.002588308), abs=TOL)
    assert row["p"] == pytest.approx(0.0004586355754, abs=TOL)
    assert row["ph_chisq"] == pytest.approx(6.06061, abs=TOL)
    assert row["sd"] == pytest.approx(load_rossi()["age"].std(ddof=1))


def test_categorical_term_and_multi_df_cox_zph_match_r_on_rossi():
    frame = _rossi_frame()
    frame["pg"] = pd.cut(frame["prio"], [-1, 0, 3, 100], labels=["none", "few", "many"]).astype(str)
    # coxph(Surv(week, arrest) ~ pg + age): pgfew -0.20576922402 (se 0.3417825824), pgmany 0.32524542849
    # (0.3504414513); cox.zph: pg chisq 2.10369 df 2 p 0.349292, age 6.04741, GLOBAL p 0.031596
    covariates = [
        sv.Covariate("pg", "categorical", levels=["none", "few", "many"]),
        sv.Covariate("age", "continuous", scale="unit"),
    ]
    table = sv.cox_model(frame, covariates)
    assert table["scale"].tolist() == ["few vs none", "many vs none", "per unit"]
    _assert_close(table["coef"], [-0.20576922402, 0.32524542849, -0.06818265143])
    _assert_close(table["se"], [0.3417825824, 0.3504414513, 0.0205986034])
    _assert_close(table["ph_chisq"], [2.10369, 2.10369, 6.04741])
    assert table["ph_df"].tolist() == [2, 2, 1]
    assert table["ph_global_p"].iloc[0] == pytest.approx(0.031596, abs=TOL)


def test_low_events_per_variable_is_flagged():
    frame = _rossi_frame().head(60)
    covariates = [sv.Covariate(term, "continuous", scale="unit") for term in ROSSI_TERMS]
    table = sv.cox_model(frame, covariates)
    events = int(frame["event"].sum())
    assert table["epv"].iloc[0] == pytest.approx(events / 7) and events / 7 < 10
    assert table["warning"].str.contains("Peduzzi").all()


# The Cox fitter itself (cox_fit: vectorised Newton-Raphson as coxph's coxfit6), to 1e-6
# on coefficients and SEs (it agrees with R to about 1e-12 here), R 4.2 / survival 3.5-3.
COX_TOL = 1e-6
# m <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi, ties = "breslow")
# sprintf("%.12f", coef(m)); sqrt(diag(vcov(m))); cox.zph(m)$table[, "chisq"]
ROSSI_BRESLOW = {
    "coef": [
        -0.379021887431,
        -0.057245925045,
        0.314129766907,
        -0.151114600056,
        -0.432782573763,
        -0.084982835267,
        0.091111542092,
    ],
    "se": [
        0.191364425860,
        0.021983185725,
        0.308017279737,
        0.212123160884,
        0.381794935263,
        0.195748207309,
        0.028631252956,
    ],
    "zph": [0.06138464, 5.94084673, 2.05537153, 4.19071463, 1.00500678, 0.01899318, 0.51001884, 17.57327877],
}
# ms <- coxph(Surv(week, arrest) ~ fin + age + race + prio + strata(wexp, mar), data = Rossi, ties = ties)
# coef(ms); sqrt(diag(vcov(ms))); cox.zph(ms)$table[, "chisq"] (last = GLOBAL)
ROSSI_STRATA = {
    "efron": (
        [-0.370371139392, -0.055016394512, 0.334374654681, 0.094309334467],
        [0.190927432308, 0.021793011071, 0.312438409792, 0.028474599183],
        [0.04368058, 10.61097993, 1.72986342, 0.00338786, 12.13324798],
    ),
    "breslow": (
        [-0.369850341008, -0.054798769884, 0.331330619662, 0.093857031427],
        [0.190912259747, 0.021768089332, 0.312415700606, 0.028456082863],
        [0.04390252, 10.51885761, 1.73102103, 0.00351108, 12.04489356],
    ),
}


def test_cox_fit_efron_matches_r_to_1e6():
    rossi = load_rossi()
    fit = sv.cox_fit(rossi["week"], rossi["arrest"], rossi[ROSSI_TERMS].to_numpy(float))
    assert fit.converged and fit.warnings == []
    _assert_close(fit.coef, [ROSSI_R[t][0] for t in ROSSI_TERMS], COX_TOL)
    _assert_close(np.sqrt(np.diag(fit.var)), [ROSSI_R[t][1] for t in ROSSI_TERMS], COX_TOL)


def test_cox_breslow_ties_and_cox_zph_match_r():
    covariates = [sv.Covariate(term, "continuous", scale="unit") for term in ROSSI_TERMS]
    table = sv.cox_model(_rossi_frame(), covariates, ties="breslow")
    _assert_close(table["coef"], ROSSI_BRESLOW["coef"], COX_TOL)
    _assert_close(table["se"], ROSSI_BRESLOW["se"], COX_TOL)
    _assert_close(table["ph_chisq"], ROSSI_BRESLOW["zph"][:-1], COX_TOL)
    assert table["ph_global_p"].iloc[0] == pytest.approx(float(stats.chi2.sf(ROSSI_BRESLOW["zph"][-1], 7)), abs=COX_TOL)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_stratified_cox_and_cox_zph_match_r(ties):
    terms = ["fin", "age", "race", "prio"]
    covariates = [sv.Covariate(term, "continuous", scale="unit") for term in terms]
    table = sv.cox_model(_rossi_frame(), covariates, ties=ties, strata=["wexp", "mar"])
    coef, se, zph = ROSSI_STRATA[ties]
    _assert_close(table["coef"], coef, COX_TOL)
    _assert_close(table["se"], se, COX_TOL)
    _assert_close(table["ph_chisq"], zph[:-1], COX_TOL)
    assert table["ph_global_p"].iloc[0] == pytest.approx(float(stats.chi2.sf(zph[-1], 4)), abs=COX_TOL)


def test_times_equal_within_r_tolerance_are_ties_as_in_coxph():
    rossi = load_rossi()
    # r$t2 <- r$week + c(0, 1e-12)[(seq_len(nrow(r)) %% 2) + 1]  (every other time off by 1e-12)
    # coxph(Surv(t2, arrest) ~ age + prio, data = r): -0.069335042837 0.094657586917 (timefix = TRUE);
    # with coxph.control(timefix = FALSE): -0.069220000190 0.094586047389 (the near-ties split).
    t2 = rossi["week"] + np.where(np.arange(1, len(rossi) + 1) % 2 == 1, 1e-12, 0.0)
    fit = sv.cox_fit(t2, rossi["arrest"], rossi[["age", "prio"]].to_numpy(float))
    _assert_close(fit.coef, [-0.069335042837, 0.094657586917], COX_TOL)
    assert sv.coxph_tied_times([1.0, 1.0 + 1e-12, 2.0]).tolist() == [1.0, 1.0, 2.0]


def test_monotone_likelihood_is_flagged_as_coxph_does():
    frame = _rossi_frame()
    # Every subject with z = 1 is arrested before week 20: the likelihood rises without
    # bound in z. coxph(Surv(week, arrest) ~ z + age) warns "Loglik converged before
    # variable 1; coefficient may be infinite" (coef 26.57 after 4 iterations; the value
    # itself is arbitrary, only the warning is asserted).
    frame["z"] = ((frame["event"] == 1) & (frame["time"] < 20)).astype(int)
    covariates = [sv.Covariate("z", "continuous", scale="unit"), sv.Covariate("age", "continuous", scale="unit")]
    table = sv.cox_model(frame, covariates).set_index("term")
    assert "loglik converged before z; coefficient may be infinite" in table.loc["z", "warning"]
    assert "before age" not in table.loc["z", "warning"]
    assert table.loc["z", "hr"] > 1e10
    # age stays finite and equal to R's: coef(m)[["age"]] = -0.0468176471
    assert table.loc["age", "coef"] == pytest.approx(-0.0468176471, abs=COX_TOL)


def test_cox_ties_must_be_known():
    with pytest.raises(ValueError, match="ties"):
        sv.cox_fit([1, 2], [1, 1], np.array([[0.0], [1.0]]), ties="exact")


# R 4.2 / survival 3.5-3 on lifelines' Rossi (read.csv of load_rossi()), options(digits = 15):
#   f1 <- coxph(Surv(week, arrest) ~ fin + age + prio, data = d, ties = "breslow"); cox.zph(f1)$table
#   f2 <- coxph(Surv(week, arrest) ~ fin + age + prio + strata(wexp), data = d); cox.zph(f2)$table
#   f3 <- coxph(Surv(week, arrest) ~ fin + age + prio + strata(wexp, mar), data = d, ties = "breslow")
# term: (coef, se(coef), cox.zph chisq); then the GLOBAL cox.zph p.
ROSSI_TIES_STRATA_R = {
    ("breslow", ()): (
        {
            "fin": (-0.3464440240537333, 0.1902356522803006, 0.0622559371238008),
            "age": (-0.0669207692959878, 0.0208397300814342, 6.2898440905640838),
            "prio": (0.0965282765724660, 0.0272412110308656, 0.5096944946694929),
        },
        0.0690183001363328,
    ),
    ("efron", ("wexp",)): (
        {
            "fin": (-0.3508034440822992, 0.1902621800092095, 0.0556688161031574),
            "age": (-0.0600149996102659, 0.0220117880357365, 11.4289325593164470),
            "prio": (0.0878762105309266, 0.0283170348380650, 0.0569918698543512),
        },
        0.00953845389930077,
    ),
    ("breslow", ("wexp", "mar")): (
        {
            "fin": (-0.3554235801904282, 0.1906380834553654, 0.0402606583302863),
            "age": (-0.0538213330179197, 0.0216665864559714, 10.6119007473573426),
            "prio": (0.0913814602287929, 0.0285753702767053, 0.0109133138419324),
        },
        0.01401902839417576,
    ),
}


@pytest.mark.parametrize(("ties", "strata"), list(ROSSI_TIES_STRATA_R))
def test_breslow_ties_and_strata_match_r_coxph_and_cox_zph(ties, strata):
    covariates = [sv.Covariate(term, "continuous", scale="unit") for term in ("fin", "age", "prio")]
    table = sv.cox_model(_rossi_frame(), covariates, ties=ties, strata=list(strata)).set_index("term")
    expected, global_p = ROSSI_TIES_STRATA_R[(ties, strata)]
    for term, (coef, se, zph) in expected.items():
        assert table.loc[term, "coef"] == pytest.approx(coef, abs=1e-6)
        assert table.loc[term, "se"] == pytest.approx(se, abs=1e-6)
        assert table.loc[term, "ph_chisq"] == pytest.approx(zph, abs=1e-5)
    assert table["ph_global_p"].iloc[0] == pytest.approx(global_p, abs=1e-6)
    # summary(f1)$coefficients[, 5] (Wald p of the Breslow fit)
    if (ties, strata) == ("breslow", ()):
        assert table["p"].tolist() == pytest.approx(
            [0.068586961661995724, 0.001321768708704441, 0.000394905794847922], abs=1e-7
        )
