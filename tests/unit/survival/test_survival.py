"""The survival stage (contexture.survival.analysis): stratifiers, skipped columns, table shapes.

The estimators are tested against R in tests/unit/stats/test_survival.py.
"""

import math

import numpy as np
import pandas as pd
import pytest

from contexture.stats.survival import kaplan_meier, survival_quantile
from contexture.survival import analysis as sv


def _cohort():
    rng = np.random.default_rng(3)
    n = 80
    marker = rng.normal(5, 2, n)
    time = rng.exponential(10 * np.exp(0.3 * (marker - 5)), n)
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "pfs_months": time / 2,
            "pfs_event": (rng.random(n) < 0.8).astype(int),
            "os_months": time,
            "os_event": (rng.random(n) < 0.7).astype(int),
            "pet_geomean_suvmax_baseline": marker,
            "dmmr": pd.Series(rng.random(n) < 0.3, dtype=object),
            "ihc_phenotype": rng.choice(["desert", "stromal", "inflamed"], n),
            "immunosign_high": np.nan,  # empty column: skipped
            "tumor_type": "melanoma",  # constant: skipped
        }
    )
    patients.loc[[0, 1], "os_months"] = np.nan  # no follow-up: excluded and counted
    patients.loc[5, "dmmr"] = np.nan
    return patients


def _options(**cox):
    section = {
        "stratifiers": [
            {"column": "pet_geomean_suvmax_baseline", "split": "median", "order": ["low", "high"]},
            {"column": "immunosign_high"},
            {"column": "tumor_type"},
            {"column": "not_a_column"},
            {"column": "ihc_phenotype", "order": ["desert", "stromal", "inflamed"]},
            {"column": "dmmr", "labels": {"true": "dMMR", "false": "pMMR"}, "order": ["pMMR", "dMMR"]},
        ],
        "cox": {
            "univariable": ["pet_geomean_suvmax_baseline", "immunosign_high", "dmmr", "ihc_phenotype"],
            "models": [{"name": "both", "terms": ["pet_geomean_suvmax_baseline", "dmmr"]}],
            **cox,
        },
    }
    return sv.SurvivalOptions.from_config(section)


def test_analyse_skips_unusable_columns_and_counts_missing(caplog):
    caplog.set_level("INFO", logger="contexture.survival.analysis")
    patients = _cohort()
    tables = sv.analyse(patients, _options())
    km = tables["km"]
    assert set(km["stratifier"]) == {"all", "pet_geomean_suvmax_baseline", "ihc_phenotype", "dmmr"}
    assert "'immunosign_high': all values missing" in caplog.text
    assert "'tumor_type': constant" in caplog.text and "'not_a_column': column absent" in caplog.text
    os_rows = km[km["endpoint"] == "os"]
    assert (os_rows["n_missing_survival"] == 2).all()
    dmmr = os_rows[os_rows["stratifier"] == "dmmr"]
    assert dmmr["group"].tolist() == ["pMMR", "dMMR"]
    assert dmmr["n"].sum() == 80 - 2 - 1 and (dmmr["n_missing_group"] == 1).all()
    # Median split: high = above the median of all patients.
    pet = km[(km["endpoint"] == "pfs") & (km["stratifier"] == "pet_geomean_suvmax_baseline")]
    assert pet.set_index("group")["n"].to_dict() == {"low": 40, "high": 40}
    logrank = tables["logrank"]
    trend = logrank[(logrank["stratifier"] == "ihc_phenotype") & (logrank["test"] == "log-rank trend")]
    assert len(trend) == 2 and (trend["df"] == 1).all()
    cox = tables["cox"]
    assert "immunosign_high" not in set(cox["term"])
    both = cox[(cox["model"] == "both") & (cox["endpoint"] == "os")]
    assert both["term"].tolist() == ["pet_geomean_suvmax_baseline", "dmmr"]
    assert both["scale"].tolist() == ["per SD decrease", "dMMR vs pMMR"]
    assert (both["n"] == 77).all()


