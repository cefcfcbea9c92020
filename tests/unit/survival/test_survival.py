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
