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
    biopsied_lesions,
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


def biopsies(patients, lesions):
    """An IHC slides table: each patient's first non-irradiated baseline lesion (first two
    for every third patient) biopsied at baseline, and again on treatment for every second
    patient, with the patient's phenotype."""
    rows = []
    base = lesions[(lesions["timepoint"] == "baseline") & ~lesions["irradiated"].astype(bool)]
    for i, (pid, phenotype) in enumerate(zip(patients["patient_id"], patients["ihc_phenotype"], strict=True)):
        ids = sorted(base.loc[base["patient_id"] == pid, "lesion_id"])
        for lid in ids[:2] if i % 3 == 0 else ids[:1]:
            rows.append((f"{lid}-B", pid, "baseline", lid, phenotype))
            if i % 2 == 0:
                rows.append((f"{lid}-T", pid, "on_treatment", lid, phenotype))
    return pd.DataFrame(rows, columns=["slide_id", "patient_id", "timepoint", "lesion_id", "ihc_phenotype"])


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
    # One test per two-level factor: the LRT; the ratio row has its interval, no second p.
    assert math.isnan(rows.loc["ratio[dMMR/pMMR]", "p"]) and rows.loc["test[dmmr]", "df"] == 1
    assert "Satterthwaite t (REML)" in rows.loc["ratio[dMMR/pMMR]", "method"]


def test_three_level_factor_uses_satterthwaite_f(cohort):
    _, lesions, _ = cohort
    base = prepare_lesions(lesions[lesions["timepoint"] == "baseline"])
    rows = pd.DataFrame(factor_analysis(base, "site", "site", "lymph_node", 0.95)).set_index("term")
    fit = fit_random_intercepts(base["log_suvmax"], pd.get_dummies(base["site"]).astype(float), base["patient_id"])
    levels = list(fit.params.index)
    ref = levels.index("lymph_node")
    contrast = np.array([np.eye(5)[i] - np.eye(5)[ref] for i in range(5) if i != ref])
    diff = contrast @ fit.params.to_numpy()
    # The F statistic is the Wald chi-square / numerator df, whatever the basis.
    chi2 = diff @ np.linalg.solve(contrast @ fit.cov.to_numpy() @ contrast.T, diff)
    assert rows.loc["test[site]", "estimate"] == pytest.approx(chi2 / 4)
    df = rows.loc["test[site]", "df"]
    assert rows.loc["test[site]", "p"] == pytest.approx(stats.f.sf(chi2 / 4, 4, df))
    assert "Satterthwaite F" in rows.loc["test[site]", "method"] and "F(4, " in rows.loc["test[site]", "method"]
    # Each ratio of a 3+ level factor is its own contrast with its own t-test p.
    assert rows.filter(like="ratio[", axis=0)["p"].notna().all()


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


def _response_rows(responders: list[float], non_responders: list[float]) -> pd.Series:
    values = responders + non_responders
    ids = [f"P{i:02d}" for i in range(len(values))]
    base = pd.DataFrame({"patient_id": ids, "log_suvmax": np.log(values)})
    groups = ["responder"] * len(responders) + ["non_responder"] * len(non_responders)
    covariates = pd.DataFrame({"patient_id": ids, "bor": ["PR"] * len(responders) + ["PD"] * len(non_responders),
                               "response_group": groups})  # fmt: skip
    rows = pd.DataFrame(response_analysis(base, covariates, {"ci_level": 0.95, "bor_order": ["PD", "PR"]}))
    return rows.set_index("term").loc["hodges_lehmann_ratio[responder/non_responder]"]


