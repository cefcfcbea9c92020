"""PET mixed-model analyses: designs, tests, statsmodels as reference, and truth recovery.

The fitter itself (contexture.stats.mixed) is tested in tests/unit/stats/test_mixed.py.
"""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from contexture.errors import InputError
from contexture.pet.features import geometric_mean_suvmax
from contexture.pet.figures import pet_model_figures
from contexture.pet.models import (
    factor_analysis,
    patient_covariates,
    prepare_lesions,
    response_analysis,
    run_pet_models,
)
from contexture.simulate import SITE_COUNTS, simulate_latent
from contexture.stats.mixed import fit_random_intercepts


@pytest.fixture(scope="module")
def cohort():
    return simulate_latent(patients=60, seed=3)


def lesion_table(rows):
    return pd.DataFrame(
        rows, columns=["patient_id", "lesion_id", "timepoint", "scan_day", "site", "suvmax", "irradiated"]
    )


def test_prepare_lesions_excludes_irradiated_and_checks_values():
    table = lesion_table(
        [
            ["A", "L1", "baseline", -3, "liver", 4.0, False],
            ["A", "L2", "baseline", -3, "liver", 5.0, True],
            ["A", "L3", "baseline", -3, "bone", None, False],
        ]
    )
    out = prepare_lesions(table)
    assert out["lesion_id"].tolist() == ["L1"] and out["log_suvmax"].iloc[0] == pytest.approx(math.log(4.0))
    assert len(prepare_lesions(table, exclude_irradiated=False)) == 2
    table.loc[0, "suvmax"] = 0.0
    with pytest.raises(InputError, match="positive"):
        prepare_lesions(table)
    with pytest.raises(InputError, match="missing column"):
        prepare_lesions(table.drop(columns="site"))


def test_patient_covariates_maps_groups():
    patients = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "dmmr": [True, False, None, True],
            "ihc_phenotype": ["desert", "stromal", "inflamed", None],
            "bor": ["CR", "PD", "NE", "sd"],
        }
    )
    out = patient_covariates(patients, {"responder": ["CR", "PR", "SD"], "non_responder": ["PD"]})
    assert out["dmmr"].tolist() == ["dMMR", "pMMR", None, "dMMR"]
    assert out["ihc_phenotype_group"].tolist() == ["desert", "stromal_or_inflamed", "stromal_or_inflamed", None]
    assert out["response_group"].tolist() == ["responder", "non_responder", None, "responder"]


def test_two_level_factor_uses_ml_likelihood_ratio(cohort):
    patients, lesions, _ = cohort
    base = prepare_lesions(lesions[lesions["timepoint"] == "baseline"])
    covariates = patient_covariates(patients, {"responder": ["CR"], "non_responder": ["PD"]})
    data = base.merge(covariates, on="patient_id")
    rows = pd.DataFrame(factor_analysis(data, "dmmr", "dmmr", "pMMR", 0.95)).set_index("term")
    d = (data["dmmr"] == "dMMR").astype(float).to_numpy()
    y, g = data["log_suvmax"].to_numpy(), data["patient_id"].to_numpy()
    # Reference: 2 * (llf(ML, ~ dmmr) - llf(ML, ~ 1)) with statsmodels MixedLM.
    full = sm.MixedLM(y, np.column_stack([np.ones_like(d), d]), groups=g).fit(reml=False)
    null = sm.MixedLM(y, np.ones((y.size, 1)), groups=g).fit(reml=False)
    assert rows.loc["test[dmmr]", "estimate"] == pytest.approx(2 * (full.llf - null.llf), abs=1e-5)
    assert rows.loc["test[dmmr]", "p"] == pytest.approx(stats.chi2.sf(rows.loc["test[dmmr]", "estimate"], 1))
    # Ratio from REML: exp(dMMR coefficient), equal to the ratio of the level means.
    reml = sm.MixedLM(y, np.column_stack([np.ones_like(d), d]), groups=g).fit(reml=True)
    assert rows.loc["ratio[dMMR/pMMR]", "estimate"] == pytest.approx(math.exp(reml.fe_params[1]), rel=1e-5)
    ratio = rows.loc["geometric_mean_suvmax[dMMR]", "estimate"] / rows.loc["geometric_mean_suvmax[pMMR]", "estimate"]
    assert rows.loc["ratio[dMMR/pMMR]", "estimate"] == pytest.approx(ratio)


