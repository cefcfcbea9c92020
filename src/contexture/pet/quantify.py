"""Per-lesion PET quantification: label maps on the PET grid, SUV statistics, features.

Label maps are NIfTI images in world space that may lie on another grid than the PET
(e.g. drawn on the CT at 2 mm). Each PET voxel takes the label found at its centre: the
centre is mapped through ``inv(mask affine) @ PET affine`` and rounded to the nearest
mask voxel (nearest-neighbour resampling; labels are never interpolated). A labelled
mask voxel that lands more than one PET voxel outside the PET field of view means the
mask is not in the PET's world space (another frame of reference) and stops the run.

Per VOI (all on SUVbw voxels, IBSI definitions, Zwanenburg et al., Radiology 2020):

* SUVmax, SUVmean, voxel count, volume (ml) = voxels x PET voxel volume;
* SUVpeak: the largest mean SUV in a sphere of 1 cm^3 (radius 6.20 mm) centred on a
  voxel of the VOI (PERCIST 1.0, Wahl et al., J Nucl Med 2009;50:122S; IBSI "global
  intensity peak"): the sphere holds the image voxels whose centres lie within the
  radius of the centre voxel's centre, inside or outside the VOI, and voxels outside
  the image are left out of the mean. With 4 mm voxels that is 19 voxels.
* reference regions (``kind = reference``): SUVmean of the blood pool (aorta) and of
  muscle, and the lesion ratios tumor_to_blood = SUVmax / blood-pool SUVmean and
  tumor_to_muscle = SUVmax / muscle SUVmean (one ratio column per reference region).
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

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from contexture.errors import InputError, Problem, raise_problems
from contexture.io import read_input_table
from contexture.io.pet_images import LabelMap, PetImage, read_label_map, read_pet_image
from contexture.io.validation import load_schema, read_validated_table, validate_frame
from contexture.io.voi_columns import rename_voi_columns
from contexture.pet.suv import ZR89_HALF_LIFE_S, bids_suv_factor, dicom_suv_factors

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
]
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
TEMPLATE_SPACES = {3: "Talairach", 4: "MNI-152"}


@dataclass(frozen=True)
class QuantifyOptions:
    """Scientific settings of the quantification (config ``pet:`` section)."""

    peak_volume_ml: float = 1.0
    default_half_life_s: float = ZR89_HALF_LIFE_S
    fov_tolerance_voxels: float = 1.0


# --- geometry ------------------------------------------------------------------------------


def resample_labels(
    labels: np.ndarray,
    label_affine: np.ndarray,
    target_shape: tuple[int, int, int],
    target_affine: np.ndarray,
) -> np.ndarray:
    """Labels at the centres of the target grid's voxels (nearest neighbour), int32.

    Only the block of the target grid covering the labelled voxels is computed.
    """
    out = np.zeros(target_shape, dtype=np.int32)
    nonzero = np.argwhere(labels != 0)
    if nonzero.size == 0:
        return out
    if labels.shape == tuple(target_shape) and np.allclose(label_affine, target_affine, atol=1e-4):
        return labels.astype(np.int32, copy=True)
    to_target = np.linalg.inv(target_affine) @ label_affine
    lo, hi = nonzero.min(0), nonzero.max(0)
    corners = np.array([[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
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
    labels: np.ndarray, label_affine: np.ndarray, target_shape, target_affine, tolerance_voxels: float = 1.0
) -> dict[int, int]:
    """Per label, how many labelled mask voxels lie beyond the PET field of view (+ tolerance)."""
    nonzero = np.argwhere(labels != 0)
    if nonzero.size == 0:
        return {}
    to_target = np.linalg.inv(target_affine) @ label_affine
    mapped = nonzero @ to_target[:3, :3].T + to_target[:3, 3]
    limit = np.array(target_shape) - 0.5 + tolerance_voxels
    outside = np.any((mapped < -0.5 - tolerance_voxels) | (mapped > limit), axis=1)
    if not outside.any():
        return {}
    values, counts = np.unique(labels[tuple(nonzero[outside].T)], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def present_labels(labels: np.ndarray) -> np.ndarray:
    """Sorted nonzero label values occurring in a non-negative integer array."""
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    return np.flatnonzero(counts)


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


def voi_statistics(suv: np.ndarray, label_grid: np.ndarray, voxel_volume_ml: float, kernel: np.ndarray) -> pd.DataFrame:
    """SUVmax, SUVmean, SUVpeak, voxels and volume per nonzero label of ``label_grid``."""
    present = present_labels(label_grid)
    rows = []
    half = np.array(kernel.shape) // 2
    kernel_f = kernel.astype(np.float64)
    objects = ndimage.find_objects(label_grid)
    for label in present:
        box = objects[label - 1]
        start = [max(s.start - h, 0) for s, h in zip(box, half, strict=True)]
        stop = [min(s.stop + h, n) for s, h, n in zip(box, half, suv.shape, strict=True)]
        window = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
        sub = suv[window].astype(np.float64)
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


# --- tables ----------------------------------------------------------------------------------


def read_labels_table(path: str | os.PathLike) -> pd.DataFrame:
    """Validated labels table with the per-kind rules schemas cannot express."""
    table = read_validated_table(path, "tables/pet_labels", what="PET labels table")
    problems = []
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


def suv_volume(image: PetImage, scan: str, row: dict, weights: dict[str, float], options: QuantifyOptions):
    """The SUVbw volume of one scan and the provenance of its conversion factor."""
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
        suv = image.values * factors.astype(np.float32)[None, None, :]
    else:
        factor, info = bids_suv_factor(
            image.attributes,
            scan=scan,
            weight_kg=override,
            fallback_weight_kg=fallback,
            default_half_life_s=options.default_half_life_s,
        )
        suv = image.values * np.float32(factor)
    return suv, info


def check_mask(mask: LabelMap, image: PetImage, labels: pd.DataFrame, labels_path: str, options: QuantifyOptions):
    """Stop on a mask in another space, labels absent from the labels table, or vice versa."""
    if mask.space_code in TEMPLATE_SPACES:
        raise InputError(
            f"label mask '{mask.source}' is in {TEMPLATE_SPACES[mask.space_code]} template space (NIfTI sform/qform code "
            f"{mask.space_code}), not in the scanner space of PET image '{image.source}'."
        )
    present = set(present_labels(mask.labels).tolist())
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
        mask.labels, mask.affine, image.values.shape, image.affine, options.fov_tolerance_voxels
    )
    if outside:
        raise InputError(
            f"label mask '{mask.source}': labelled voxels lie outside the field of view of PET image '{image.source}' "
            f"(label: voxels {outside}); the mask is not in the PET's world space (another frame of reference, or a "
            "wrong affine)."
        )


def quantify_scan(
    row: dict, base: Path, weights: dict[str, float], options: QuantifyOptions
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Lesion rows, reference-region rows and the provenance of one scan (one scans-table row)."""
    given = base / str(row["image"]) if not Path(str(row["image"])).is_absolute() else Path(row["image"])
    image_path = given.resolve()
    mask_path = base / str(row["mask"]) if not Path(str(row["mask"])).is_absolute() else Path(row["mask"])
    labels_path = base / str(row["labels"]) if not Path(str(row["labels"])).is_absolute() else Path(row["labels"])
    scan = str(given)  # as given, not resolved: tables must not depend on the working folder
    image = read_pet_image(image_path)
    suv, info = suv_volume(image, scan, row, weights, options)
    image.values = suv  # drop the stored values: one volume in memory
    labels = read_labels_table(labels_path)
    mask = read_label_map(mask_path)
    check_mask(mask, image, labels, str(labels_path), options)
    grid = resample_labels(mask.labels, mask.affine, suv.shape, image.affine)
    vanished = sorted(set(labels["label"].astype(int)) - set(present_labels(grid).tolist()))
    if vanished:
        raise InputError(
            f"label mask '{mask_path}': label(s) {vanished[:20]} cover no PET voxel centre of '{scan}' after "
            "nearest-neighbour resampling (smaller than a PET voxel?)."
        )
    voxel_ml = abs(float(np.linalg.det(image.affine[:3, :3]))) / 1000.0
    stats = voi_statistics(suv, grid, voxel_ml, peak_kernel(image.affine, options.peak_volume_ml))
    merged = labels.merge(stats, on="label", how="left", validate="one_to_one")
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
    provenance = {
        "patient_id": row["patient_id"],
        "timepoint": row["timepoint"],
        "scan_day": row["scan_day"],
        # As written in the scans table (not resolved), so the table does not depend on
        # the folder the workflow runs in (byte-identical reruns elsewhere).
        "image": str(row["image"]),
        "format": image.format,
        "voxel_volume_ml": voxel_ml,
        "shape": "x".join(map(str, suv.shape)),
        "mask_resampled": not (mask.labels.shape == suv.shape and np.allclose(mask.affine, image.affine, atol=1e-4)),
    }
    provenance.update({k: v for k, v in info.items() if not k.endswith("datetime")})
    keep = [c for c in lesions.columns if c in LESION_COLUMNS or c.startswith("tumor_to_")]
    return lesions[keep], references[REFERENCE_COLUMNS], provenance


