"""Spatial measures of CD8+ cells relative to tumour cells, from cell centroids.

For each CD8+ cell, the Euclidean distance (µm) from its centroid to the nearest
tumour-cell centroid is found with a k-d tree (``scipy.spatial.cKDTree``, exact nearest
neighbour). Reported per slide:

* ``cd8_tumor_distance_median_um``: the median of those distances;
* ``cd8_near_tumor_fraction``: the fraction of CD8+ cells with distance <= r
  (config ``ihc.proximity_um``, default 20 µm: about two cell diameters, the
  "within reach of a tumour cell" distance of spatial TIL studies such as Gide et al.,
  OncoImmunology 2020;9:1659093, on CD8+ cells near SOX10+ melanoma cells; the exact
  radius is a convention, not a standard).

A cell that is both CD8+ and tumour would be at distance 0 from itself; classes are
expected to be exclusive. Slides without CD8+ or without tumour cells give NaN.
"""

from __future__ import annotations

__all__ = ["nearest_distances", "proximity_measures"]

import numpy as np
from scipy.spatial import cKDTree


def nearest_distances(query_xy: np.ndarray, target_xy: np.ndarray) -> np.ndarray:
    """Distance from each query point to its nearest target point (NaN without targets)."""
    query_xy = np.asarray(query_xy, dtype=float).reshape(-1, 2)
    target_xy = np.asarray(target_xy, dtype=float).reshape(-1, 2)
    if len(target_xy) == 0:
        return np.full(len(query_xy), np.nan)
    if len(query_xy) == 0:
        return np.empty(0)
    # Unbalanced, non-compact trees build several times faster on ~10^6 points; the
    # nearest-neighbour answer is exact either way.
    tree = cKDTree(target_xy, balanced_tree=False, compact_nodes=False)
    distances, _ = tree.query(query_xy, k=1)
    return distances


def proximity_measures(cd8_xy: np.ndarray, tumor_xy: np.ndarray, radius_um: float = 20.0) -> dict[str, float]:
    """Median CD8-to-nearest-tumour-cell distance and fraction within ``radius_um``."""
    distances = nearest_distances(cd8_xy, tumor_xy)
    key = "cd8_near_tumor_fraction"
    if distances.size == 0 or np.isnan(distances).all():
        return {"cd8_tumor_distance_median_um": np.nan, key: np.nan}
    return {
        "cd8_tumor_distance_median_um": float(np.median(distances)),
        key: float(np.mean(distances <= radius_um)),
    }