def test_three_level_factor_uses_wald_chi_square(cohort):
    _, lesions, _ = cohort
    base = prepare_lesions(lesions[lesions["timepoint"] == "baseline"])
    rows = pd.DataFrame(factor_analysis(base, "site", "site", "lymph_node", 0.95)).set_index("term")
    fit = fit_random_intercepts(base["log_suvmax"], pd.get_dummies(base["site"]).astype(float), base["patient_id"])
    levels = list(fit.params.index)
    ref = levels.index("lymph_node")
    contrast = np.array([np.eye(5)[i] - np.eye(5)[ref] for i in range(5) if i != ref])
    diff = contrast @ fit.params.to_numpy()
    chi2 = diff @ np.linalg.solve(contrast @ fit.cov.to_numpy() @ contrast.T, diff)
    assert rows.loc["test[site]", "estimate"] == pytest.approx(chi2)
    assert rows.loc["test[site]", "p"] == pytest.approx(stats.chi2.sf(chi2, 4))
    assert "Wald" in rows.loc["test[site]", "method"] and "4 df" in rows.loc["test[site]", "method"]


def test_factor_constant_or_absent_is_skipped(cohort):
    _, lesions, _ = cohort
    base = prepare_lesions(lesions[lesions["timepoint"] == "baseline"]).assign(dmmr="pMMR")
    assert factor_analysis(base, "dmmr", "dmmr", "pMMR", 0.95) == []
    out = run_pet_models(lesions, None, {"bootstrap_replicates": 50})
    assert {"baseline_geomean", "icc", "site", "change_per_week"} <= set(out["analysis"])
    assert not {"dmmr", "ihc_phenotype", "response_trend"} & set(out["analysis"])


def test_response_tests_against_scipy_and_hand_values():
    # Per-patient geometric means: responders 6, 8, 10; non-responders 3, 4 (one lesion each).
    values = {"A": 6.0, "B": 8.0, "C": 10.0, "D": 3.0, "E": 4.0}
    base = pd.DataFrame({"patient_id": list(values), "log_suvmax": np.log(list(values.values()))})
    covariates = pd.DataFrame(
        {
            "patient_id": list(values),
            "bor": ["CR", "PR", "SD", "PD", "PD"],
            "response_group": ["responder"] * 3 + ["non_responder"] * 2,
        }
    )
    options = {"ci_level": 0.95, "bor_order": ["PD", "SD", "PR", "CR"]}
    rows = pd.DataFrame(response_analysis(base, covariates, options)).set_index("term")
    tau = stats.kendalltau([3, 2, 1, 0, 0], np.log(list(values.values())))
    assert rows.loc["kendall_tau_b[PD<SD<PR<CR]", "estimate"] == pytest.approx(tau.statistic)
    hl = rows.loc["hodges_lehmann_ratio[responder/non_responder]"]
    # Pairwise ratios 6/3, 6/4, 8/3, 8/4, 10/3, 10/4: median of 1.5, 2, 2, 2.5, 2.67, 3.33 = 2.25
    assert hl["estimate"] == pytest.approx(math.exp(np.median(np.log([2, 1.5, 8 / 3, 2, 10 / 3, 2.5]))))
    # Exact two-sided Mann-Whitney p, complete separation of 3 vs 2: 2 / C(5, 2) = 0.2
    # (R: wilcox.test(c(6, 8, 10), c(3, 4))$p.value = 0.2).
    assert hl["p"] == pytest.approx(0.2)
    assert "exact" in hl["method"]


def test_run_pet_models_is_deterministic_with_contract_columns(cohort):
    patients, lesions, _ = cohort
    first = run_pet_models(lesions, patients, {"bootstrap_replicates": 200})
    second = run_pet_models(lesions, patients, {"bootstrap_replicates": 200})
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "method"]
    required = {"baseline_geomean", "icc", "site", "dmmr", "ihc_phenotype", "change_per_week"}
    assert required | {"change_per_week_volume_adjusted", "response_trend"} <= set(first["analysis"])
    ci = first.dropna(subset=["ci_low"])
    assert (ci["ci_low"] <= ci["estimate"]).all() and (ci["estimate"] <= ci["ci_high"]).all()


