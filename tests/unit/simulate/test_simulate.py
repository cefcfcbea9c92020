"""The simulator meets its published calibration targets on a large draw."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from contexture.simulate import SITE_COUNTS, TARGETS, simulate_latent, variance_components


@pytest.fixture(scope="module")
def large():
    return simulate_latent(patients=4000, seed=11)


def test_deterministic_from_seed():
    first = simulate_latent(30, 5)
    second = simulate_latent(30, 5)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert not simulate_latent(30, 6)[1]["suvmax"].equals(first[1]["suvmax"])


def test_variance_components_solve_the_targets():
    c = variance_components()
    # Hand check of the solution: ICC target and per-patient geomean spread.
    pi, delta = TARGETS["dmmr_fraction"], TARGETS["dmmr_effect_log"]
    weights = np.array(list(SITE_COUNTS.values()), float) / sum(SITE_COUNTS.values())
    site_var = float(weights @ np.array(list(c["site_effects"].values())) ** 2)
    between = c["sigma_b"] ** 2 + delta**2 * pi * (1 - pi)
    within = c["sigma_e"] ** 2 + site_var
    assert between / (between + within) == pytest.approx(0.46, abs=1e-9)
    sd_log = math.sqrt(between + within / 7)
    assert sd_log == pytest.approx(math.log(7.4 / 4.0) / (2 * 0.6744897502), rel=1e-6)
    assert abs(float(weights @ np.array(list(c["site_effects"].values())))) < 1e-9


def test_calibration_targets_on_a_large_draw(large):
    patients, lesions, truth = large
    baseline = lesions[lesions["timepoint"] == "baseline"]
    # Lesions per patient ~7 (tolerance: 3 SE of a Poisson mean over 4000 patients ~ 0.1).
    assert len(baseline) / len(patients) == pytest.approx(7.0, abs=0.15)
    # Overall geometric mean 5.6 (SE of mean log ~ 0.01 -> 3% tolerance).
    assert math.exp(np.log(baseline["suvmax"]).mean()) == pytest.approx(5.6, rel=0.03)
    # Per-patient geometric mean: median 5.2 published; the model's median is exp(mean) ~ 5.6.
    q1, q3 = np.percentile(patients["geomean_suvmax_baseline"], [25, 75])
    assert math.log(q3 / q1) == pytest.approx(math.log(7.4 / 4.0), abs=0.06)
    # Site mix of the published 212 lesions, within 2 percentage points.
    shares = baseline["site"].value_counts(normalize=True)
    for site, count in SITE_COUNTS.items():
        assert shares[site] == pytest.approx(count / 212, abs=0.02)
    assert patients["dmmr"].mean() == pytest.approx(0.25, abs=0.025)
    assert patients["has_on_treatment_scan"].mean() == pytest.approx(0.6, abs=0.03)


def test_icc_recovered_by_random_intercept_model(large):
    _, lesions, _ = large
    baseline = lesions[lesions["timepoint"] == "baseline"].copy()
    baseline["log_suvmax"] = np.log(baseline["suvmax"])
    fit = smf.mixedlm("log_suvmax ~ 1", baseline, groups=baseline["patient_id"]).fit(reml=True)
    between = float(fit.cov_re.iloc[0, 0])
    icc = between / (between + fit.scale)
    assert icc == pytest.approx(0.46, abs=0.03)


def test_best_response_proportions(large):
    patients, _, _ = large
    evaluable = patients[patients["bor"] != "NE"]
    shares = evaluable["bor"].value_counts(normalize=True)
    for category, count in TARGETS["bor_counts"].items():
        assert shares[category] == pytest.approx(count / 35, abs=0.04)
    # Higher uptake, better response: responders' geomean exceeds PD patients'.
    assert (
        evaluable.loc[evaluable["responder"], "geomean_suvmax_baseline"].median()
        > evaluable.loc[evaluable["bor"] == "PD", "geomean_suvmax_baseline"].median()
    )


def test_survival_hazard_ratio_recovered(large):
    from lifelines import CoxPHFitter

    patients, _, _ = large
    data = pd.DataFrame(
        {
            "t": patients["os_days"],
            "e": patients["os_event"],
            "z_decrease": -patients["geomean_z"],
        }
    )
    fit = CoxPHFitter().fit(data, "t", "e")
    low, high = np.exp(fit.confidence_intervals_.loc["z_decrease"])
    assert low < 1.6 < high


def test_ihc_phenotype_tracks_uptake(large):
    patients, _, _ = large
    shares = patients["ihc_phenotype"].value_counts(normalize=True)
    assert shares["desert"] == pytest.approx(0.30, abs=0.03)
    medians = patients.groupby("ihc_phenotype")["patient_effect_log"].median()
    assert medians["desert"] < medians["stromal"] < medians["inflamed"]