def test_analyse_km_rows_equal_direct_computation():
    patients = _cohort()
    km = sv.analyse(patients, _options())["km"].set_index(["endpoint", "stratifier", "group"])
    members = patients[patients["dmmr"].eq(True) & patients["os_months"].notna()]
    curve = kaplan_meier(members["os_months"], members["os_event"])
    median, low, high = survival_quantile(curve)
    row = km.loc[("os", "dmmr", "dMMR")]
    assert row["median_months"] == pytest.approx(median) and row["events"] == members["os_event"].sum()


def test_analyse_without_follow_up_gives_header_only_tables():
    patients = pd.DataFrame({"patient_id": ["A", "B"], "dmmr": [True, False]})
    tables = sv.analyse(patients, _options())
    for name in ("km", "logrank", "cox", "followup"):
        assert tables[name].empty
    assert list(tables["km"].columns[:8]) == sv.KM_COLUMNS[:8]
    assert "surv_6m" in tables["km"].columns and list(tables["cox"].columns) == sv.COX_COLUMNS


def test_single_group_and_no_event_group():
    patients = pd.DataFrame(
        {
            "patient_id": list("ABCDEF"),
            "os_months": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "os_event": [1, 1, 1, 0, 0, 0],
            "dmmr": [False, False, False, True, True, True],  # dMMR: no events
            "ihc_phenotype": ["desert"] * 6,  # a single group: constant, skipped
        }
    )
    options = sv.SurvivalOptions.from_config(
        {"endpoints": ["os"], "stratifiers": [{"column": "dmmr"}, {"column": "ihc_phenotype"}], "cox": {}}
    )
    km = sv.analyse(patients, options)["km"].set_index("group")
    assert set(km.index) == {"all", "false", "true"}
    assert math.isnan(km.loc["true", "median_months"]) and math.isnan(km.loc["true", "ci_low"])
    assert km.loc["true", "events"] == 0
    assert km.loc["false", "surv_6m"] == 0.0  # the curve reached 0 and stays there


# ----------------------------------------------------------------- landmark analysis


def _rossi_patients():
    """lifelines' Rossi as a patients table: weeks read as months, ``responder`` = fin."""
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    return pd.DataFrame(
        {
            "patient_id": [f"R{i:03d}" for i in range(len(rossi))],
            "os_months": rossi["week"].astype(float),
            "os_event": rossi["arrest"],
            "responder": rossi["fin"] == 1,
            "age": rossi["age"].astype(float),
        }
    )


def _landmark_options(landmark_weeks=87):
    return {
        "endpoints": ["os"],
        "landmark_weeks": landmark_weeks,
        "landmarks_months": [6, 12],
        "stratifiers": [{"column": "responder"}],
        "cox": {
            "univariable": ["responder"],
            "models": [{"name": "with_age", "terms": ["responder", "age"]}],
            "scales": {"age": "unit"},
        },
    }