def iter_scans(scans: pd.DataFrame) -> Iterator[dict]:
    yield from scans.sort_values(["patient_id", "timepoint", "scan_day"], kind="stable").to_dict("records")


def sort_references(references: pd.DataFrame) -> pd.DataFrame:
    """Reference-region rows sorted by patient, timepoint, days after injection, region."""
    return references.sort_values(
        ["patient_id", "timepoint", "days_post_injection", "region", "label"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def quantify_scans(
    scans_path: str | os.PathLike, weights: dict[str, float] | None = None, options: QuantifyOptions | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Quantify every scan of a scans table, one scan in memory at a time.

    Returns ``(lesions, reference_regions, scans)`` tables, sorted. Paths in the scans
    table are relative to its folder. ``weights`` maps patient_id to the clinical
    ``weight_kg`` used when an image lacks a body weight.
    """
    options = options or QuantifyOptions()
    weights = weights or {}
    scans_path = Path(scans_path)
    scans = read_validated_table(scans_path, "tables/pet_scans", what="PET scans table")
    base = scans_path.parent
    lesion_parts, reference_parts, provenance = [], [], []
    for number, row in enumerate(iter_scans(scans), start=1):
        lesions, references, info = quantify_scan(row, base, weights, options)
        lesion_parts.append(lesions)
        reference_parts.append(references)
        provenance.append(info)
        log.info("PET scan %d/%d quantified: %s (%d lesions)", number, len(scans), info["image"], len(lesions))
    lesions = finish_lesions(pd.concat(lesion_parts, ignore_index=True) if lesion_parts else pd.DataFrame())
    references = pd.concat(reference_parts, ignore_index=True) if reference_parts else pd.DataFrame()
    references = sort_references(references.reindex(columns=REFERENCE_COLUMNS))
    return lesions, references, pd.DataFrame(provenance)


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
