"""Immunoscore: CD3+ and CD8+ densities in tumour core and invasive margin as percentiles.

Following the consensus Immunoscore (Galon et al., Science 2006;313:1960-1964; Pagès et
al., Lancet 2018;391:2128-2139): each of the four densities (CD3 core, CD3 margin, CD8
core, CD8 margin) is converted to its percentile in a reference distribution, and the
mean of the four percentiles is categorised:

* three groups (Pagès 2018): Low 0-25 %, Intermediate >25-70 %, High >70-100 %;
* five groups IS0-IS4 (Pagès 2018): 0-10 %, >10-25 %, >25-70 %, >70-95 %, >95-100 %.

Upper bounds are inclusive (a mean percentile of exactly 25 is Low). The percentile of
a value x in a reference sample r_1..r_n is the mid-rank percentile::

    P(x) = 100 * (#{r_i < x} + 0.5 * #{r_i = x}) / n

which is ``scipy.stats.percentileofscore(r, x, kind="mean")`` and, in R,
``100 * (ecdf(r)(x) + mean(r < x)) / 2``. The reference is the cohort's baseline slides
by default, or a supplied table of reference densities (config
``ihc.immunoscore.reference``) -- the commercial assay uses the SITC international
reference cohort, which is not public, so cohort-relative scores are *not* the
commercial Immunoscore values; say so when reporting them.

A slide lacking any of the four densities (no CD3 stain, no margin annotated) gets no
Immunoscore: the published score is defined on all four.
"""

from __future__ import annotations

__all__ = ["FIVE_GROUPS", "IMMUNOSCORE_COLUMNS", "THREE_GROUPS", "categorize", "immunoscore", "percentile_rank"]

import numpy as np
import pandas as pd

IMMUNOSCORE_COLUMNS = ("cd3_density_tumor", "cd3_density_margin", "cd8_density_tumor", "cd8_density_margin")
THREE_GROUPS = ((25.0, "Low"), (70.0, "Intermediate"), (100.0, "High"))
FIVE_GROUPS = ((10.0, "IS0"), (25.0, "IS1"), (70.0, "IS2"), (95.0, "IS3"), (100.0, "IS4"))


def percentile_rank(values: np.ndarray | pd.Series, reference: np.ndarray | pd.Series) -> np.ndarray:
    """Mid-rank percentile (0-100) of each value in ``reference`` (missing values ignored).

    Vectorized with sorted searches: O((n + m) log n). Missing values give NaN.
    """
    reference = np.sort(np.asarray(reference, dtype=float))
    reference = reference[~np.isnan(reference)]
    values = np.asarray(values, dtype=float)
    if reference.size == 0:
        return np.full(values.shape, np.nan)
    below = np.searchsorted(reference, values, side="left")
    at_or_below = np.searchsorted(reference, values, side="right")
    percentile = 100.0 * (below + 0.5 * (at_or_below - below)) / reference.size
    return np.where(np.isnan(values), np.nan, percentile)


def categorize(mean_percentile: np.ndarray | pd.Series, groups: tuple[tuple[float, str], ...]) -> np.ndarray:
    """Category of each mean percentile; upper bounds inclusive; NaN -> None."""
    mean_percentile = np.asarray(mean_percentile, dtype=float)
    bounds = np.array([upper for upper, _ in groups])
    labels = np.array([label for _, label in groups] + [None], dtype=object)
    index = np.searchsorted(bounds, mean_percentile, side="left")
    index = np.where(np.isnan(mean_percentile), len(groups), np.minimum(index, len(groups) - 1))
    return labels[index]


def immunoscore(slides: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per-slide Immunoscore from the four densities of ``slides`` against ``reference``.

    Both frames carry :data:`IMMUNOSCORE_COLUMNS`. Returns, aligned to ``slides``:
    ``<column>_percentile`` for each density, ``immunoscore_percentile`` (their mean;
    missing if any is missing), ``immunoscore`` (Low/Intermediate/High) and
    ``immunoscore_group`` (IS0-IS4).
    """
    result = pd.DataFrame(index=slides.index)
    for column in IMMUNOSCORE_COLUMNS:
        result[f"{column}_percentile"] = percentile_rank(slides[column], reference[column])
    percentiles = result[[f"{c}_percentile" for c in IMMUNOSCORE_COLUMNS]]
    result["immunoscore_percentile"] = percentiles.mean(axis=1, skipna=False)
    result["immunoscore"] = categorize(result["immunoscore_percentile"], THREE_GROUPS)
    result["immunoscore_group"] = categorize(result["immunoscore_percentile"], FIVE_GROUPS)
    return result
