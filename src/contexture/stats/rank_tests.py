"""Rank tests, Fisher's exact test and Benjamini-Hochberg, each computed as R computes it.

Every stage that tests a location shift, a paired change, a 2 x 2 table or adjusts a
family of p-values calls these functions, so one kind of question gets one kind of
p-value throughout the workflow and a statistician can reproduce every number with the
R call named in each docstring. ``tests/unit/stats/test_rank_tests.py`` holds R's
numbers (R 4.2, package stats).

Wilcoxon signed-rank (:func:`signed_rank_test`), R ``wilcox.test(x, y, paired = TRUE)``
    Differences d = x - y; zero differences are dropped (R's rule, scipy
    ``zero_method="wilcox"``); V = sum of the ranks of |d| of the positive differences.
    Exact p (the null distribution of V, R ``psignrank``) when fewer than 50 non-zero
    differences remain and there are neither ties among |d| nor zeros; otherwise the
    normal approximation, z = (V - n(n+1)/4 - 1/2 sign(.)) / sigma, with
    sigma^2 = n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over tie groups (tie and continuity
    correction; Hollander & Wolfe 1999, section 3.1).
Wilcoxon rank-sum / Mann-Whitney U (:func:`rank_sum_test`), R ``wilcox.test(x, y)``
    W = U of ``x`` = rank sum of x - n_x (n_x + 1) / 2. Exact p (R ``pwilcox``) when both
    groups have fewer than 50 values and there are no ties, otherwise the normal
    approximation with tie and continuity correction (scipy ``mannwhitneyu`` with
    ``method="exact"|"asymptotic"``, ``use_continuity=True``).
Hodges-Lehmann shift (:func:`hodges_lehmann`), R ``wilcox.test(x, y, conf.int = TRUE)``
    The median of all pairwise differences x_i - y_j (Hodges & Lehmann, Ann Math Stat
    1963;34:598-611). R's confidence interval: in the exact case the order statistics of
    the pairwise differences given by the exact null distribution of W (``qwilcox``;
    Bauer, JASA 1972;67:687-690); otherwise the shifts at which the continuity-corrected
    normal statistic crosses the normal quantiles, found by root search (R's ``uniroot``
    stops at tolerance 1e-4, so R's bounds agree with ours to about 1e-4). In the
    asymptotic case R's printed ``difference in location`` is also a root search (of the
    statistic at 0) and can differ slightly from the Hodges-Lehmann median reported here.
    ``interval="normal_order_statistic"`` gives instead the large-sample order-statistic
    interval of Hollander & Wolfe (1999, eq. 4.41), for comparison with published large-sample
    intervals (no stage uses it: they report R's interval).
Fisher exact test (:func:`fisher_test`), R ``fisher.test(matrix(c(a, c, b, d), 2))``
    Two-sided p (scipy ``fisher_exact``); conditional maximum-likelihood odds ratio and
    its exact CI (scipy ``contingency.odds_ratio(kind="conditional")``, which matches R).
Benjamini-Hochberg (:func:`benjamini_hochberg`), R ``p.adjust(p, method = "BH")``
    statsmodels ``multipletests(method="fdr_bh")`` over the non-missing p-values.
"""

from __future__ import annotations

__all__ = [
    "EXACT_LIMIT",
    "RankTestResult",
    "benjamini_hochberg",
    "exact_w_cdf",
    "fisher_test",
    "hodges_lehmann",
    "rank_sum_test",
    "signed_rank_test",
]

import math
from dataclasses import dataclass

import numpy as np

# scipy.stats, scipy.optimize and statsmodels are imported inside the functions that use
# them: together ~0.5 s, which every job importing this module (most stages) would
# otherwise pay whether or not it tests anything (issue 21, the demo's per-job imports).

EXACT_LIMIT = 50  # R's wilcox.test: exact p-values below 50 observations (per group)
INTERVALS = ("auto", "exact", "asymptotic", "normal_order_statistic")


