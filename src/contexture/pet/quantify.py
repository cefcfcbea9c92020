"""Per-lesion PET quantification: label maps on the PET grid, SUV statistics, features.

A scan's mask is a NIfTI label map, an RTSTRUCT or a DICOM SEG (:func:`load_mask`;
formats in :mod:`contexture.io.pet_masks`, placement in :mod:`contexture.pet.masks`).
NIfTI and SEG label maps are in world space and may lie on another grid than the PET
(e.g. drawn on the CT at 2 mm). Each PET voxel takes the label found at its centre: the
centre is mapped through ``inv(mask affine) @ PET affine`` and rounded to the nearest
mask voxel (nearest-neighbour resampling; labels are never interpolated). RTSTRUCT
contours are filled directly on the PET grid. A labelled mask voxel (or contour point)
that lands more than one PET voxel outside the PET field of view means the mask is not in
the PET's world space (another frame of reference) and stops the run.

Per VOI (all on SUVbw voxels, IBSI definitions, Zwanenburg et al., Radiology 2020):

* SUVmax, SUVmean and the voxel count on the PET grid; volume (ml) at the mask's own
  resolution (its own voxels x its own voxel volume; an RTSTRUCT's fine rasterisation,
  :mod:`contexture.pet.masks`), not the PET voxel count;
* SUVpeak: the largest mean SUV in a sphere of 1 cm^3 (radius 6.20 mm) centred on a
  voxel of the VOI (PERCIST 1.0, Wahl et al., J Nucl Med 2009;50:122S; IBSI "global
  intensity peak"): the sphere holds the image voxels whose centres lie within the
  radius of the centre voxel's centre, inside or outside the VOI, and voxels outside
  the image are left out of the mean. With 4 mm voxels that is 19 voxels.
* reference regions (``kind = reference``): SUVmean of the blood pool (aorta) and of
  muscle, and the lesion ratios tumor_to_blood = SUVmax / blood-pool SUVmean and
  tumor_to_muscle = SUVmax / muscle SUVmean (one ratio column per reference region).
* SUL (lean-body-mass SUV; PERCIST 1.0 defines SULpeak on it): sulmax, sulpeak, sulmean
  = SUVbw x LBM / W, LBM by Janmahasatian et al. 2005 (default) or James 1976
  (:func:`contexture.pet.suv.lean_body_mass_kg`); empty, with one warning per scan, where
  height or sex is unknown.
* plausibility (:func:`plausibility_flags`): ``qc_flag`` lists, per lesion, ``zero_suvmax``
  (SUVmax <= 0: the lesion lies where the image has no activity), ``at_or_below_blood_pool``
  / ``at_or_below_background`` (SUVmax at or below the SUVmean of the scan's blood-pool /
  background reference region: a mask from another scan or patient, or a lesion without
  uptake) and ``uptake_outside_window`` (the scan's uptake time is outside its expected
  window, :func:`contexture.pet.suv.check_uptake_time`), separated by ``;``; empty = no
  flag. Flags are listed in one warning per scan; flagged lesions are kept in every
  analysis.
* dose-finding series: scans-table columns ``days_post_injection`` and
  ``protein_dose_mg`` are carried into the reference-region table (the input of
  :mod:`contexture.pet.biodistribution`); a series may hold several scans of a patient
  and timepoint, but lesions may be labelled on only one of them (the lesion table keeps
  one row per lesion per timepoint).

A per-VOI statistics export of reading software (:func:`read_voi_table`) gives the same
lesion and reference-region tables without images (:func:`voi_scans` lists its scans).
Patient features (geometric mean SUVmax per timepoint) are in :mod:`contexture.pet.features`.
"""

from __future__ import annotations

__all__ = [
    "LabelIndex",
    "PetMask",
    "QuantifyOptions",
    "SCANS_ROW",
    "ScanRefusal",
    "add_sul",
    "check_mask",
    "finish_lesions",
    "iter_scans",
    "labels_outside_fov",
    "load_mask",
    "peak_kernel",
    "plausibility_flags",
    "quantify_or_refuse",
    "quantify_scan",
    "quantify_scans",
    "raise_scan_refusals",
    "read_labels_table",
    "read_voi_export",
    "read_voi_table",
    "resample_labels",
    "sort_references",
    "suv_scale",
    "voi_scans",
    "voi_statistics",
]

import contextlib
import functools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from contexture.errors import InputError, Problem, raise_problems
from contexture.io import read_input_table
from contexture.io.pet_images import MAX_IMAGE_VOXELS, LabelMap, PetImage, read_label_map, read_pet_image
from contexture.io.pet_masks import mask_file, read_segmentation, read_structure_set
from contexture.io.validation import load_schema, read_validated_table, validate_frame
from contexture.io.voi_columns import rename_voi_columns
from contexture.parallel import map_units
from contexture.pet.masks import rasterise_structure_set
from contexture.pet.suv import (
    DEFAULT_UPTAKE_WINDOWS_H,
    ZR89_HALF_LIFE_S,
    bids_suv_factor,
    check_uptake_time,
    dicom_suv_factors,
    lean_body_mass_factor,
)

log = logging.getLogger(__name__)

