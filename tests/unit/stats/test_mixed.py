"""contexture.stats.mixed: hand calculations (balanced ANOVA), statsmodels.MixedLM as reference."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from contexture.simulate import simulate_latent
from contexture.stats.mixed import (
    _intercept_only_deviance,
    _profile,
    bootstrap_icc,
    fit_random_intercepts,
    sequential_contrasts,
)


def balanced(k=8, m=5, seed=3, sigma_b=0.5, sigma_e=0.4):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"P{i}" for i in range(k)], m)
    y = 1.6 + np.repeat(rng.normal(0, sigma_b, k), m) + rng.normal(0, sigma_e, k * m)
    return y, groups


def one_way_anova(y, groups, m):
    frame = pd.DataFrame({"y": y, "g": groups})
    means = frame.groupby("g")["y"].mean()
    k, n = means.size, len(y)
    msb = m * ((means - y.mean()) ** 2).sum() / (k - 1)
    msw = ((frame["y"] - frame["g"].map(means)) ** 2).sum() / (n - k)
    return msb, msw


def intercept(n):
    return pd.DataFrame({"intercept": np.ones(n)})


def test_balanced_reml_equals_anova_estimators():
    y, groups = balanced()
    msb, msw = one_way_anova(y, groups, 5)
    fit = fit_random_intercepts(y, intercept(y.size), groups)
    # Balanced one-way layout: REML = ANOVA (Searle, Casella & McCulloch 1992, 3.8) when
    # MSB > MSW: s_e^2 = MSW, s_b^2 = (MSB - MSW) / m; mu = grand mean, Var = MSB / N.
    assert msb > msw
    assert fit.var_residual == pytest.approx(msw, rel=1e-7)
    assert fit.var_patient == pytest.approx((msb - msw) / 5, rel=1e-6)
    assert fit.icc == pytest.approx(((msb - msw) / 5) / ((msb - msw) / 5 + msw), rel=1e-6)
    assert fit.params["intercept"] == pytest.approx(y.mean(), abs=1e-12)
    assert math.sqrt(fit.cov.iloc[0, 0]) == pytest.approx(math.sqrt(msb / y.size), rel=1e-6)


def test_balanced_ml_equals_closed_form():
    y, groups = balanced(k=10, m=4, seed=5)
    msb, msw = one_way_anova(y, groups, 4)
    fit = fit_random_intercepts(y, intercept(y.size), groups, reml=False)
    # ML: s_e^2 = MSW, s_b^2 = ((1 - 1/k) MSB - MSW) / m (Searle et al. 1992, 3.7).
    assert fit.var_residual == pytest.approx(msw, rel=1e-6)
    assert fit.var_patient == pytest.approx(((1 - 1 / 10) * msb - msw) / 4, rel=1e-5)


def test_reml_estimate_on_boundary_when_msb_below_msw():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 4)
    y = rng.normal(0, 1, 24)
    y -= pd.Series(y).groupby(groups).transform("mean").to_numpy() * 0.9  # shrink group means
    msb, msw = one_way_anova(y, groups, 4)
    assert msb < msw
    fit = fit_random_intercepts(y, intercept(24), groups)
    assert fit.var_patient == pytest.approx(0.0, abs=1e-8)
    assert fit.var_residual == pytest.approx(np.var(y, ddof=1), rel=1e-6)


@pytest.fixture(scope="module")
def cohort():
    return simulate_latent(patients=60, seed=3)


def test_matches_statsmodels_mixedlm_single_level(cohort):
    _, lesions, _ = cohort
    base = lesions[lesions["timepoint"] == "baseline"]
    y, groups = np.log(base["suvmax"].to_numpy()), base["patient_id"].to_numpy()
    design = pd.get_dummies(base["site"]).astype(float)
    for reml in (True, False):
        # Reference: statsmodels.MixedLM(y, X, groups).fit(reml=reml)
        ref = sm.MixedLM(y, design.to_numpy(), groups=groups).fit(reml=reml)
        fit = fit_random_intercepts(y, design, groups, reml=reml)
        np.testing.assert_allclose(fit.params.to_numpy(), ref.fe_params, atol=2e-6)
        assert fit.var_patient == pytest.approx(np.asarray(ref.cov_re)[0, 0], rel=1e-4)
        assert fit.var_residual == pytest.approx(ref.scale, rel=1e-5)
        assert fit.loglike >= ref.llf - 1e-7 and fit.loglike == pytest.approx(ref.llf, abs=1e-6)
        # statsmodels' covariance comes from the joint Hessian; ours is lme4's vcov
        # s_e^2 (X'V^-1X)^-1: equal to ~1e-3.
        np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), np.sqrt(np.diag(ref.cov_params()))[:5], rtol=2e-3)


def test_matches_statsmodels_nested_variance_components(cohort):
    _, lesions, _ = cohort
    on = set(lesions.loc[lesions["timepoint"] == "on_treatment", "patient_id"])
    data = lesions[lesions["patient_id"].isin(on)].copy()
    data["weeks"] = np.where(data["timepoint"] == "baseline", 0.0, data["scan_day"] / 7)
    data["ly"] = np.log(data["suvmax"])
    # Reference: MixedLM.from_formula("ly ~ weeks", groups="patient_id", re_formula="1",
    #            vc_formula={"lesion": "0 + C(lesion_id)"}).fit(reml=True)
    ref = sm.MixedLM.from_formula(
        "ly ~ weeks", groups="patient_id", re_formula="1", vc_formula={"lesion": "0 + C(lesion_id)"}, data=data
    ).fit(reml=True)
    design = pd.DataFrame({"intercept": 1.0, "weeks": data["weeks"].to_numpy()})
    fit = fit_random_intercepts(data["ly"], design, data["patient_id"], data["lesion_id"])
    np.testing.assert_allclose(fit.params.to_numpy(), ref.fe_params.to_numpy(), atol=1e-5)
    assert fit.var_patient == pytest.approx(np.asarray(ref.cov_re)[0, 0], rel=1e-3)
    assert fit.var_lesion == pytest.approx(ref.vcomp[0], rel=1e-3)
    assert fit.var_residual == pytest.approx(ref.scale, rel=1e-3)
    assert fit.loglike >= ref.llf - 1e-6
    assert fit.n_lesions == data.groupby(["patient_id", "lesion_id"]).ngroups


def test_vectorized_bootstrap_deviance_equals_profile(cohort):
    _, lesions, _ = cohort
    base = lesions[lesions["timepoint"] == "baseline"]
    y = np.log(base["suvmax"].to_numpy())
    fit = fit_random_intercepts(y, intercept(y.size), base["patient_id"])
    frame = pd.DataFrame({"y": y, "g": base["patient_id"].to_numpy()})
    means = frame.groupby("g")["y"].mean().to_numpy()[None, :]
    within = np.array([((frame["y"] - frame.groupby("g")["y"].transform("mean")) ** 2).sum()])
    n_i = frame.groupby("g").size().to_numpy(float)
    rhos = [0.1, 0.3, 0.6]
    ours = [_intercept_only_deviance(np.array([r]), means, within, n_i)[0] for r in rhos]
    full = [_profile(np.array([r / (1 - r)]), fit.sums, True)[0] for r in rhos]
    # Same function up to an additive constant.
    np.testing.assert_allclose(np.diff(ours), np.diff(full), atol=1e-8)


def test_bootstrap_icc_is_deterministic_and_close_to_searle_interval():
    y, groups = balanced(k=40, m=6, seed=9, sigma_b=0.45, sigma_e=0.5)
    fit = fit_random_intercepts(y, intercept(y.size), groups)
    boot = bootstrap_icc(fit, 999, seed=1)
    np.testing.assert_array_equal(boot, bootstrap_icc(fit, 999, seed=1))
    low, high = np.quantile(boot, [0.025, 0.975])
    # Balanced design: exact F-based interval (Searle 1971, eq. 9.22) for comparison.
    msb, msw = one_way_anova(y, groups, 6)
    f = msb / msw
    fl, fu = f / stats.f.ppf(0.975, 39, 200), f / stats.f.ppf(0.025, 39, 200)
    assert low == pytest.approx((fl - 1) / (fl + 5), abs=0.04)
    assert high == pytest.approx((fu - 1) / (fu + 5), abs=0.04)
    assert low < fit.icc < high


# --------------------------------------------------------------------------- Satterthwaite


def small_design():
    """12 patients x 4 observations, a covariate and a 3-level factor (written to CSV with
    %.17g for R, so both fit the same numbers)."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(12), 4)
    x = rng.normal(size=g.size)
    site = rng.integers(0, 3, g.size)
    y = 1 + 0.3 * x + rng.normal(0, 0.5, 12)[g] + rng.normal(0, 0.4, g.size) + 0.2 * (site == 1)
    design = pd.DataFrame({"intercept": 1.0, "x": x, "site1": (site == 1) * 1.0, "site2": (site == 2) * 1.0})
    return y, design, g


