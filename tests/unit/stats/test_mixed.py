"""contexture.stats.mixed: hand calculations (balanced ANOVA), statsmodels.MixedLM as reference."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from contexture.simulate import simulate_latent
from contexture.stats.mixed import _intercept_only_deviance, _profile, bootstrap_icc, fit_random_intercepts


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