LESION_COLUMNS = [
    "patient_id",
    "lesion_id",
    "timepoint",
    "scan_day",
    "site",
    "suvmax",
    "suvmean",
    "suvpeak",
    "volume_ml",
    "voxels",
    "irradiated",
    "sulmax",
    "sulpeak",
    "sulmean",
    "qc_flag",
]
# SUL column of each SUVbw statistic (same voxels, times LBM / W).
SUL_COLUMNS = {"suvmax": "sulmax", "suvpeak": "sulpeak", "suvmean": "sulmean"}
REFERENCE_COLUMNS = [
    "patient_id",
    "timepoint",
    "scan_day",
    "region",
    "label",
    "suvmean",
    "suvmax",
    "volume_ml",
    "voxels",
    "days_post_injection",
    "protein_dose_mg",
]
# Optional scan columns of a dose-finding series, carried into the reference-region table.
SCAN_DESIGN_COLUMNS = ("days_post_injection", "protein_dose_mg")
# Reference regions whose SUVmean divides lesion SUVmax into the named ratio column.
RATIO_NAMES = {"aorta": "blood", "blood_pool": "blood", "blood": "blood", "muscle": "muscle"}
# Reference regions (lower case) whose SUVmean is the background level of the plausibility flags.
BACKGROUND_REGIONS = ("muscle", "background")
# qc_flag codes, in the order they are listed (docs/pet.md, Per-lesion measures).
QC_FLAGS = ("zero_suvmax", "at_or_below_blood_pool", "at_or_below_background", "uptake_outside_window")
TEMPLATE_SPACES = {3: "Talairach", 4: "MNI-152"}


@dataclass(frozen=True)
class QuantifyOptions:
    """Scientific settings of the quantification (config ``pet:`` section)."""

    peak_volume_ml: float = 1.0
    default_half_life_s: float = ZR89_HALF_LIFE_S
    fov_tolerance_voxels: float = 1.0
    lean_body_mass: str = "janmahasatian"
    adopt_pet_grid_for_unoriented_masks: bool = False
    uptake_window_hours: dict = field(default_factory=lambda: dict(DEFAULT_UPTAKE_WINDOWS_H))
    # Most voxels an image or mask header may declare (config limits.image_voxels).
    image_voxels: int = MAX_IMAGE_VOXELS


# --- geometry ------------------------------------------------------------------------------


def resample_labels(
    labels: np.ndarray,
    label_affine: np.ndarray,
    target_shape: tuple[int, int, int],
    target_affine: np.ndarray,
    index: LabelIndex | None = None,
) -> np.ndarray:
    """Labels at the centres of the target grid's voxels (nearest neighbour), int32.

    Only the block of the target grid covering the labelled voxels is computed. On the
    same grid the result is ``labels`` itself, in its own integer type (not a copy: the
    callers only read it). ``index``: the :class:`LabelIndex` of ``labels``, when the
    caller has it.
    """
    if labels.shape == tuple(target_shape) and np.allclose(label_affine, target_affine, atol=1e-4):
        return labels
    out = np.zeros(target_shape, dtype=np.int32)
    extent = (index or LabelIndex(labels)).extent
    if extent is None:
        return out
    to_target = np.linalg.inv(target_affine) @ label_affine
    corners = _box_corners(*extent)
    # Half a mask voxel beyond the corner centres, in target index space.
    half = np.abs(to_target[:3, :3]) @ np.full(3, 0.5)
    mapped = (to_target @ corners.T)[:3]
    start = np.maximum(np.floor(mapped.min(1) - half - 1).astype(int), 0)
    stop = np.minimum(np.ceil(mapped.max(1) + half + 1).astype(int) + 1, np.array(target_shape))
    if np.any(stop <= start):
        return out
    to_label = np.linalg.inv(label_affine) @ target_affine
    i, j, k = (np.arange(a, b, dtype=np.float64) for a, b in zip(start, stop, strict=True))
    index = []
    for axis in range(3):
        m = to_label[axis]
        coordinate = m[0] * i[:, None, None] + m[1] * j[None, :, None] + m[2] * k[None, None, :] + m[3]
        index.append(np.rint(coordinate).astype(np.int64))
    inside = np.ones(index[0].shape, dtype=bool)
    for axis in range(3):
        inside &= (index[axis] >= 0) & (index[axis] < labels.shape[axis])
    block = np.zeros(inside.shape, dtype=np.int32)
    block[inside] = labels[index[0][inside], index[1][inside], index[2][inside]]
    out[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]] = block
    return out