def test_satterthwaite_t_and_f_equal_lmertest():
    y, design, g = small_design()
    fit = fit_random_intercepts(y, design, g)
    # R 4.2.2, lmerTest 3.1-3: m <- lmer(y ~ x + site + (1 | g), d, REML = TRUE); summary(m)
    #              Estimate    Std. Error          df     t value        Pr(>|t|)
    # (Intercept) 0.7524657200 0.17032335764 25.58238526 4.417865702 0.0001611464711
    # x           0.2346720962 0.08630086877 40.48208912 2.719232141 0.0095919942048
    # site1       0.2712841576 0.17836402211 34.30986331 1.520957839 0.1374339311048
    expected = {
        "intercept": (0.7524657200, 0.17032335764, 25.58238526, 0.0001611464711),
        "x": (0.2346720962, 0.08630086877, 40.48208912, 0.0095919942048),
        "site1": (0.2712841576, 0.17836402211, 34.30986331, 0.1374339311048),
    }
    for name, (estimate, se, df, p) in expected.items():
        test = fit.t_test({name: 1.0})
        assert test.estimate == pytest.approx(estimate, abs=1e-9)
        assert test.se == pytest.approx(se, rel=1e-8)
        assert test.df == pytest.approx(df, rel=1e-6)
        assert test.p == pytest.approx(p, rel=1e-6)
    # contest(m, c(1, 0, 0, 0), joint = FALSE, confint = TRUE): lower 0.4020826753, upper 1.102848765
    low, high = fit.t_test({"intercept": 1.0}).interval(0.95)
    assert low == pytest.approx(0.4020826753, abs=1e-8)
    assert high == pytest.approx(1.102848765, abs=1e-8)
    # anova(m): site Sum Sq 0.4642330758, NumDF 2, DenDF 36.31739066, F 1.237784236, p 0.3019717794
    # (contest(m, rbind(c(0,0,1,0), c(0,0,0,1))) gives the same for this basis).
    f = fit.f_test(np.array([[0, 0, 1, 0], [0, 0, 0, 1.0]]))
    assert f.df_num == 2
    # rel 1e-7: F moves with the variance estimate, which lme4's optimizer finds to its own
    # tolerance (ours agrees to 1.1e-8 on some CPUs, closer on others).
    assert f.statistic == pytest.approx(1.237784236, rel=1e-7)
    assert f.df_den == pytest.approx(36.31739066, rel=1e-6)
    assert f.p == pytest.approx(0.3019717794, rel=1e-6)
    # A one-row F test is the squared t test.
    one = fit.f_test(np.array([[0, 1.0, 0, 0]]))
    assert one.statistic == pytest.approx(2.719232141**2, rel=1e-8) and one.df_den == pytest.approx(40.48208912)