@dataclass(frozen=True)
class RankTestResult:
    """A two-sided Wilcoxon test, with R's names.

    ``statistic`` is R's V (signed rank) or W (rank sum); ``exact`` whether p comes from
    the exact null distribution; ``ties`` / ``zeros`` what made it approximate.
    ``estimate``, ``ci_low``, ``ci_high``: the Hodges-Lehmann shift and its CI when asked
    for (``conf_int=True``), else NaN. All NaN when nothing could be tested.
    """

    statistic: float
    p: float
    exact: bool
    ties: bool = False
    zeros: bool = False
    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan

    @property
    def p_method(self) -> str:
        """``exact``, ``normal_approximation``, or "" when there was nothing to test."""
        if math.isnan(self.statistic):
            return ""
        return "exact" if self.exact else "normal_approximation"


_UNTESTED = RankTestResult(math.nan, math.nan, False)


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _has_ties(values: np.ndarray) -> bool:
    return np.unique(values).size != values.size


# --------------------------------------------------------------------------- signed rank


def signed_rank_test(x, y=None) -> RankTestResult:
    """Two-sided Wilcoxon signed-rank test of paired differences, as R.

    R: ``wilcox.test(x, y, paired = TRUE)`` (defaults ``exact = NULL``, ``correct =
    TRUE``), or ``wilcox.test(x)`` on the differences when ``y`` is None. Pairs with a
    missing value are dropped. Rules in the module docstring. Untested (NaN) when no
    difference is non-zero.
    """
    from scipy import stats

    d = np.asarray(x, dtype=float) if y is None else np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    d = _finite(d)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return _UNTESTED
    ranks = stats.rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    ties = _has_ties(np.abs(nonzero))
    zeros = nonzero.size != d.size
    exact = nonzero.size < EXACT_LIMIT and not ties and not zeros
    result = stats.wilcoxon(nonzero, zero_method="wilcox", correction=True, method="exact" if exact else "approx")
    return RankTestResult(v, float(result.pvalue), exact, ties=ties, zeros=zeros)


# --------------------------------------------------------------------------- rank sum


def rank_sum_test(x, y, *, conf_int: bool = False, conf_level: float = 0.95) -> RankTestResult:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test of ``x`` vs ``y``, as R.

    R: ``wilcox.test(x, y)``, or ``wilcox.test(x, y, conf.int = TRUE, conf.level =
    conf_level)`` with ``conf_int``: then ``estimate`` is the Hodges-Lehmann shift x - y
    with R's interval (:func:`hodges_lehmann`). Missing values are dropped; untested
    (NaN) when a group is empty.
    """
    from scipy import stats

    x, y = _finite(x), _finite(y)
    if x.size == 0 or y.size == 0:
        return _UNTESTED
    ties = _has_ties(np.concatenate([x, y]))
    exact = x.size < EXACT_LIMIT and y.size < EXACT_LIMIT and not ties
    result = stats.mannwhitneyu(
        x, y, alternative="two-sided", use_continuity=True, method="exact" if exact else "asymptotic"
    )
    shift = hodges_lehmann(x, y, conf_level, interval="exact" if exact else "asymptotic") if conf_int else ()
    return RankTestResult(float(result.statistic), float(result.pvalue), exact, ties, False, *shift)


def exact_w_cdf(m: int, n: int) -> np.ndarray:
    """P(W <= w), w = 0 .. m n, of the exact null distribution of the rank-sum statistic.

    Counts of subsets by U value via the recursion c(u; m, n) = c(u - n; m - 1, n) +
    c(u; m, n - 1) (Mann & Whitney 1947), as R's ``cwilcox`` (``pwilcox(0:(m*n), m, n)``);
    float64 is exact enough for m, n < 50 (relative error ~1e-16).
    """
    # counts[j][u]: number of arrangements with U = u for (i, j) samples, built up over i.
    counts = [np.zeros(1) + 1.0 for _ in range(n + 1)]  # i = 0: U = 0 only
    for i in range(1, m + 1):
        new = [np.ones(1)]  # j = 0: U = 0 only
        for j in range(1, n + 1):
            size = i * j + 1
            c = np.zeros(size)
            below = counts[j]  # (i - 1, j): U shifted by j (the new x exceeds all j y values)
            c[j : j + len(below)] += below
            left = new[j - 1]  # (i, j - 1)
            c[: len(left)] += left
            new.append(c)
        counts = new
    dist = counts[n]
    return np.cumsum(dist) / dist.sum()


def _exact_w_quantile(prob: float, m: int, n: int) -> int:
    """Smallest w with P(W <= w) >= prob (R ``qwilcox`` lower tail, with its 10 eps fuzz)."""
    cdf = exact_w_cdf(m, n)
    return int(np.argmax(cdf >= prob - 10 * np.finfo(float).eps))


def _asymptotic_interval(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, float]:
    """R's asymptotic CI of the shift: where (W(d) - mn/2 - cc) / sigma(d) crosses the normal quantiles."""
    from scipy import optimize, stats

    nx, ny = len(x), len(y)

    def standardized(d: float, zq: float) -> float:
        ranks = stats.rankdata(np.concatenate([x - d, y]))
        dz = ranks[:nx].sum() - nx * (nx + 1) / 2 - nx * ny / 2
        _, tie_counts = np.unique(ranks, return_counts=True)
        sigma = np.sqrt(
            (nx * ny / 12) * ((nx + ny + 1) - np.sum(tie_counts**3 - tie_counts) / ((nx + ny) * (nx + ny - 1)))
        )
        return (dz - np.sign(dz) * 0.5) / sigma - zq

    low_end, high_end = float(x.min() - y.max()), float(x.max() - y.min())

    def root(zq: float) -> float:
        f_low, f_high = standardized(low_end, zq), standardized(high_end, zq)
        if f_low <= 0:
            return low_end
        if f_high >= 0:
            return high_end
        return float(optimize.brentq(standardized, low_end, high_end, args=(zq,), xtol=1e-10))

    z = stats.norm.ppf(1 - alpha / 2)
    return root(z), root(-z)