def test_hodges_lehmann_ratio_interval_is_r_wilcox_test():
    # R 4.2: x <- log(c(6.1, 8.3, 10.2, 5.4, 7.7, 12.9, 4.8, 9.5)); y <- log(c(3.2, 4.1, 5.9, 2.7, 6.6, 3.8, 4.4, 5.1))
    #   w <- wilcox.test(x, y, conf.int = TRUE); exp(c(w$estimate, w$conf.int)); w$p.value
    #   1.81976560055 1.25757575758 2.52941176471; p 0.004662004662
    # (exact: order statistics 14 and 51 of the 64 ratios; the Hollander-Wolfe large-sample
    # interval used before took 13 and 52: 1.2273-2.5938).
    responders = [6.1, 8.3, 10.2, 5.4, 7.7, 12.9, 4.8, 9.5]
    non_responders = [3.2, 4.1, 5.9, 2.7, 6.6, 3.8, 4.4, 5.1]
    hl = _response_rows(responders, non_responders)
    assert hl[["estimate", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [1.81976560055, 1.25757575758, 2.52941176471]
    )
    assert hl["p"] == pytest.approx(0.004662004662)
    assert "exact" in hl["method"] and "wilcox.test(conf.int = TRUE)" in hl["method"]
    # A tie (4.4 in both groups): normal approximation with continuity correction, R:
    #   wilcox.test(c(x, log(4.4)), y, conf.int = TRUE): conf.int 1.16661555662 2.48789604037; p 0.0123011450252
    # (R's uniroot stops at tolerance 1e-4 on the log scale; R's printed estimate is a root
    # search too, 1.687, where the table reports the Hodges-Lehmann median).
    hl = _response_rows(responders + [4.4], non_responders)
    assert math.log(hl["ci_low"]) == pytest.approx(math.log(1.16661555662), abs=1e-4)
    assert math.log(hl["ci_high"]) == pytest.approx(math.log(2.48789604037), abs=1e-4)
    assert hl["p"] == pytest.approx(0.0123011450252, rel=1e-9)
    assert "normal approximation" in hl["method"]


def test_run_pet_models_is_deterministic_with_contract_columns(cohort):
    patients, lesions, _ = cohort
    slides = biopsies(patients, lesions)
    first = run_pet_models(lesions, patients, {"bootstrap_replicates": 200}, slides)
    second = run_pet_models(lesions, patients, {"bootstrap_replicates": 200}, slides)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "df", "method"]
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
    figures = pet_model_figures(lesions, patients, slides=biopsies(patients, lesions))
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
    phenotype = figures["pet_suvmax_by_ihc_phenotype"][1]
    pairs = biopsied_lesions(prepare_lesions(lesions), biopsies(patients, lesions))
    assert len(phenotype) == len(pairs) and set(phenotype["timepoint"]) == {"baseline", "on_treatment"}
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


