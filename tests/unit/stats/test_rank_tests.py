"""contexture.stats.rank_tests against R (wilcox.test, fisher.test, p.adjust) and hand calculations.

R 4.2 reference calls are in the comments; literals printed with options(digits = 15).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import nchypergeom_fisher

from contexture.stats.rank_tests import (
    benjamini_hochberg,
    exact_w_cdf,
    fisher_test,
    hodges_lehmann,
    rank_sum_test,
    signed_rank_test,
)

SEVERE = [5.1, 7.3, 6.8, 9.0]
OTHER = [3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5]


# --------------------------------------------------------------------------- signed rank


def test_signed_rank_matches_r():
    # R: wilcox.test(c(0.5, -0.2, 1.1, 0.7, 0.3, -0.4, 0.9, 1.3))  ->  V = 32, p = 0.0546875 (exact)
    result = signed_rank_test([0.5, -0.2, 1.1, 0.7, 0.3, -0.4, 0.9, 1.3])
    assert (result.statistic, result.p_method) == (32.0, "exact") and result.p == pytest.approx(0.0546875, rel=1e-12)
    # R: wilcox.test(c(0.5, -0.5, 1.0, 0.7, 0, 0.7, 0.9, 1.3, -0.2, 0.4))  (zero and ties: normal approx.)
    #    ->  V = 40.5, p = 0.0378137530084065
    result = signed_rank_test([0.5, -0.5, 1.0, 0.7, 0, 0.7, 0.9, 1.3, -0.2, 0.4])
    assert (result.statistic, result.p_method) == (40.5, "normal_approximation")
    assert result.p == pytest.approx(0.0378137530084065, rel=1e-9)
    assert result.ties and result.zeros
    untested = signed_rank_test([0.0, 0.0])
    assert np.isnan(untested.p) and untested.p_method == ""


@pytest.mark.parametrize(
    ("after", "before", "v", "p", "p_method"),
    [
        # R: wilcox.test(c(30, 7, 95), c(10, 0, 100), paired = TRUE)  ->  V = 5, p = 0.5 (exact)
        ([30, 7, 95], [10, 0, 100], 5, 0.5, "exact"),
        # R: wilcox.test(c(120, 85, 40, 210, 66, 150, 95, 30), c(100, 90, 40, 150, 60, 100, 95, 10),
        #                paired = TRUE)  (two zeros, tied |d|)  ->  V = 20, p = 0.0584752615656529
        ([120, 85, 40, 210, 66, 150, 95, 30], [100, 90, 40, 150, 60, 100, 95, 10], 20, 0.0584752615656529, "normal_approximation"),
        # R: wilcox.test(c(12.5, 30.1, 8.0, 55.2, 41.0, 19.9), c(10.0, 22.4, 8.0, 31.7, 45.3, 12.0),
        #                paired = TRUE)  (one zero)  ->  V = 13, p = 0.177529852412153
        ([12.5, 30.1, 8.0, 55.2, 41.0, 19.9], [10.0, 22.4, 8.0, 31.7, 45.3, 12.0], 13, 0.177529852412153, "normal_approximation"),
        # R: wilcox.test(c(5, 9, 14, 3, 22, 18, 7), c(2, 6, 14, 5, 10, 15, 4), paired = TRUE)
        #    (a zero and tied |d| = 3)  ->  V = 20, p = 0.0522595003179698
        ([5, 9, 14, 3, 22, 18, 7], [2, 6, 14, 5, 10, 15, 4], 20, 0.0522595003179698, "normal_approximation"),
        # R: wilcox.test(c(12.5, 30.1, 8.3, 55.2, 41.0, 19.9), c(10.0, 22.4, 8.0, 31.7, 45.3, 12.0),
        #                paired = TRUE)  ->  V = 18, p = 0.15625 (exact)
        ([12.5, 30.1, 8.3, 55.2, 41.0, 19.9], [10.0, 22.4, 8.0, 31.7, 45.3, 12.0], 18, 0.15625, "exact"),
    ],
)  # fmt: skip
def test_paired_signed_rank_matches_r(after, before, v, p, p_method):
    result = signed_rank_test(after, before)
    assert result.statistic == v and result.p_method == p_method
    assert result.p == pytest.approx(p, rel=1e-10)


def test_signed_rank_from_50_differences_uses_the_normal_approximation_as_r():
    # R: set.seed(3); d <- round(rnorm(55, 0.3), 3); wilcox.test(d)  (no ties, n >= 50)
    #    ->  V = 936, p = 0.165548596410927
    d = [
        -0.662, 0.007, 0.559, -0.852, 0.496, 0.33, 0.385, 1.417, -0.919, 1.567, -0.445, -0.831, -0.416, 0.553,
        0.452, -0.008, -0.653, -0.348, 1.524, 0.5, -0.278, -0.642, 0.096, -1.366, -0.184, -0.441, 1.461, 1.312,
        0.228, -0.837, 1.201, 1.152, 1.028, 1.037, -0.052, 1.006, 1.6, 0.338, -0.679, 1.094, 1.087, -0.01, 1.999,
        -0.495, 0.648, -1.965, 0.138, 1.431, -0.156, -0.599, 1.027, -0.509, 0.567, -1.437, -1.111,
    ]  # fmt: skip
    result = signed_rank_test(d)
    assert result.statistic == 936 and not result.exact and not result.ties
    assert result.p == pytest.approx(0.165548596410927, rel=1e-10)


# --------------------------------------------------------------------------- rank sum


def test_rank_sum_matches_r():
    # R: wilcox.test(c(1.2, 0.4, 2.2, 1.9, 0.8), c(-0.3, 0.1, 0.5, -0.8, 0.0, 0.2))  ->  W = 29, p = 0.00865800865800866
    result = rank_sum_test([1.2, 0.4, 2.2, 1.9, 0.8], [-0.3, 0.1, 0.5, -0.8, 0.0, 0.2])
    assert (result.statistic, result.p_method) == (29.0, "exact")
    assert result.p == pytest.approx(0.00865800865800866, rel=1e-12)
    # R: wilcox.test(c(1.2, 0.5, 2.2, 1.9, 0.8), c(-0.3, 0.5, 0.5, -0.8, 0.0, 0.2))  (ties)  ->  p = 0.0128655812945561
    result = rank_sum_test([1.2, 0.5, 2.2, 1.9, 0.8], [-0.3, 0.5, 0.5, -0.8, 0.0, 0.2])
    assert (result.statistic, result.p_method) == (29.0, "normal_approximation")
    assert result.p == pytest.approx(0.0128655812945561, rel=1e-9)
    assert rank_sum_test([], [1.0]).p_method == "" and math.isnan(rank_sum_test([], [1.0]).p)


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
    cdf = exact_w_cdf(4, 7)
    assert len(cdf) == 4 * 7 + 1
    np.testing.assert_allclose(cdf[:7], expected, rtol=1e-12)
    assert cdf[-1] == pytest.approx(1.0)
    # R: qwilcox(0.025, 12, 30) = 110
    assert int(np.argmax(exact_w_cdf(12, 30) >= 0.025)) == 110


def test_rank_sum_exact_with_shift_matches_r():
    # R: wilcox.test(c(5.1, 7.3, 6.8, 9.0), c(3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5), conf.int = TRUE)
    # W = 26, p = 0.0242424242424242, difference in location 2.35, 95% CI 0.30 4.40
    result = rank_sum_test(SEVERE, OTHER, conf_int=True)
    assert result.exact
    assert result.statistic == 26
    assert result.p == pytest.approx(0.0242424242424242, rel=1e-12)
    assert result.estimate == pytest.approx(2.35, abs=1e-12)
    assert result.ci_low == pytest.approx(0.30, abs=1e-12)
    assert result.ci_high == pytest.approx(4.40, abs=1e-12)
    assert hodges_lehmann(SEVERE, OTHER) == (result.estimate, result.ci_low, result.ci_high)


def test_rank_sum_exact_ci_at_the_extremes():
    # R: wilcox.test(c(50, 60, 40), c(10, -5, 20, 0), conf.int = TRUE)
    # W = 12, p = 0.0571428571428571, estimate 42.5, CI 20 65 (qwilcox(0.025, 3, 4) = 0 -> 1)
    result = rank_sum_test([50, 60, 40], [10, -5, 20, 0], conf_int=True)
    assert result.statistic == 12
    assert result.p == pytest.approx(0.0571428571428571, rel=1e-12)
    assert (result.estimate, result.ci_low, result.ci_high) == (42.5, 20.0, 65.0)


def test_rank_sum_ties_use_the_normal_approximation_as_r():
    # R: wilcox.test(c(2, 3, 3, 5, 6), c(1, 2, 2, 3, 4, 4, 5), conf.int = TRUE)  (warns: ties)
    # W = 22.5, p = 0.456925207331312, difference in location 1, CI -1.99998624945469 3.00006157349431
    # (R's CI bounds come from uniroot(tol = 1e-4); the exact crossing points are -2 and 3.)
    result = rank_sum_test([2, 3, 3, 5, 6], [1, 2, 2, 3, 4, 4, 5], conf_int=True)
    assert not result.exact and result.ties
    assert result.statistic == 22.5
    assert result.p == pytest.approx(0.456925207331312, rel=1e-10)
    assert result.estimate == 1.0
    assert result.ci_low == pytest.approx(-1.99998624945469, abs=1e-3)
    assert result.ci_high == pytest.approx(3.00006157349431, abs=1e-3)


def test_rank_sum_large_group_uses_the_normal_approximation_as_r():
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
    result = rank_sum_test(x, y, conf_int=True)
    assert not result.exact
    assert result.statistic == 557
    assert result.p == pytest.approx(2.12501791665157e-04, rel=1e-10)
    # Hodges-Lehmann = median of the pairwise differences; R's asymptotic 'estimate' is a
    # root search of the continuity-corrected statistic, 1.1635, within one step of it.
    assert result.estimate == pytest.approx(np.median(np.subtract.outer(x, y)))
    assert result.estimate == pytest.approx(1.16348370881812, abs=5e-3)
    assert result.ci_low == pytest.approx(0.608023529701317, abs=1e-3)
    assert result.ci_high == pytest.approx(1.74295582108808, abs=1e-3)


def test_hodges_lehmann_normal_order_statistic_interval_by_hand():
    # x vs y, 3 x 2: pairwise differences 2, 3, 4, 5, 6, 7 (sorted); median 4.5.
    # C = round(6 / 2 - 1.959964 sqrt(6 * 6 / 12)) = round(-0.39) = 0 -> 1: the extremes.
    assert hodges_lehmann([6, 8, 10], [3, 4], interval="normal_order_statistic") == (4.5, 2.0, 7.0)
    # 10 x 10 values 0..9 and 0.5..9.5 shifted by 3: C = round(50 - 1.959964 sqrt(100 * 21 / 12)) = 24,
    # so the CI is the 24th smallest and 24th largest of the 100 differences.
    x, y = np.arange(10.0) + 3, np.arange(10.0) + 0.5
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    estimate, low, high = hodges_lehmann(x, y, interval="normal_order_statistic")
    assert (estimate, low, high) == (2.5, diffs[23], diffs[100 - 24])
    with pytest.raises(ValueError, match="interval"):
        hodges_lehmann(x, y, interval="wald")


# --------------------------------------------------------------------------- Fisher, BH


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
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.20, 0.005), method = "BH")  ->  0.025 0.050 0.050 0.200 0.025
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.20, 0.005]), [0.025, 0.05, 0.05, 0.2, 0.025])
    assert np.isnan(benjamini_hochberg([0.01, np.nan])[1])