def hodges_lehmann(x, y, conf_level: float = 0.95, *, interval: str = "auto") -> tuple[float, float, float]:
    """(estimate, ci_low, ci_high): the Hodges-Lehmann shift x - y and its confidence interval.

    ``interval`` (module docstring): ``"auto"`` is R's ``wilcox.test(x, y, conf.int =
    TRUE)`` (``"exact"`` below 50 per group without ties, else ``"asymptotic"``);
    ``"normal_order_statistic"`` the C-th smallest and largest pairwise differences,
    C = round(n m / 2 - z sqrt(n m (n + m + 1) / 12)) (Hollander & Wolfe 1999, eq. 4.41).
    """
    from scipy import stats

    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    x, y = _finite(x), _finite(y)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    estimate = float(np.median(diffs))
    n, m = x.size, y.size
    if interval == "auto":
        exact = n < EXACT_LIMIT and m < EXACT_LIMIT and not _has_ties(np.concatenate([x, y]))
        interval = "exact" if exact else "asymptotic"
    if interval == "normal_order_statistic":
        z = float(stats.norm.ppf(0.5 + conf_level / 2))
        c = int(round(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12)))
        c = min(max(c, 1), diffs.size)
        return estimate, float(diffs[c - 1]), float(diffs[diffs.size - c])
    alpha = 1 - conf_level
    if interval == "exact":
        qu = max(_exact_w_quantile(alpha / 2, n, m), 1)
        ql = n * m - qu
        return estimate, float(diffs[qu - 1]), float(diffs[ql])
    return (estimate, *_asymptotic_interval(x, y, alpha))


# --------------------------------------------------------------------------- Fisher, BH


def fisher_test(table, conf_level: float = 0.95) -> dict:
    """Two-sided Fisher exact test of a 2 x 2 table ``[[a, b], [c, d]]``.

    R: ``fisher.test(matrix(c(a, c, b, d), 2), conf.level = conf_level)``.
    ``estimate``/``ci_*``: conditional MLE odds ratio and its exact CI (R's);
    ``statistic``: the sample odds ratio a d / (b c) (inf or nan when a cell is 0).
    """
    from scipy import stats
    from scipy.stats import contingency

    table = np.asarray(table, dtype=int)
    _, p = stats.fisher_exact(table, alternative="two-sided")
    odds = contingency.odds_ratio(table, kind="conditional")
    ci = odds.confidence_interval(confidence_level=conf_level, alternative="two-sided")
    (a, b), (c, d) = table
    with np.errstate(divide="ignore", invalid="ignore"):
        sample = np.float64(a * d) / np.float64(b * c)
    return {
        "statistic": float(sample),
        "p": float(p),
        "estimate": float(odds.statistic),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
    }


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, R ``p.adjust(p, method = "BH")``; missing stay missing."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q