def test_landmark_analysis_of_a_response_variable_matches_r():
    # R 4.2 / survival 3.5-3 on read.csv of lifelines' load_rossi(), weeks read as months:
    #   d$responder <- d$fin == 1; L <- 87 * 7 / 30.4375   # 87 weeks = 20.008 months
    #   s <- subset(d, week > L); s$t <- s$week - L         # n 392, 40 excluded, 74 events
    #   fit <- survfit(Surv(t, arrest) ~ responder, data = s); summary(fit, times = c(6, 12))
    #   survdiff(Surv(t, arrest) ~ responder, data = s)
    #   coxph(Surv(t, arrest) ~ responder, data = s); coxph(Surv(t, arrest) ~ responder + age, data = s)
    tables = sv.analyse(_rossi_patients(), sv.SurvivalOptions.from_config(_landmark_options()))
    km = tables["km"].set_index(["stratifier", "group"])
    everyone = km.loc[("all", "all")]
    assert everyone["n"] == 432 and math.isnan(everyone["landmark_weeks"])  # the overall curve: no landmark
    false, true = km.loc[("responder", "false")], km.loc[("responder", "true")]
    assert false["n"] + true["n"] == 392 and false["n_before_landmark"] == 40 and true["landmark_weeks"] == 87
    assert false["events"] + true["events"] == 74
    assert [false["surv_6m"], false["surv_12m"], true["surv_6m"], true["surv_12m"]] == pytest.approx(
        [0.943589743589744, 0.907692307692308, 0.984771573604061, 0.974619289340101], abs=1e-12
    )
    assert [false["surv_12m_ci_low"], true["surv_12m_ci_high"]] == pytest.approx(
        [0.867960711104556, 0.996831249101955], abs=1e-12
    )
    logrank = tables["logrank"].iloc[0]
    assert logrank["statistic"] == pytest.approx(4.67297039284723, abs=1e-10)
    assert logrank["p"] == pytest.approx(0.0306408883583724, abs=1e-10)
    assert (logrank["n"], logrank["events"], logrank["landmark_weeks"]) == (392, 74, 87)
    cox = tables["cox"].set_index(["model", "term"])
    single = cox.loc[("univariable", "responder")]
    assert single["coef"] == pytest.approx(-0.508942302133145, abs=1e-5)
    assert single["se"] == pytest.approx(0.238146712074664, abs=1e-5)
    assert single["p"] == pytest.approx(0.0325902128026591, abs=1e-5)
    assert [single["ci_low"], single["ci_high"]] == pytest.approx([0.376927928523017, 0.958694013386834], abs=1e-5)
    assert (single["n"], single["events"], single["landmark_weeks"]) == (392, 74, 87)
    both = cox.loc["with_age"]
    assert both.loc["responder", "coef"] == pytest.approx(-0.4572470418022965, abs=1e-5)
    assert both.loc["age", "coef"] == pytest.approx(-0.0965223158972967, abs=1e-5)
    assert both.loc["age", "se"] == pytest.approx(0.0285270984469595, abs=1e-5)
    assert (both["landmark_weeks"] == 87).all()


def test_a_response_variable_without_landmark_is_refused_by_name():
    from contexture.config import validate_config
    from contexture.errors import ConfigError

    options = sv.SurvivalOptions.from_config(_landmark_options(landmark_weeks=None))
    with pytest.raises(ConfigError, match=r"'responder' is known only after follow-up starts.*guarantee-time"):
        sv.analyse(_rossi_patients(), options)
    config = {"cohorts": {"c": {"clinical": "c.tsv", "survival": _landmark_options(landmark_weeks=None)}}}
    with pytest.raises(ConfigError, match=r"cohorts\.c: survival: 'responder' is known only after"):
        validate_config(config)
    # Baseline variables need no landmark; columns named on-treatment or declared are post-baseline.
    assert sv.post_baseline_problems({"landmark_weeks": None, "stratifiers": [{"column": "dmmr"}]}) == []
    assert sv.is_post_baseline("pet_geomean_suvmax_on_treatment") and sv.is_post_baseline("bor")
    assert sv.is_post_baseline("ctdna_clearance", ["ctdna_clearance"]) and not sv.is_post_baseline("age")


def test_scale_is_per_sd_decrease_only_for_baseline_pet_uptake_by_default():
    options = sv.SurvivalOptions.from_config({})
    patients = _cohort().assign(tumor_burden=np.linspace(1, 9, 80), immunosign_score=np.linspace(-1, 1, 80))
    assert sv.covariate_for(patients, "pet_geomean_suvmax_baseline", options).scale == "sd_decrease"
    assert sv.covariate_for(patients, "tumor_burden", options).scale == "sd_increase"
    assert sv.covariate_for(patients, "immunosign_score", options).scale == "sd_increase"