def labels_outside_fov(
    labels: np.ndarray,
    label_affine: np.ndarray,
    target_shape,
    target_affine,
    tolerance_voxels: float = 1.0,
    index: LabelIndex | None = None,
) -> dict[int, int]:
    """Per label, how many labelled mask voxels lie beyond the PET field of view (+ tolerance).

    ``index``: the :class:`LabelIndex` of ``labels``, when the caller has it.
    """
    index = index or LabelIndex(labels)
    extent = index.extent
    if extent is None:
        return {}
    to_target = np.linalg.inv(target_affine) @ label_affine
    limit = np.array(target_shape) - 0.5 + tolerance_voxels

    def beyond(mapped: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return np.any((mapped < -0.5 - tolerance_voxels + margin) | (mapped > limit - margin), axis=1)

    # The labelled voxels lie in the box of their extent, whose image under the affine map
    # is the parallelepiped spanned by the box's corners; inside the (convex) field of
    # view when all eight corners are. Most masks end here, without listing every voxel.
    # The margin leaves a corner within rounding of the limit to the voxel-by-voxel test.
    if not beyond((to_target @ _box_corners(*extent).T)[:3].T, margin=1e-6).any():
        return {}
    outside = beyond(index.coordinates() @ to_target[:3, :3].T + to_target[:3, 3])
    if not outside.any():
        return {}
    values, counts = np.unique(index.values[outside], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def _box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The eight corners of the index box [lo, hi] as homogeneous coordinates (8 x 4)."""
    return np.array([[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


class LabelIndex:
    """Where the labels of a non-negative integer array lie, from one pass over the array.

    The positions of the labelled (nonzero) voxels are found once, in the array's memory
    order (a NIfTI volume is column-major); the voxel counts per label, each label's
    bounding box and the extent of all of them then come from those positions, not from
    further passes over the whole volume. For a 200 x 200 x 300 whole-body mask with
    77,000 labelled voxels: ~4 ms, against ~24 ms for numpy's ``bincount``, three
    projections and scipy's ``find_objects``, which each walk every voxel. Written by
    hand for that reason; the results equal those (tested).
    """

    def __init__(self, labels: np.ndarray) -> None:
        if labels.flags.c_contiguous:
            self.order = "C"
        elif labels.flags.f_contiguous:
            self.order = "F"
        else:  # a strided view: listed from a C-ordered copy
            labels, self.order = np.ascontiguousarray(labels), "C"
        flat = labels.ravel(order=self.order)  # a view, no copy
        self.shape = labels.shape
        #: Flat positions (in ``order``) of the labelled voxels, ascending, and their labels.
        self.positions = np.flatnonzero(flat != 0)  # a bool pass: 10x faster than on int16
        self.values = flat[self.positions]
        #: Voxels per label value (``np.bincount`` of the labelled voxels; ``counts[0]`` is 0).
        self.counts = np.bincount(self.values) if self.values.size else np.zeros(0, dtype=np.intp)

    @property
    def present(self) -> np.ndarray:
        """Sorted nonzero label values that occur."""
        return np.flatnonzero(self.counts)

    def coordinates(self) -> np.ndarray:
        """Index of every labelled voxel (rows in ``positions`` order), like ``np.argwhere``."""
        return np.stack(np.unravel_index(self.positions, self.shape, order=self.order), axis=1)

    @functools.cached_property
    def boxes(self) -> list[tuple[slice, ...] | None]:
        """Bounding box of each label 1 .. max, None for a value that does not occur
        (``scipy.ndimage.find_objects``' list)."""
        if not self.values.size:
            return []
        by_label = np.argsort(self.values, kind="stable")
        labels = self.values[by_label]
        starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        axes = np.unravel_index(self.positions[by_label], self.shape, order=self.order)
        lows = [np.minimum.reduceat(axis, starts) for axis in axes]
        highs = [np.maximum.reduceat(axis, starts) for axis in axes]
        boxes: list[tuple[slice, ...] | None] = [None] * int(labels[-1])
        for k, label in enumerate(labels[starts].tolist()):
            boxes[label - 1] = tuple(
                slice(int(low[k]), int(high[k]) + 1) for low, high in zip(lows, highs, strict=True)
            )
        return boxes

    @functools.cached_property
    def extent(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Lowest and highest index of the labelled voxels along each axis (None when there are none)."""
        boxes = [box for box in self.boxes if box is not None]
        if not boxes:
            return None
        lo = np.array([min(box[axis].start for box in boxes) for axis in range(len(self.shape))])
        hi = np.array([max(box[axis].stop for box in boxes) - 1 for axis in range(len(self.shape))])
        return lo, hi


def peak_kernel(affine: np.ndarray, volume_ml: float = 1.0) -> np.ndarray:
    """Boolean kernel of voxels whose centres lie within the sphere of ``volume_ml`` (PERCIST)."""
    radius = (3.0 * volume_ml * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)  # mm; 6.2035 for 1 ml
    step = affine[:3, :3]
    spacing = np.linalg.norm(step, axis=0)
    reach = np.floor(radius / spacing + 1e-9).astype(int)
    # Oblique grids: offsets are measured with the full direction matrix.
    grids = np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1).astype(float)
    distance = np.linalg.norm(offsets @ step.T, axis=1)
    return (distance <= radius + 1e-9).reshape(grids[0].shape)


def voi_statistics(
    suv: np.ndarray,
    label_grid: np.ndarray,
    voxel_volume_ml: float,
    kernel: np.ndarray,
    index: LabelIndex | None = None,
    scale: np.ndarray | float | None = None,
) -> pd.DataFrame:
    """SUVmax, SUVmean, SUVpeak, voxels and volume per nonzero label of ``label_grid``.

    ``index``: the grid's :class:`LabelIndex`, when the caller has it already.
    ``scale``: when given, ``suv`` holds the stored values and each window read from it
    is multiplied by ``scale`` (float32: one factor, or one per slice along the third
    axis), the same numbers as scaling the whole volume first, which is never done:
    a whole-body scan is read only where its regions lie (a memory-mapped ``.nii``).
    """
    index = index or LabelIndex(label_grid)
    rows = []
    half = np.array(kernel.shape) // 2
    kernel_f = kernel.astype(np.float64)
    for label in index.present:
        box = index.boxes[label - 1]
        start = [max(s.start - h, 0) for s, h in zip(box, half, strict=True)]
        stop = [min(s.stop + h, n) for s, h, n in zip(box, half, suv.shape, strict=True)]
        window = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
        sub = suv[window] if scale is None else suv[window] * _window_scale(scale, window)
        sub = sub.astype(np.float64)
        inside = label_grid[window] == label
        values = sub[inside]
        total = ndimage.correlate(sub, kernel_f, mode="constant", cval=0.0)
        # The window reaches a kernel radius beyond the VOI except where the image ends, so
        # correlating ones counts exactly the sphere voxels inside the image (IBSI).
        count = ndimage.correlate(np.ones_like(sub), kernel_f, mode="constant", cval=0.0)
        local_mean = total / count
        rows.append(
            {
                "label": int(label),
                "voxels": int(values.size),
                "volume_ml": values.size * voxel_volume_ml,
                "suvmax": float(values.max()),
                "suvmean": float(values.mean()),
                "suvpeak": float(local_mean[inside].max()),
            }
        )
    return pd.DataFrame(rows, columns=["label", "voxels", "volume_ml", "suvmax", "suvmean", "suvpeak"])


def _window_scale(scale: np.ndarray | float, window: tuple[slice, ...]) -> np.ndarray | np.float32:
    """The factor(s) of ``scale`` for one window: per slice (third axis), or the one factor."""
    scale = np.asarray(scale, dtype=np.float32)
    return scale[window[2]][None, None, :] if scale.ndim == 1 else scale[()]


def plausibility_flags(
    lesions: pd.DataFrame, references: pd.DataFrame, scan: str, uptake_in_window: bool | None = None
) -> pd.Series:
    """``qc_flag`` of each lesion of one scan (module docstring), with one warning listing them.

    ``lesions`` has ``lesion_id`` and ``suvmax``; ``references`` the scan's reference
    regions (``region``, ``suvmean``, ``voxels``; several labels of a region are pooled,
    voxel-weighted, as for the ratios). Blood pool: regions ``aorta``, ``blood_pool``,
    ``blood``; background: ``muscle``, ``background``. A level compares SUVmax with the
    region's SUVmean.
    """
    levels = {}
    names = references["region"].astype(str).str.lower() if len(references) else pd.Series(dtype=str)
    for level, members in (
        ("blood_pool", [r for r, n in RATIO_NAMES.items() if n == "blood"]),
        ("background", list(BACKGROUND_REGIONS)),
    ):
        group = references[names.isin(members).to_numpy()] if len(references) else references
        if len(group) and group["suvmean"].notna().any():
            weights = group["voxels"].fillna(1).astype(float) if "voxels" in group else pd.Series(1.0, group.index)
            means = group["suvmean"].astype(float)
            usable = means.notna()
            levels[level] = float((means[usable] * weights[usable]).sum() / weights[usable].sum())
    suvmax = lesions["suvmax"].astype(float)
    flags = []
    for value in suvmax:
        codes = []
        if np.isfinite(value) and value <= 0:
            codes.append("zero_suvmax")
        else:
            for level in ("blood_pool", "background"):
                if level in levels and np.isfinite(value) and value <= levels[level]:
                    codes.append(f"at_or_below_{level}")
        if uptake_in_window is False:
            codes.append("uptake_outside_window")
        flags.append(";".join(codes))
    flags = pd.Series(flags, index=lesions.index, dtype=object)
    shown = [
        f"{lesion} (SUVmax {value:.3g}: {flag})"
        for lesion, value, flag in zip(lesions["lesion_id"], suvmax, flags, strict=True)
        if flag and flag != "uptake_outside_window"
    ]
    if shown:
        reference_text = ", ".join(f"{k.replace('_', ' ')} SUVmean {v:.3g}" for k, v in levels.items()) or "none"
        log.warning(
            "PET scan %s: %d lesion(s) with SUVmax zero or at or below a reference region's SUVmean (%s): %s. "
            "A mask of another scan or patient reads background or zero; a lesion without uptake above the "
            "reference can be genuine. Check the mask; flagged in lesions.tsv column qc_flag (kept in the analyses).",
            scan,
            len(shown),
            reference_text,
            "; ".join(shown[:20]) + (" ..." if len(shown) > 20 else ""),
        )
    return flags.where(flags != "", None)


def add_sul(lesions: pd.DataFrame, factor: float | None) -> pd.DataFrame:
    """sulmax, sulpeak, sulmean = SUVbw statistics x LBM / W (empty when ``factor`` is None)."""
    lesions = lesions.copy()
    for suv, sul in SUL_COLUMNS.items():
        lesions[sul] = lesions[suv].astype(float) * factor if factor is not None else np.nan
    return lesions


# --- tables ----------------------------------------------------------------------------------


def read_labels_table(path: str | os.PathLike, mask_kind: str = "nifti") -> pd.DataFrame:
    """Validated labels table with the per-kind rules schemas cannot express.

    ``label`` is the mask's integer value for a NIfTI mask (kept as an int), the ROIName
    of an RTSTRUCT or the SegmentLabel / SegmentNumber of a SEG (kept as text). Column
    ``code`` is the integer each region gets on the PET grid: the NIfTI value itself, or
    1, 2, ... in table order for the DICOM forms.
    """
    table = read_validated_table(path, "tables/pet_labels", what="PET labels table")
    problems = []
    if mask_kind == "nifti":
        number = pd.to_numeric(table["label"].astype("string").str.strip(), errors="coerce").astype(float)
        whole = np.isfinite(number) & (number == np.round(number)) & (number >= 1) & (number < 2**31)
        for index in table.index[~whole]:
            problems.append(
                Problem(
                    str(path), int(index) + 1, "label", table.at[index, "label"], "an integer >= 1 (a NIfTI mask value)"
                )
            )
        values = number.where(whole, 0).astype(int)
        for index in table.index[whole & values.duplicated()]:
            problems.append(
                Problem(str(path), int(index) + 1, "label", table.at[index, "label"], "unique label values")
            )
        table["label"] = values.astype(object)
        table["code"] = values
    else:
        table["label"] = table["label"].astype("string").str.strip().astype(object)
        table["code"] = np.arange(1, len(table) + 1, dtype=int)
    for row, record in enumerate(table.to_dict("records"), start=1):
        if record["kind"] == "lesion":
            for column in ("lesion_id", "site"):
                if column not in table.columns or pd.isna(record.get(column)):
                    problems.append(Problem(str(path), row, column, None, f"a {column} for a lesion label"))
        elif "reference_region" not in table.columns or pd.isna(record.get("reference_region")):
            problems.append(Problem(str(path), row, "reference_region", None, "a region name (aorta, muscle, ...)"))
    lesions = table[table["kind"] == "lesion"]
    if "lesion_id" in table.columns:
        for index in lesions.index[lesions["lesion_id"].duplicated()]:
            problems.append(
                Problem(str(path), int(index) + 1, "lesion_id", table.at[index, "lesion_id"], "unique lesion ids")
            )
    raise_problems(problems, f"PET labels table '{path}'")
    if "irradiated" not in table.columns:
        table["irradiated"] = False
    table["irradiated"] = table["irradiated"].fillna(False).astype(bool)
    for column in ("lesion_id", "site", "reference_region"):
        if column not in table.columns:
            table[column] = pd.NA
    return table


def suv_scale(image: PetImage, scan: str, row: dict, weights: dict[str, float], options: QuantifyOptions):
    """The SUVbw factor of one scan's stored values and the provenance of its conversion.

    A float32 scalar for a NIfTI image, one float32 factor per slice (third axis) for a
    DICOM series; ``image.values * scale`` is the SUVbw volume. Callers scale only the
    voxels they read (:func:`voi_statistics`), never the whole volume.
    """
    fallback = weights.get(str(row["patient_id"]))
    override = row.get("weight_kg")
    override = None if override is None or pd.isna(override) else float(override)
    if image.format == "dicom":
        injection_date = row.get("injection_date")
        injection_date = (
            None if injection_date is None or pd.isna(injection_date) else pd.Timestamp(injection_date).date()
        )
        factors, info = dicom_suv_factors(
            image.attributes,
            image.slices,
            scan=scan,
            weight_kg=override,
            fallback_weight_kg=fallback,
            injection_date=injection_date,
            default_half_life_s=options.default_half_life_s,
        )
        scale = factors.astype(np.float32)
    else:
        factor, info = bids_suv_factor(
            image.attributes,
            scan=scan,
            weight_kg=override,
            fallback_weight_kg=fallback,
            default_half_life_s=options.default_half_life_s,
        )
        scale = np.float32(factor)
    declared = row.get("days_post_injection")
    declared = None if declared is None or pd.isna(declared) else float(declared)
    info["uptake_in_window"] = check_uptake_time(scan, info, options.uptake_window_hours, declared)
    return scale, info


def check_mask(
    mask: LabelMap,
    image: PetImage,
    labels: pd.DataFrame,
    labels_path: str,
    options: QuantifyOptions,
    index: LabelIndex | None = None,
):
    """Stop on a mask in another space, labels absent from the labels table, or vice versa.

    ``index``: the mask's :class:`LabelIndex`, when the caller has it already.

    A mask without world space (NIfTI sform and qform codes 0, :attr:`LabelMap.world_space`
    False) is refused: its affine would be nibabel's guess. With the cohort option
    ``adopt_pet_grid_for_unoriented_masks`` and a shape equal to the PET's, it takes the
    PET's affine instead (``mask.affine`` is replaced), with a warning every time.
    """
    if not mask.world_space:
        same_shape = tuple(mask.labels.shape) == tuple(image.values.shape)
        if not (options.adopt_pet_grid_for_unoriented_masks and same_shape):
            shapes = f"mask {'x'.join(map(str, mask.labels.shape))}, PET {'x'.join(map(str, image.values.shape))}"
            raise InputError(
                f"label mask '{mask.source}' has no world space (NIfTI sform_code and qform_code are both 0), so where "
                f"its voxels lie relative to PET image '{image.source}' is unknown (nibabel would guess a centred, "
                "x-flipped position). Re-export the mask with its scanner-space affine"
                + (
                    f"; the shapes differ ({shapes}), so the PET grid cannot be adopted."
                    if options.adopt_pet_grid_for_unoriented_masks
                    else f", or, if it was drawn voxel by voxel on this PET ({shapes}), set the cohort option "
                    "pet.adopt_pet_grid_for_unoriented_masks: true."
                )
            )
        log.warning(
            "label mask '%s' has no world space (sform/qform codes 0); placed voxel for voxel on the grid of PET image "
            "'%s' (pet.adopt_pet_grid_for_unoriented_masks). Check that the mask was drawn on this image.",
            mask.source,
            image.source,
        )
        mask.affine = image.affine.copy()
    if mask.space_code in TEMPLATE_SPACES:
        raise InputError(
            f"label mask '{mask.source}' is in {TEMPLATE_SPACES[mask.space_code]} template space (NIfTI sform/qform code "
            f"{mask.space_code}), not in the scanner space of PET image '{image.source}'."
        )
    index = index or LabelIndex(mask.labels)
    present = set(index.present.tolist())
    listed = set(labels["label"].astype(int))
    unknown = sorted(present - listed)
    if unknown:
        raise InputError(
            f"label mask '{mask.source}' holds label(s) {unknown[:20]} that are not in the labels table '{labels_path}' "
            "(column 'label')."
        )
    absent = sorted(listed - present)
    if absent:
        raise InputError(
            f"labels table '{labels_path}' lists label(s) {absent[:20]} (column 'label') that do not occur in mask "
            f"'{mask.source}'."
        )
    outside = labels_outside_fov(
        mask.labels, mask.affine, image.values.shape, image.affine, options.fov_tolerance_voxels, index
    )
    if outside:
        raise InputError(
            f"label mask '{mask.source}': labelled voxels lie outside the field of view of PET image '{image.source}' "
            f"(label: voxels {outside}); the mask is not in the PET's world space (another frame of reference, or a "
            "wrong affine)."
        )


@dataclass
class PetMask:
    """A scan's regions on the PET grid (``grid``: labels-table ``code`` values) and their
    volumes at the mask's own resolution (``volumes_ml`` by code)."""

    grid: np.ndarray
    volumes_ml: dict[int, float]
    kind: str
    resampled: bool
    grid_adopted: bool = False  # a NIfTI without world space placed on the PET grid (opt-in)
    index: LabelIndex | None = None  # the grid's, when it is the mask itself (not resampled)


def _check_frame(mask_frame: str | None, image: PetImage, source: str, what: str) -> None:
    """Refuse a DICOM mask whose FrameOfReferenceUID differs from the PET series'."""
    if image.frame_of_reference_uid is None:
        log.warning(
            "%s '%s': PET image '%s' has no FrameOfReferenceUID (NIfTI); only the field-of-view check places the mask",
            what,
            source,
            image.source,
        )
    elif mask_frame and mask_frame != image.frame_of_reference_uid:
        raise InputError(
            f"{what} '{source}': FrameOfReferenceUID {mask_frame} differs from that of PET image '{image.source}' "
            f"({image.frame_of_reference_uid}); the mask was drawn on another scan's coordinates."
        )


def _native_volumes(affine: np.ndarray, codes, counts: np.ndarray) -> dict[int, float]:
    """Volume (ml) of each code at the mask's own resolution, from its voxel ``counts``."""
    voxel_ml = abs(float(np.linalg.det(affine[:3, :3]))) / 1000.0
    return {int(code): float(counts[code] * voxel_ml) if code < len(counts) else 0.0 for code in codes}


def load_mask(
    mask_path: Path, image: PetImage, labels: pd.DataFrame, labels_path: str, options: QuantifyOptions
) -> PetMask:
    """The scan's regions on the PET grid and at native resolution, from any of the three mask forms.

    NIfTI: :func:`check_mask`, then nearest-neighbour resampling. RTSTRUCT: ROIs selected
    by ROIName, frame of reference checked per ROI, contours filled on the PET grid
    (:func:`contexture.pet.masks.rasterise_structure_set`). SEG: segments selected by
    SegmentLabel or SegmentNumber, frame of reference and field of view checked, then
    resampled like a NIfTI map.
    """
    kind, file = mask_file(mask_path)
    codes = dict(zip(labels["label"].astype(str), labels["code"].astype(int), strict=True))
    if kind == "nifti":
        mask = read_label_map(file, options.image_voxels)
        index = LabelIndex(mask.labels)
        check_mask(mask, image, labels, labels_path, options, index)
        grid = resample_labels(mask.labels, mask.affine, image.values.shape, image.affine, index)
        resampled = grid is not mask.labels
        volumes = _native_volumes(mask.affine, codes.values(), index.counts)
        return PetMask(grid, volumes, kind, resampled, not mask.world_space, None if resampled else index)
    if kind == "rtstruct":
        structure = read_structure_set(file)
        if image.frame_of_reference_uid is None:
            _check_frame(None, image, str(file), "RTSTRUCT")
        grid, volumes = rasterise_structure_set(
            structure,
            codes,
            image.values.shape,
            image.affine,
            image.frame_of_reference_uid,
            options.fov_tolerance_voxels,
        )
        return PetMask(grid, volumes, kind, True)
    seg = read_segmentation(file, list(codes), codes, options.image_voxels)
    _check_frame(seg.frame_of_reference_uid, image, str(file), "DICOM SEG")
    mask = seg.label_map
    index = LabelIndex(mask.labels)
    outside = labels_outside_fov(
        mask.labels, mask.affine, image.values.shape, image.affine, options.fov_tolerance_voxels, index
    )
    if outside:
        names = {code: name for name, code in codes.items()}
        raise InputError(
            f"DICOM SEG '{file}': segment voxels lie outside the field of view of PET image '{image.source}' "
            f"({ {names[c]: n for c, n in outside.items()} }); the SEG is not in the PET's world space."
        )
    grid = resample_labels(mask.labels, mask.affine, image.values.shape, image.affine, index)
    resampled = grid is not mask.labels
    volumes = _native_volumes(mask.affine, codes.values(), index.counts)
    return PetMask(grid, volumes, kind, resampled, index=None if resampled else index)


def quantify_scan(
    row: dict, base: Path, weights: dict[str, float], options: QuantifyOptions, body: dict[str, dict] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Lesion rows, reference-region rows and the provenance of one scan (one scans-table row).

    ``body`` maps patient_id to the clinical table's ``height_cm`` and ``sex`` (for SUL).
    """
    given = base / str(row["image"]) if not Path(str(row["image"])).is_absolute() else Path(row["image"])
    image_path = given.resolve()
    mask_path = base / str(row["mask"]) if not Path(str(row["mask"])).is_absolute() else Path(row["mask"])
    labels_path = base / str(row["labels"]) if not Path(str(row["labels"])).is_absolute() else Path(row["labels"])
    scan = str(given)  # as given, not resolved: tables must not depend on the working folder
    with _scans_column("image"):
        image = read_pet_image(image_path, options.image_voxels)
    scale, info = suv_scale(image, scan, row, weights, options)
    with _scans_column("mask"):
        kind = mask_file(mask_path)[0]  # what the labels table's labels name: values, ROIs or segments
    with _scans_column("labels"):
        labels = read_labels_table(labels_path, kind)
    with _scans_column("mask"):
        mask = load_mask(mask_path, image, labels, str(labels_path), options)
    grid = mask.grid
    on_grid = mask.index or LabelIndex(grid)
    present = set(on_grid.present.tolist())
    vanished = [label for label, code in zip(labels["label"], labels["code"], strict=True) if code not in present]
    if vanished:
        raise InputError(
            f"label mask '{mask_path}': label(s) {vanished[:20]} cover no PET voxel centre of '{scan}' once placed "
            "on the PET grid (smaller than a PET voxel?)."
        )
    voxel_ml = abs(float(np.linalg.det(image.affine[:3, :3]))) / 1000.0
    kernel = peak_kernel(image.affine, options.peak_volume_ml)
    stats = voi_statistics(image.values, grid, voxel_ml, kernel, on_grid, scale)
    # Volume at the mask's own resolution; the SUV statistics stay on the PET grid.
    stats["volume_ml"] = stats["label"].map(mask.volumes_ml)
    stats = stats.rename(columns={"label": "code"})
    merged = labels.merge(stats, on="code", how="left", validate="one_to_one")
    lesions = merged[merged["kind"] == "lesion"].copy()
    for key in ("patient_id", "timepoint", "scan_day"):
        lesions[key] = row[key]
    references = merged[merged["kind"] == "reference"].copy()
    references["region"] = references["reference_region"].astype(str)
    for key in ("patient_id", "timepoint", "scan_day", *SCAN_DESIGN_COLUMNS):
        references[key] = row.get(key, np.nan)
    # A scan without lesions (e.g. a dose-finding scan with reference regions only) adds
    # no ratio columns to the lesion table.
    for region, group in references.groupby("region", sort=True) if not lesions.empty else ():
        name = RATIO_NAMES.get(region.lower(), region.lower())
        # Several labels of one region: their voxel-weighted SUVmean.
        region_mean = (group["suvmean"] * group["voxels"]).sum() / group["voxels"].sum()
        lesions[f"tumor_to_{name}"] = lesions["suvmax"] / region_mean
    clinical = (body or {}).get(str(row["patient_id"]), {})
    sul_factor, lbm = None, {}
    if not lesions.empty:  # reference-region-only scans need no SUL (and no warning)
        sul_factor, lbm = lean_body_mass_factor(
            image.attributes,
            info,
            scan=scan,
            clinical_height_cm=clinical.get("height_cm"),
            clinical_sex=clinical.get("sex"),
            formula=options.lean_body_mass,
        )
    lesions = add_sul(lesions, sul_factor)
    lesions["qc_flag"] = plausibility_flags(lesions, references, scan, info.get("uptake_in_window"))
    provenance = {
        "patient_id": row["patient_id"],
        "timepoint": row["timepoint"],
        "scan_day": row["scan_day"],
        # As written in the scans table (not resolved), so the table does not depend on
        # the folder the workflow runs in (byte-identical reruns elsewhere).
        "image": str(row["image"]),
        "format": image.format,
        "voxel_volume_ml": voxel_ml,
        "shape": "x".join(map(str, image.values.shape)),
        "mask_format": mask.kind,
        "mask_resampled": mask.resampled,
        "mask_grid_adopted": mask.grid_adopted,
    }
    provenance.update({k: v for k, v in info.items() if not k.endswith("datetime")})
    provenance.update({k: lbm.get(k) for k in ("lbm_formula", "lbm_kg", "height_source", "sex_source")})
    keep = [c for c in lesions.columns if c in LESION_COLUMNS or c.startswith("tumor_to_")]
    return lesions[keep], references[REFERENCE_COLUMNS], provenance


@contextlib.contextmanager
def _scans_column(column: str) -> Iterator[None]:
    """Note on an :class:`InputError` raised in the block the scans-table column of the file it concerns."""
    try:
        yield
    except InputError as error:
        error.scans_column = getattr(error, "scans_column", None) or column
        raise


# The scans table's data row (1 = first) each record came from, for messages.
SCANS_ROW = "_scans_row"


def iter_scans(scans: pd.DataFrame) -> Iterator[dict]:
    """The scans table's rows as records, sorted by patient, timepoint and day, each with
    its data row number (:data:`SCANS_ROW`)."""
    numbered = scans.assign(**{SCANS_ROW: np.arange(1, len(scans) + 1)})
    yield from numbered.sort_values(["patient_id", "timepoint", "scan_day"], kind="stable").to_dict("records")


@dataclass(frozen=True)
class ScanRefusal:
    """Why one scan of a scans table was refused: its data row, the column of the file
    concerned (None when the scan as a whole is), and the reader's message."""

    row: int
    column: str | None
    message: str

    def describe(self, scans_path: str | os.PathLike) -> str:
        column = f", column '{self.column}'" if self.column else ""
        return f"scans table '{scans_path}', row {self.row}{column}: {self.message}"


def quantify_or_refuse(row: dict, **arguments) -> tuple[pd.DataFrame, pd.DataFrame, dict] | ScanRefusal:
    """:func:`quantify_scan`, or the :class:`ScanRefusal` of a scan whose files it refuses
    (an :class:`InputError`), so that one run names every refused scan of a cohort."""
    try:
        return quantify_scan(row, **arguments)
    except InputError as error:
        return ScanRefusal(int(row.get(SCANS_ROW, 0)), getattr(error, "scans_column", None), str(error))


def sort_references(references: pd.DataFrame) -> pd.DataFrame:
    """Reference-region rows sorted by patient, timepoint, days after injection, region."""
    return references.sort_values(
        ["patient_id", "timepoint", "days_post_injection", "region", "label"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def quantify_scans(
    scans_path: str | os.PathLike,
    weights: dict[str, float] | None = None,
    options: QuantifyOptions | None = None,
    body: dict[str, dict] | None = None,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Quantify every scan of a scans table, one scan in memory per worker at a time.

    Returns ``(lesions, reference_regions, scans)`` tables, sorted. Paths in the scans
    table are relative to its folder. ``weights`` maps patient_id to the clinical
    ``weight_kg`` used when an image lacks a body weight; ``body`` to the clinical
    ``height_cm`` and ``sex`` used when an image lacks them (SUL). ``threads`` scans are
    quantified at once, each in its own process (:func:`contexture.parallel.map_units`);
    the tables are the same at any thread count.
    """
    options = options or QuantifyOptions()
    weights = weights or {}
    scans_path = Path(scans_path)
    scans = read_validated_table(scans_path, "tables/pet_scans", what="PET scans table")
    base = scans_path.parent
    lesion_parts, reference_parts, provenance = [], [], []
    one_scan = functools.partial(quantify_or_refuse, base=base, weights=weights, options=options, body=body)
    # Up to 8 scans a message to a worker: at ~30 ms a whole-body scan, one scan a message
    # spent ~1 ms of this process's CPU on each (the pool's queues), beside the workers.
    # At least 16 messages a worker, so the last ones still balance unequal scans.
    chunksize = max(1, min(8, len(scans) // (16 * max(1, threads))))
    results = map_units(one_scan, iter_scans(scans), threads, chunksize=chunksize)
    refusals = []
    for number, result in enumerate(results, start=1):
        if isinstance(result, ScanRefusal):
            refusals.append(result)
            log.info("PET scan %d/%d refused (scans table row %d)", number, len(scans), result.row)
            continue
        lesions, references, info = result
        lesion_parts.append(lesions)
        reference_parts.append(references)
        provenance.append(info)
        log.info("PET scan %d/%d quantified: %s (%d lesions)", number, len(scans), info["image"], len(lesions))
    if refusals:
        raise_scan_refusals(refusals, scans_path, len(scans))
    lesions = finish_lesions(pd.concat(lesion_parts, ignore_index=True) if lesion_parts else pd.DataFrame())
    references = pd.concat(reference_parts, ignore_index=True) if reference_parts else pd.DataFrame()
    references = sort_references(references.reindex(columns=REFERENCE_COLUMNS))
    return lesions, references, pd.DataFrame(provenance)


def raise_scan_refusals(refusals: list[ScanRefusal], scans_path: str | os.PathLike, total: int) -> None:
    """One :class:`InputError` naming every refused scan, in scans-table row order."""
    refusals = sorted(refusals, key=lambda refusal: refusal.row)
    if len(refusals) == 1:
        raise InputError(refusals[0].describe(scans_path))
    raise InputError(
        f"{len(refusals)} of {total} PET scans were refused (no table is written):\n"
        + "\n".join(f"  - {refusal.describe(scans_path)}" for refusal in refusals)
    )


def finish_lesions(lesions: pd.DataFrame) -> pd.DataFrame:
    """Contract columns first, ratio columns after, sorted by patient, timepoint, lesion."""
    lesions = lesions.copy()
    repeated = lesions.duplicated(["patient_id", "lesion_id", "timepoint"], keep=False) if len(lesions) else []
    if len(lesions) and repeated.any():
        shown = lesions.loc[repeated, ["patient_id", "lesion_id", "timepoint"]].drop_duplicates().head(10)
        raise InputError(
            "lesion(s) measured on more than one scan of the same patient and timepoint (a dose-finding series "
            "with lesions labelled at several days after injection?): "
            + "; ".join(" ".join(map(str, r)) for r in shown.itertuples(index=False))
            + ". Label lesions on one scan per patient and timepoint (the one that enters the lesion analyses); "
            "the other scans of the series may carry reference regions only."
        )
    for column in LESION_COLUMNS:
        if column not in lesions.columns:
            lesions[column] = pd.NA
    for column in ("tumor_to_blood", "tumor_to_muscle"):
        if column not in lesions.columns:
            lesions[column] = np.nan
    ratios = sorted(c for c in lesions.columns if c.startswith("tumor_to_"))
    lesions["irradiated"] = lesions["irradiated"].astype("boolean").fillna(False).astype(bool)
    order = {"baseline": 0, "on_treatment": 1}
    lesions["_order"] = lesions["timepoint"].map(order)
    lesions = lesions.sort_values(["patient_id", "_order", "lesion_id"], kind="stable")
    return lesions[LESION_COLUMNS + ratios].reset_index(drop=True)


def read_voi_table(path: str | os.PathLike, columns: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lesion and reference-region tables from a per-VOI statistics export.

    ``columns`` is the cohort's ``pet.columns``: the export's headers renamed to ours
    first (:func:`contexture.io.voi_columns.rename_voi_columns`; LIFEx and 3D Slicer
    presets). Rows with ``kind`` empty or ``lesion`` are lesions (``lesion_id``, ``site`` and
    ``suvmax`` required); rows with ``kind = reference`` are reference regions
    (``reference_region`` and ``suvmean`` required), carried with ``days_post_injection``
    and ``protein_dose_mg`` into the reference-region table.
    """
    table = read_voi_export(path, columns)
    for column in ("kind", "lesion_id", "site", "suvmax", "suvmean", "reference_region", *SCAN_DESIGN_COLUMNS):
        if column not in table.columns:
            table[column] = pd.NA
    is_reference = (table["kind"] == "reference").fillna(False).to_numpy(dtype=bool)
    problems = []
    needs = [
        (~is_reference, ("lesion_id", "site", "suvmax"), "lesion"),
        (is_reference, ("reference_region", "suvmean"), "reference"),
    ]
    for rows, columns, kind in needs:
        for column in columns:
            for index in table.index[rows & table[column].isna().to_numpy()]:
                problems.append(Problem(str(path), int(index) + 1, column, None, f"a {column} on a {kind} row"))
    raise_problems(problems, f"PET VOI table '{path}'")
    lesions = finish_lesions(table[~is_reference].drop(columns=["kind", "reference_region", *SCAN_DESIGN_COLUMNS]))
    references = table[is_reference].assign(region=lambda t: t["reference_region"].astype(str), label=pd.NA)
    references = sort_references(references.reindex(columns=REFERENCE_COLUMNS))
    keys = ["patient_id", "timepoint", "scan_day"]
    for key, group in lesions.groupby(keys, sort=False, dropna=False):
        own = references[(references[keys] == pd.Series(key, index=keys)).all(axis=1)]
        scan = f"{path} ({' '.join(map(str, key))})"
        lesions.loc[group.index, "qc_flag"] = plausibility_flags(group, own, scan)
    return lesions, references


def read_voi_export(path: str | os.PathLike, columns: dict | None = None) -> pd.DataFrame:
    """The VOI table typed by its schema, after ``pet.columns`` renamed the export's headers."""
    schema = load_schema("tables/pet_voi")
    text = read_input_table(path, what="PET VOI table")
    text = rename_voi_columns(text, columns, file=str(path), known=schema["properties"])
    typed, problems = validate_frame(text, schema, str(path))
    raise_problems(problems, f"PET VOI table '{path}'")
    return typed


def voi_scans(lesions: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """The scans table of a VOI export: each (patient, timepoint, scan day) once, ``format = voi_table``."""
    keys = ["patient_id", "timepoint", "scan_day"]
    scans = pd.concat([lesions[keys], references[keys]]).drop_duplicates().sort_values(keys, kind="stable")
    return scans.reset_index(drop=True).assign(format="voi_table")