# --------------------------------------------------------------------------- lmerTest
# Reference numbers: R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, on the models' own frames (the
# lesions prepare_lesions and biopsied_lesions select, written with %.17g), e.g.
#   b <- read.csv("base.csv"); b$site <- relevel(factor(b$site), ref = "lymph_node")
#   m <- lmer(log_suvmax ~ site + (1 | patient_id), b, REML = TRUE)
#   contest(m, cbind(0, diag(4)), joint = FALSE, confint = TRUE); anova(m)
#   contest(lmer(log_suvmax ~ 1 + (1 | patient_id), b), matrix(1), joint = FALSE, confint = TRUE)
#   contest(lmer(log_suvmax ~ dmmr + (1 | patient_id), b), c(0, 1), joint = FALSE, confint = TRUE)
#   ph <- read.csv("pheno.csv")   # biopsied lesions, both timepoints
#   f <- log_suvmax ~ ihc_phenotype_group + (1 | patient_id) + (1 | patient_id:lesion_id)
#   contest(lmer(f, ph), c(0, 1), joint = FALSE, confint = TRUE)
#   m1 <- lmer(f, ph, REML = FALSE); anova(update(m1, . ~ . - ihc_phenotype_group), m1)
#   ch <- read.csv("change.csv")  # patients with an on-treatment scan, weeks from baseline
#   contest(lmer(log_suvmax ~ weeks + (1 | patient_id) + (1 | patient_id:lesion_id), ch), c(0, 1), ...)
#   contest(lmer(log_suvmax ~ resp + w_nr + w_r + (1|patient_id) + (1|patient_id:lesion_id), ...),
#           rbind(c(0, 0, 0, 1), c(0, 0, 1, 0), c(0, 0, -1, 1)), joint = FALSE, confint = TRUE)
# Each entry: (estimate, lower, upper, df, p) on the log scale as R prints it; p None where
# the table reports the likelihood-ratio test instead (two-level factors).
# fmt: off
LMERTEST = {
    # simulate_latent(patients=38, seed=1): the demo's latent cohort.
    (38, 1): {
        ("baseline_geomean", "geometric_mean_suvmax"): (1.56218236, 1.445884885, 1.678479835, 36.64285019, None),
        ("site", "ratio[bone/lymph_node]"): (-0.07941655894, -0.3323081216, 0.17347500370, 224.1768347, 5.366525421e-01),
        ("site", "ratio[liver/lymph_node]"): (-0.14447619113, -0.3233550859, 0.03440270367, 218.9139166, 1.128689761e-01),
        ("site", "ratio[lung/lymph_node]"): (-0.33928524820, -0.5041197223, -0.17445077407, 218.2280250, 6.928559222e-05),
        ("site", "ratio[skin/lymph_node]"): (-0.18248525406, -0.4146830515, 0.04971254343, 217.4381067, 1.228442235e-01),
        ("site", "geometric_mean_suvmax[lymph_node]"): (1.676159078, 1.542677678, 1.809640477, 61.01638249, None),
        ("dmmr", "ratio[dMMR/pMMR]"): (0.1947616688, -0.1114892323, 0.5010125699, 39.44655207, None),
        ("ihc_phenotype", "ratio[stromal_or_inflamed/desert]"): (0.6659784522, 0.3532950141, 0.9786618903, 30.44745951, None),
        ("change_per_week", "percent_change_per_week[all]"): (0.02993828521, 0.02284716209, 0.03702940833, 153.0251482, 4.008009605e-14),
        ("change_per_week", "percent_change_per_week[responder]"): (0.06469905872, 0.056286215493, 0.07311190194, 125.0411177, 3.032186495e-30),
        ("change_per_week", "interaction_ratio[responder/non_responder]"): (0.06077508928, 0.049050275049, 0.07249990350, 125.0327898, 2.741800714e-18),
    },
    # simulate_latent(patients=20, seed=11): a second, smaller cohort whose phenotype model is
    # singular (lesion variance 0; R: "boundary (singular) fit").
    (20, 11): {
        ("baseline_geomean", "geometric_mean_suvmax"): (1.640596124, 1.481715002, 1.799477246, 19.60035493, None),
        ("site", "ratio[liver/lymph_node]"): (-0.35987895617, -0.6099196856, -0.1098382268, 99.96135175, 0.0052259200388),
        ("site", "ratio[lung/lymph_node]"): (-0.40668236053, -0.6427391088, -0.1706256122, 103.42227427, 0.0009074649385),
        ("dmmr", "ratio[dMMR/pMMR]"): (0.1038063233, -0.2578800401, 0.4654926867, 20.87470536, None),
        ("ihc_phenotype", "ratio[stromal_or_inflamed/desert]"): (0.1058083486, -0.4863908698, 0.698007567, 25.47097470, None),
        ("change_per_week", "percent_change_per_week[non_responder]"): (0.006716468101, -0.006160240765, 0.01959317697, 80.02132139, 3.023921700e-01),
        ("change_per_week", "interaction_ratio[responder/non_responder]"): (0.051326502730, 0.033836799548, 0.06881620591, 80.02567230, 1.072343182e-07),
    },
}
# fmt: on
# anova(lmer(log_suvmax ~ site + (1 | patient_id), b)): F, DenDF, p; and the ML
# likelihood-ratio tests anova(m0, m1): Chisq, p.
LMERTEST_TESTS = {
    (38, 1): {"test[site]": (4.32033, 219.43157, 0.0022007), "test[ihc_phenotype_group]": (16.05222, 1, 6.1619e-05)},
    (20, 11): {"test[site]": (4.3581, 100.39326, 0.0027241), "test[ihc_phenotype_group]": (0.14469, 1, 0.70366)},
}


def natural(analysis, term, value):
    """The table's scale for a log-scale R number."""
    if term.startswith("percent_"):
        return 100 * math.expm1(value)
    return math.exp(value)