def test_lymph_node_comparison_when_normal_nodes_labelled(cohort):
    patients, lesions, _ = cohort
    lesions = lesions.copy()
    normal = (lesions["site"] == "lymph_node") & (lesions["lesion_id"].str.endswith(("1", "3")))
    lesions.loc[normal, "site"] = "lymph_node_normal"
    lesions.loc[normal, "suvmax"] /= 2.0  # normal nodes: half the uptake
    out = run_pet_models(lesions, patients, {"bootstrap_replicates": 0}).set_index(["analysis", "term"])
    row = out.loc[("lymph_node", "percent_difference[malignant/normal]")]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert 50 < row["estimate"] < 200  # +100% expected, with sampling noise
    # Normal nodes are not tumour lesions: excluded from the baseline count.
    n = out.loc[("baseline_geomean", "n_lesions"), "estimate"]
    assert (
        n
        == ((lesions["timepoint"] == "baseline") & (lesions["site"] != "lymph_node_normal")).sum()
        - (
            lesions["irradiated"] & (lesions["timepoint"] == "baseline") & (lesions["site"] != "lymph_node_normal")
        ).sum()
    )


def test_figures_and_their_source_data(cohort):
    patients, lesions, _ = cohort
    figures = pet_model_figures(lesions, patients)
    assert set(figures) == {
        "pet_lesion_overview",
        "pet_suvmax_by_site",
        "pet_suvmax_by_dmmr",
        "pet_suvmax_by_ihc_phenotype",
        "pet_change_per_week_by_response",
    }
    overview = figures["pet_lesion_overview"][1]
    baseline = prepare_lesions(lesions[lesions["timepoint"] == "baseline"])
    expected = geometric_mean_suvmax(baseline, irradiated="include")["geomean_suvmax"]
    per_patient = overview.drop_duplicates("patient_id").set_index("patient_id")["geomean_suvmax"]
    np.testing.assert_allclose(per_patient.sort_index(), expected)
    assert overview.drop_duplicates("patient_id")["geomean_suvmax"].is_monotonic_increasing
    change = figures["pet_change_per_week_by_response"][1]
    assert set(change["patient_id"]) == set(lesions.loc[lesions["timepoint"] == "on_treatment", "patient_id"])
    for fig, _ in figures.values():
        fig.clf()


# --------------------------------------------------------------------------- recovery


@pytest.fixture(scope="module")
def large():
    patients, lesions, truth = simulate_latent(patients=600, seed=2005)
    return run_pet_models(lesions, patients).set_index(["analysis", "term"]), truth


def covers(row, value):
    return row["ci_low"] <= value <= row["ci_high"]


@pytest.mark.recovery
def test_recovers_geometric_mean_and_icc(large):
    out, truth = large
    # Sites are centred on the site mix and intercept + dMMR fraction * effect = ln 5.6,
    # so the population geometric mean is the target 5.6.
    assert covers(out.loc[("baseline_geomean", "geometric_mean_suvmax")], truth["geometric_mean_suvmax"])
    assert covers(out.loc[("icc", "icc")], truth["icc_without_covariates"])


@pytest.mark.recovery
def test_recovers_site_and_dmmr_effects(large):
    out, truth = large
    effects = truth["site_effects_log"]
    for site in SITE_COUNTS:
        if site == "lymph_node":
            continue
        expected = math.exp(effects[site] - effects["lymph_node"])
        assert covers(out.loc[("site", f"ratio[{site}/lymph_node]")], expected), site
    assert covers(out.loc[("dmmr", "ratio[dMMR/pMMR]")], math.exp(truth["dmmr_effect_log"]))


@pytest.mark.recovery
def test_recovers_change_per_week_by_response(large):
    out, truth = large
    for analysis in ("change_per_week", "change_per_week_volume_adjusted"):
        for group in ("responder", "non_responder"):
            expected = 100 * math.expm1(truth["change_per_week_log"][group])
            assert covers(out.loc[(analysis, f"percent_change_per_week[{group}]")], expected), (analysis, group)