def test_satterthwaite_df_of_balanced_design_is_the_anova_df():
    # Balanced one-way layout, intercept only: the t test of the mean is exact with
    # k - 1 df (Var(mean) = MSB / N, MSB ~ chi^2_{k-1}); Satterthwaite recovers k - 1.
    y, groups = balanced(k=8, m=5, seed=3)
    fit = fit_random_intercepts(y, intercept(y.size), groups)
    assert fit.t_test({"intercept": 1.0}).df == pytest.approx(7.0, rel=1e-6)


def test_sequential_contrasts_equal_lmertest_type1_basis():
    # Design [1, bone, liver, lung, skin] with the site counts of the demo-like cohort of
    # tests/unit/pet (115 lymph node, 17 bone, 39 liver, 48 lung, 20 skin lesions):
    # lmerTest:::get_contrasts_type1(lmer(y ~ site + (1 | p)))$site rows are
    #   sitebone  0 1 -0.1756756757 -0.2162162162 -0.09009009009
    #   siteliver 0 0  1            -0.2622950820 -0.10928961749
    #   sitelung  0 0  0             1            -0.14814814815
    # (by hand: -n_j / (n_ref + n_later levels), e.g. 39 / (115 + 39 + 48 + 20) = 0.17568).
    counts = {"lymph_node": 115, "bone": 17, "liver": 39, "lung": 48, "skin": 20}
    values = np.repeat(list(counts), list(counts.values()))
    x = np.column_stack(
        [np.ones(values.size)] + [(values == s).astype(float) for s in ["bone", "liver", "lung", "skin"]]
    )
    rows = sequential_contrasts(x, [1, 2, 3, 4])
    np.testing.assert_allclose(rows[0], [0, 1, -0.1756756757, -0.2162162162, -0.09009009009], atol=1e-9)
    np.testing.assert_allclose(rows[1], [0, 0, 1, -0.2622950820, -0.10928961749], atol=1e-9)
    np.testing.assert_allclose(rows[2], [0, 0, 0, 1, -0.14814814815], atol=1e-9)