@pytest.mark.parametrize("size, seed", list(LMERTEST))
def test_pet_models_equal_lmertest(size, seed):
    patients, lesions, _ = simulate_latent(patients=size, seed=seed)
    out = run_pet_models(lesions, patients, {"bootstrap_replicates": 0}, biopsies(patients, lesions))
    out = out.set_index(["analysis", "term"])
    for key, (estimate, low, high, df, p) in LMERTEST[(size, seed)].items():
        row = out.loc[key]
        for column, value in (("estimate", estimate), ("ci_low", low), ("ci_high", high)):
            assert row[column] == pytest.approx(natural(*key, value), rel=1e-6), (key, column)
        assert row["df"] == pytest.approx(df, rel=1e-5), key
        if p is None:
            assert math.isnan(row["p"]), key
        else:
            assert row["p"] == pytest.approx(p, rel=1e-4), key
        assert "Satterthwaite t (REML)" in row["method"], key
    for term, (statistic, df, p) in LMERTEST_TESTS[(size, seed)].items():
        analysis = "site" if term == "test[site]" else "ihc_phenotype"
        row = out.loc[(analysis, term)]
        assert row["estimate"] == pytest.approx(statistic, rel=1e-4), term
        assert row["df"] == pytest.approx(df, rel=1e-6), term
        assert row["p"] == pytest.approx(p, rel=1e-3), term


def test_phenotype_uses_biopsied_lesions_not_the_patients_other_lesions(cohort):
    patients, lesions, _ = cohort
    slides = biopsies(patients, lesions)
    out = run_pet_models(lesions, patients, {"bootstrap_replicates": 0}, slides).set_index(["analysis", "term"])
    pairs = biopsied_lesions(prepare_lesions(lesions), slides)
    # Every slide whose lesion has a scan at the slide's timepoint, and nothing else.
    assert out.loc[("ihc_phenotype", "n_measurements"), "estimate"] == len(pairs)
    assert len(pairs) < len(slides) + 1 and set(pairs["timepoint"]) == {"baseline", "on_treatment"}
    n_lesions = slides.drop_duplicates(["patient_id", "lesion_id"]).shape[0]
    assert out.loc[("ihc_phenotype", "n_lesions"), "estimate"] == n_lesions
    assert out.loc[("ihc_phenotype", "n_patients"), "estimate"] == slides["patient_id"].nunique()
    # Two lesions for every third patient and two scans for some: lesion intercept included.
    assert "(1|patient:lesion)" in out.loc[("ihc_phenotype", "geometric_mean_suvmax[desert]"), "method"]
    # The projected analysis only on request, under its own name.
    assert not out.index.get_level_values(0).isin(["ihc_phenotype_patient_projected"]).any()
    projected = run_pet_models(lesions, patients, {"bootstrap_replicates": 0, "ihc_phenotype_unit": "patient"}, slides)
    projected = projected.set_index(["analysis", "term"])
    assert "ihc_phenotype" not in projected.index.get_level_values(0)
    n_base = prepare_lesions(lesions).merge(patients[["patient_id", "ihc_phenotype"]], on="patient_id")
    n_base = n_base[(n_base["timepoint"] == "baseline") & n_base["ihc_phenotype"].notna()]
    assert projected.loc[("ihc_phenotype_patient_projected", "n_measurements"), "estimate"] == len(n_base)
    assert "projected" in projected.loc[("ihc_phenotype_patient_projected", "n_measurements"), "method"]
    # Without slides naming lesions the lesion-level analysis is skipped, not projected.
    none = run_pet_models(lesions, patients, {"bootstrap_replicates": 0}, slides.assign(lesion_id=None))
    assert not none["analysis"].str.startswith("ihc_phenotype").any()


def test_conflicting_phenotypes_of_one_biopsy_are_refused(cohort):
    patients, lesions, _ = cohort
    slides = biopsies(patients, lesions)
    extra = slides.iloc[[0]].assign(
        slide_id="second-slide", ihc_phenotype="desert" if slides.iloc[0]["ihc_phenotype"] != "desert" else "inflamed"
    )
    with pytest.raises(InputError, match="second-slide"):
        biopsied_lesions(prepare_lesions(lesions), pd.concat([slides, extra]))
