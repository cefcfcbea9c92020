"""Shared statistics, written once and R-compatible: rank tests, survival estimators, mixed models.

* :mod:`contexture.stats.rank_tests`: signed-rank, rank-sum (+ Hodges-Lehmann), Fisher, Benjamini-Hochberg.
* :mod:`contexture.stats.survival`: Kaplan-Meier, log-rank, Cox (+ cox.zph), median follow-up.
* :mod:`contexture.stats.mixed`: the random-intercept REML/ML fitter and the ICC bootstrap.

Each function names the R call it equals; a stage never writes its own version.
"""

__all__ = []
