"""contexture.toxicity.analysis against R and hand calculations (the tests themselves: tests/unit/stats).

R 4.x reference calls are in the comments; literals printed with options(digits = 15).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.toxicity.analysis import (
    COLUMNS,
    organ_uptake_change,
    toxicity_analysis,
)
from contexture.toxicity.figures import toxicity_figure

SEVERE = [5.1, 7.3, 6.8, 9.0]
OTHER = [3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5]


def _patients() -> pd.DataFrame:
    # P05 is severe but has no marker value: the groups are SEVERE and OTHER
    grades = [3, 4, 3, 3, 3, 0, 1, 2, 0, 1, 0, 0]
    marker = SEVERE + [np.nan] + OTHER
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:02d}" for i in range(1, 13)],
            "irae_grade_max": grades,
            "marker": marker,
            "flag": [True, False] * 6,  # boolean: not a numeric biomarker, skipped
        }
    )


def test_analysis_rows_q_and_fisher_table():
    table, plot, changes = toxicity_analysis(
        _patients(),
        None,
        {"columns": ["irae_grade_max", "neurotoxicity_grade"], "biomarkers": ["marker", "flag", "absent"]},
    )
    assert list(table.columns) == COLUMNS
    assert list(table["test"]) == ["mann_whitney", "fisher_exact"]
    mw = table.iloc[0]
    assert (mw["n_severe"], mw["n_other"], mw["statistic"]) == (4, 7, 26)
    assert mw["p"] == pytest.approx(0.0242424242424242, rel=1e-12)  # R wilcox.test above
    assert sorted(plot.loc[plot["severe"], "value"]) == sorted(SEVERE)
    assert "P05" not in set(plot["patient_id"])
    # one test per family: q = p
    assert (table["q"] == table["p"]).all()
    # median of the 11 values is 5.1; high = above it
    assert "high = above the median 5.1;" in table.iloc[1]["method"]
    assert changes.empty


def test_analysis_severe_patients_by_grade_threshold():
    patients = pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(11)], "g": [3, 4, 3, 3, 0, 1, 2, 0, 1, 0, 0], "m": SEVERE + OTHER}
    )
    table, _, _ = toxicity_analysis(patients, None, {"columns": ["g"], "biomarkers": ["m"]})
    mw = table.set_index("test").loc["mann_whitney"]
    assert (mw["n_severe"], mw["n_other"], mw["statistic"]) == (4, 7, 26)
    assert mw["p"] == pytest.approx(0.0242424242424242, rel=1e-12)  # R value above
    fisher = table.set_index("test").loc["fisher_exact"]
    # median of the 11 values = 5.1 (low: not above); high: 7.3, 6.8, 9.0 severe; 6.1, 5.5 other
    # R: x <- c(5.1, 7.3, 6.8, 9.0, 3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5); sev <- rep(c(TRUE, FALSE), c(4, 7))
    #    fisher.test(table(factor(x > median(x), c(TRUE, FALSE)), factor(sev, c(TRUE, FALSE))))
    # table [[3, 2], [1, 5]]; p = 0.242424242424243, OR 6.06919145943937, CI 0.285564041331731 468.452065485210
    assert "[[3, 2], [1, 5]]" in fisher["method"]
    assert fisher["p"] == pytest.approx(0.242424242424243, rel=1e-10)
    assert fisher["estimate"] == pytest.approx(6.06919145943937, rel=1e-5)
    assert fisher["ci_low"] == pytest.approx(0.285564041331731, rel=1e-4)
    assert fisher["ci_high"] == pytest.approx(468.452065485210, rel=1e-2)  # R's uniroot tolerance
    # severe_grade 4: one severe patient -> skipped
    table, _, _ = toxicity_analysis(patients, None, {"columns": ["g"], "biomarkers": ["m"], "severe_grade": 4})
    assert table.empty


def test_skip_without_columns_or_severe_patients(caplog):
    patients = _patients()
    with caplog.at_level(logging.INFO, logger="contexture.toxicity.analysis"):
        table, plot, _ = toxicity_analysis(
            patients, None, {"columns": ["neurotoxicity_grade"], "biomarkers": ["marker"]}
        )
    assert table.empty and list(table.columns) == COLUMNS and plot.empty
    assert "'neurotoxicity_grade' is not in the patient table" in caplog.text
    assert "header-only" in caplog.text
    patients["irae_grade_max"] = [3] + [0] * 11
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="contexture.toxicity.analysis"):
        table, _, _ = toxicity_analysis(patients, None, {"biomarkers": ["marker"]})
    assert table.empty
    assert "1 patient(s) with grade >= 3" in caplog.text
    fig, data = toxicity_figure(plot, table)
    assert data.empty and fig is not None


def test_non_numeric_grade_is_an_input_error():
    patients = _patients().astype({"irae_grade_max": object})
    patients.loc[2, "irae_grade_max"] = "G3"
    with pytest.raises(InputError, match=r"irae_grade_max.*P03: 'G3'"):
        toxicity_analysis(patients, None, {"biomarkers": ["marker"]})


def _references() -> pd.DataFrame:
    rows = []
    thyroid = {  # patient: (baseline SUVmean, on-treatment SUVmean) -> % change
        "P1": (2.0, 3.0),  # +50
        "P2": (2.0, 2.8),  # +40
        "P3": (1.0, 1.6),  # +60
        "P4": (2.0, 2.0),  # 0
        "P5": (2.0, 1.8),  # -10
        "P6": (1.0, 1.1),  # +10 (a later on-treatment scan is ignored)
    }
    for pid, (base, on) in thyroid.items():
        rows.append((pid, "baseline", -5, "thyroid", base, 10))
        rows.append((pid, "on_treatment", 30, "thyroid", on, 10))
    rows.append(("P6", "on_treatment", 60, "thyroid", 5.0, 10))
    rows.append(("P7", "baseline", -5, "thyroid", 1.0, 10))  # no on-treatment scan
    # colon pooled over 'colon' and 'bowel' regions, voxel-weighted
    rows += [
        ("P1", "baseline", -5, "colon", 1.0, 100),
        ("P1", "baseline", -5, "Bowel", 2.0, 300),  # (100 * 1 + 300 * 2) / 400 = 1.75
        ("P1", "on_treatment", 30, "colon", 3.0, 100),
        ("P1", "on_treatment", 30, "Bowel", 3.0, 300),  # 3.0 -> +71.43%
        ("P1", "baseline", -5, "aorta", 1.5, 50),
    ]
    return pd.DataFrame(rows, columns=["patient_id", "timepoint", "scan_day", "region", "suvmean", "voxels"])


def _organ_patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(1, 8)],
            "irae_grade_max": [2, 1, 3, 0, 0, 1, 0],
            "irae_organ": ["thyroid", "Thyroid", "colon; thyroid", None, None, "skin", None],
        }
    )


ORGANS = {"thyroid": ["thyroid"], "colon": ["colon", "bowel"]}


def test_organ_uptake_change_hand_table():
    changes = organ_uptake_change(_references(), _organ_patients(), ORGANS, "irae_organ")
    thyroid = changes[changes["organ"] == "thyroid"].set_index("patient_id")
    assert list(thyroid.index) == ["P1", "P2", "P3", "P4", "P5", "P6"]  # P7: no on-treatment scan
    np.testing.assert_allclose(thyroid["pct_change"], [50, 40, 60, 0, -10, 10])
    assert thyroid["irae"].tolist() == [True, True, True, False, False, False]
    assert thyroid.loc["P6", "on_treatment_scan_day"] == 30
    colon = changes[changes["organ"] == "colon"].set_index("patient_id")
    assert colon.loc["P1", "suvmean_baseline"] == pytest.approx(1.75)
    assert colon.loc["P1", "pct_change"] == pytest.approx(100 * (3.0 - 1.75) / 1.75)
    assert not colon.loc["P1", "irae"]


def test_organ_uptake_test_rows():
    table, _, changes = toxicity_analysis(
        _organ_patients(), _references(), {"biomarkers": [], "organs": ORGANS, "organ_column": "irae_organ"}
    )
    # biomarker tests: 1 severe -> none; colon: 1 patient -> no row; thyroid 3 vs 3
    assert list(table["toxicity"]) == ["irae_organ:thyroid"]
    row = table.iloc[0]
    # R: wilcox.test(c(50, 40, 60), c(0, -10, 10), conf.int = TRUE)
    # W = 9, p = 0.1, difference in location 50, CI 30 70
    assert row["test"] == "uptake_change_mann_whitney"
    assert (row["statistic"], row["n_severe"], row["n_other"]) == (9, 3, 3)
    assert row["p"] == pytest.approx(0.1, rel=1e-12)
    assert (row["estimate"], row["ci_low"], row["ci_high"]) == pytest.approx((50, 30, 70))
    assert row["q"] == pytest.approx(0.1)
    # no organ column or no matching regions: no rows
    table, _, changes = toxicity_analysis(
        _organ_patients().drop(columns="irae_organ"), _references(), {"organs": ORGANS}
    )
    assert table.empty and changes.empty
