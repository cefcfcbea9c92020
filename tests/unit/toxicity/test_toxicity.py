"""contexture.toxicity.analysis against R (wilcox.test, fisher.test, p.adjust) and hand calculations.

R 4.x reference calls are in the comments; literals printed with options(digits = 15).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy.stats import nchypergeom_fisher

from contexture.errors import InputError
from contexture.toxicity.analysis import (
    COLUMNS,
    benjamini_hochberg,
    fisher_test,
    organ_uptake_change,
    toxicity_analysis,
    toxicity_paragraph,
    wilcox_null_cdf,
    wilcox_test,
)
from contexture.toxicity.figures import toxicity_figure

SEVERE = [5.1, 7.3, 6.8, 9.0]
OTHER = [3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5]


def test_null_distribution_matches_pwilcox():
    # R: pwilcox(0:6, 4, 7)
    expected = [
        0.00303030303030303,
        0.00606060606060606,
        0.01212121212121212,
        0.02121212121212121,
        0.03636363636363636,
        0.05454545454545454,
        0.08181818181818182,
    ]
    cdf = wilcox_null_cdf(4, 7)
    assert len(cdf) == 4 * 7 + 1
    np.testing.assert_allclose(cdf[:7], expected, rtol=1e-12)
    assert cdf[-1] == pytest.approx(1.0)
    # R: qwilcox(0.025, 12, 30) = 110
    assert int(np.argmax(wilcox_null_cdf(12, 30) >= 0.025)) == 110


def test_wilcox_exact_matches_r():
    # R: wilcox.test(c(5.1, 7.3, 6.8, 9.0), c(3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5), conf.int = TRUE)
    # W = 26, p = 0.0242424242424242, difference in location 2.35, 95% CI 0.30 4.40
    result = wilcox_test(SEVERE, OTHER)
    assert result["exact"]
    assert result["statistic"] == 26
    assert result["p"] == pytest.approx(0.0242424242424242, rel=1e-12)
    assert result["estimate"] == pytest.approx(2.35, abs=1e-12)
    assert result["ci_low"] == pytest.approx(0.30, abs=1e-12)
    assert result["ci_high"] == pytest.approx(4.40, abs=1e-12)


def test_wilcox_exact_ci_at_the_extremes():
    # R: wilcox.test(c(50, 60, 40), c(10, -5, 20, 0), conf.int = TRUE)
    # W = 12, p = 0.0571428571428571, estimate 42.5, CI 20 65 (qwilcox(0.025, 3, 4) = 0 -> 1)
    result = wilcox_test([50, 60, 40], [10, -5, 20, 0])
    assert result["statistic"] == 12
    assert result["p"] == pytest.approx(0.0571428571428571, rel=1e-12)
    assert (result["estimate"], result["ci_low"], result["ci_high"]) == (42.5, 20.0, 65.0)


def test_wilcox_ties_use_the_normal_approximation_as_r():
    # R: wilcox.test(c(2, 3, 3, 5, 6), c(1, 2, 2, 3, 4, 4, 5), conf.int = TRUE)  (warns: ties)
    # W = 22.5, p = 0.456925207331312, difference in location 1, CI -1.99998624945469 3.00006157349431
    # (R's CI bounds come from uniroot(tol = 1e-4); the exact crossing points are -2 and 3.)
    result = wilcox_test([2, 3, 3, 5, 6], [1, 2, 2, 3, 4, 4, 5])
    assert not result["exact"]
    assert "tie" in result["method"]
    assert result["statistic"] == 22.5
    assert result["p"] == pytest.approx(0.456925207331312, rel=1e-10)
    assert result["estimate"] == 1.0
    assert result["ci_low"] == pytest.approx(-1.99998624945469, abs=1e-3)
    assert result["ci_high"] == pytest.approx(3.00006157349431, abs=1e-3)


def test_wilcox_large_group_uses_the_normal_approximation_as_r():
    # R: set.seed(1); x <- round(rnorm(12, 1), 3); y <- round(rnorm(55), 3)
    #    wilcox.test(x, y, conf.int = TRUE)
    # W = 557, p = 2.12501791665157e-04, difference in location 1.16348370881812,
    # CI 0.608023529701317 1.74295582108808
    x = [0.374, 1.184, 0.164, 2.595, 1.330, 0.180, 1.487, 1.738, 1.576, 0.695, 2.512, 1.390]
    y = [
        -0.621, -2.215, 1.125, -0.045, -0.016, 0.944, 0.821, 0.594, 0.919, 0.782, 0.075, -1.989, 0.620,
        -0.056, -0.156, -1.471, -0.478, 0.418, 1.359, -0.103, 0.388, -0.054, -1.377, -0.415, -0.394,
        -0.059, 1.100, 0.763, -0.165, -0.253, 0.697, 0.557, -0.689, -0.707, 0.365, 0.769, -0.112, 0.881,
        0.398, -0.612, 0.341, -1.129, 1.433, 1.980, -0.367, -1.044, 0.570, -0.135, 2.402, -0.039, 0.690,
        0.028, -0.743, 0.189, -1.805,
    ]  # fmt: skip
    result = wilcox_test(x, y)
    assert not result["exact"]
    assert result["statistic"] == 557
    assert result["p"] == pytest.approx(2.12501791665157e-04, rel=1e-10)
    # Hodges-Lehmann = median of the pairwise differences; R's asymptotic 'estimate' is a
    # root search of the continuity-corrected statistic, 1.1635, within one step of it.
    assert result["estimate"] == pytest.approx(np.median(np.subtract.outer(x, y)))
    assert result["estimate"] == pytest.approx(1.16348370881812, abs=5e-3)
    assert result["ci_low"] == pytest.approx(0.608023529701317, abs=1e-3)
    assert result["ci_high"] == pytest.approx(1.74295582108808, abs=1e-3)


def test_fisher_matches_r():
    # R: fisher.test(matrix(c(3, 1, 2, 6), 2))
    # p = 0.222222222222222, odds ratio 7.218098221552506, CI 0.352763905962365 546.228848983269245
    result = fisher_test([[3, 2], [1, 6]])
    assert result["p"] == pytest.approx(0.222222222222222, rel=1e-10)
    assert result["statistic"] == pytest.approx(9.0)  # sample odds ratio 3 * 6 / (2 * 1)
    assert result["estimate"] == pytest.approx(7.218098221552506, rel=1e-5)
    assert result["ci_low"] == pytest.approx(0.352763905962365, rel=1e-4)
    # R finds the upper bound by uniroot on 1/OR with tol ~1.2e-4, so it is 0.5% off here;
    # scipy's bound solves P(X <= 3; OR) = 0.025 exactly.
    assert result["ci_high"] == pytest.approx(546.228848983269245, rel=1e-2)
    assert nchypergeom_fisher.cdf(3, 12, 4, 5, result["ci_high"]) == pytest.approx(0.025, rel=1e-8)


def test_fisher_zero_cell_matches_r():
    # R: fisher.test(matrix(c(2, 0, 7, 10), 2)): p = 0.210526315789474, OR Inf, CI 0.213926232158882 Inf
    result = fisher_test([[2, 7], [0, 10]])
    assert result["p"] == pytest.approx(0.210526315789474, rel=1e-10)
    assert result["estimate"] == np.inf and result["ci_high"] == np.inf and result["statistic"] == np.inf
    assert result["ci_low"] == pytest.approx(0.213926232158882, rel=1e-4)


def test_benjamini_hochberg_matches_p_adjust():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.2, 0.5), "BH") = 0.05 0.0666667 0.0666667 0.25 0.5
    q = benjamini_hochberg([0.01, 0.04, np.nan, 0.03, 0.2, 0.5])
    np.testing.assert_allclose(q, [0.05, 1 / 15, np.nan, 1 / 15, 0.25, 0.5], rtol=1e-12)


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


def test_methods_paragraph(tmp_path):
    assert toxicity_paragraph(tmp_path, {}) == ""
    patients = pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(11)], "irae_grade_max": [3, 4, 3, 3] + [0] * 7, "m": SEVERE + OTHER}
    )
    table, _, _ = toxicity_analysis(patients, None, {"biomarkers": ["m"]})
    (tmp_path / "tables").mkdir()
    table.to_csv(tmp_path / "tables" / "toxicity.tsv", sep="\t", index=False)
    text = toxicity_paragraph(tmp_path, {"response": {"toxicity": {"severe_grade": 3}}})
    assert text.startswith("## Toxicity")
    assert "grade ≥ 3" in text and "1 biomarker(s) were tested in 4 patients with severe and 7 with" in text
