"""Raw-input checks of PET scans tables, images, masks, labels and VOI tables (rule ``validate_inputs``).

Every image, mask and labels file named by the scans table exists; an ``on_treatment``
scan dated before treatment start (``scan_day < 0``) is an error (scans table and VOI
table); every label in a mask is in its labels table and vice versa (for an RTSTRUCT or SEG mask:
every ROI or segment the labels table names exists in the file); image and mask headers
are read and absurd dimensions refused before any voxel data (an image's voxels are not
read here; a NIfTI mask's are, to compare its labels with its labels table, so
``pet_quantify`` reads each mask a second time); a NIfTI mask without world space
(sform and qform codes 0) is refused unless ``pet.adopt_pet_grid_for_unoriented_masks``. Called through
:data:`contexture.modalities.MODALITIES` by :func:`contexture.inputs.validate_cohort_inputs`.
"""

from __future__ import annotations

__all__ = ["check_pet_inputs", "check_scan_days", "image_shape"]

import os
from pathlib import Path

import pandas as pd

from contexture.errors import InputError, Problem
from contexture.inputs import Collector, resolve_path
from contexture.io.pet_images import (
    check_image_shape,
    dicom_series_shape,
    nifti_shape,
    read_label_map,
    sidecar_path,
)
from contexture.io.pet_masks import dicom_mask_names, mask_file
from contexture.io.voi_columns import rename_voi_columns
from contexture.modalities import BY_NAME
from contexture.pet.quantify import present_labels, read_labels_table


def image_shape(path: Path) -> tuple[int, ...]:
    """Voxel dimensions of a NIfTI file or a DICOM series folder, from headers only."""
    return dicom_series_shape(path) if path.is_dir() else nifti_shape(path)


def _check_image_header(path: Path, what: str, found: Collector, column: str, problem_at: tuple) -> bool:
    """Header dimensions within the voxel limit; returns whether the file may be read."""
    try:
        shape = image_shape(path)
        check_image_shape(shape, str(path), what, found.limits["image_voxels"])
    except InputError as error:
        found.add(
            f"{error} (config limits.image_voxels; scans table {problem_at[0]}, row {problem_at[1]}, column '{column}')"
        )
        return False
    return True


def check_pet_inputs(section: dict, found: Collector) -> None:
    """The VOI table (its headers mapped by ``pet.columns``), or the scans table and every
    image, mask and labels file it names.

    Every named file exists (paths relative to the scans table's folder); a NIfTI image
    has its BIDS-PET sidecar; image and mask headers are within ``limits.image_voxels``;
    the labels of a mask and of its labels table agree; no on-treatment scan is dated
    before treatment start (:func:`check_scan_days`).
    """
    if "voi_table" in section:
        path = str(section["voi_table"])
        columns = section.get("columns")

        def rename(text: pd.DataFrame, schema: dict) -> tuple[pd.DataFrame, list]:
            return rename_voi_columns(text, columns, file=path, known=schema["properties"]), []

        voi, _ = found.table(path, "tables/pet_voi", "PET VOI table", "pet", prepare=rename)
        if voi is not None:
            check_scan_days(voi, section["voi_table"], found)
        return
    scans_path = Path(section["scans"])
    scans, _ = found.table(scans_path, "tables/pet_scans", "PET scans table", "pet")
    if scans is None:
        return
    check_scan_days(scans, scans_path, found)
    labels_cache: dict[tuple[str, str], pd.DataFrame | None] = {}
    for row, record in enumerate(scans.to_dict("records"), start=1):
        paths = {}
        for column in BY_NAME["pet"].path_columns("scans"):
            value = record.get(column)
            if value is None or pd.isna(value):
                continue  # an empty required cell is already a schema problem
            path = resolve_path(scans_path.parent, value)
            if not path.exists():
                found.add(
                    Problem(
                        str(scans_path),
                        row,
                        column,
                        value,
                        "an existing file or folder (relative paths resolve "
                        f"from the scans table's folder; looked for '{path}')",
                    )
                )
                continue
            paths[column] = path
        if "image" in paths:
            image = paths["image"]
            if image.is_dir():
                for file in sorted(p for p in image.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    found.record(file, "pet", "PET DICOM file")
            else:
                found.record(image, "pet", "PET image")
                if image.name.lower().endswith((".nii", ".nii.gz")) and not sidecar_path(image).is_file():
                    found.add(
                        f"PET image '{image}' has no BIDS-PET sidecar: expected '{sidecar_path(image)}' with "
                        f"InjectedRadioactivity, InjectionStart, ... (scans table '{scans_path}', row {row}, column 'image')"
                    )
                elif sidecar_path(image).is_file():
                    found.record(sidecar_path(image), "pet", "BIDS-PET sidecar")
            _check_image_header(image, "PET image", found, "image", (scans_path, row))
        kind = "nifti"
        if "mask" in paths:
            try:
                kind, mask_path = mask_file(paths["mask"])
            except InputError as error:
                found.add(f"{error} (scans table {scans_path}, row {row}, column 'mask')")
                paths.pop("mask")
        labels = None
        if "labels" in paths:
            key = str(paths["labels"])
            found.record(key, "pet", "PET labels table")
            if (key, kind) not in labels_cache:
                labels_cache[(key, kind)] = None
                with found.capture():
                    labels_cache[(key, kind)] = read_labels_table(key, kind)
                    found.record(key, "pet", "PET labels table", len(labels_cache[(key, kind)]))
            labels = labels_cache[(key, kind)]
        if "mask" in paths and kind != "nifti":
            found.record(mask_path, "pet", f"{'RTSTRUCT' if kind == 'rtstruct' else 'DICOM SEG'} mask")
            if labels is not None:
                with found.capture():
                    _, available = dicom_mask_names(mask_path)
                    unknown = [name for name in labels["label"] if name not in available]
                    if unknown:
                        what = "ROI" if kind == "rtstruct" else "segment (SegmentLabel or SegmentNumber)"
                        found.add(
                            f"labels table '{paths['labels']}' lists {unknown[:20]} (column 'label'), but {kind.upper()} "
                            f"'{mask_path}' has no such {what}; it has: {sorted(available)[:50]}"
                        )
        elif "mask" in paths:
            mask_path = paths["mask"]
            found.record(mask_path, "pet", "label mask")
            if _check_image_header(mask_path, "label mask", found, "mask", (scans_path, row)) and labels is not None:
                with found.capture():
                    mask = read_label_map(mask_path)
                    if not mask.world_space and not section.get("adopt_pet_grid_for_unoriented_masks", False):
                        found.add(
                            f"label mask '{mask_path}' has no world space (NIfTI sform_code and qform_code are both "
                            "0), so its position relative to the PET is unknown; re-export it with its scanner-space "
                            "affine, or, if it was drawn voxel by voxel on its PET, set "
                            f"pet.adopt_pet_grid_for_unoriented_masks: true (scans table {scans_path}, row {row}, "
                            "column 'mask')"
                        )
                    present = set(present_labels(mask.labels).tolist())
                    listed = set(labels["label"].astype(int))
                    if present - listed:
                        found.add(
                            f"label mask '{mask_path}' holds label(s) {sorted(present - listed)[:20]} that are not in "
                            f"the labels table '{paths['labels']}' (column 'label'); expected every mask label described"
                        )
                    if listed - present:
                        found.add(
                            f"labels table '{paths['labels']}' lists label(s) {sorted(listed - present)[:20]} (column "
                            f"'label') that do not occur in mask '{mask_path}'"
                        )


def check_scan_days(table: pd.DataFrame, path: str | os.PathLike, found: Collector) -> None:
    """An on-treatment scan must not be dated before treatment start (scan_day < 0)."""
    if not {"timepoint", "scan_day"} <= set(table.columns):
        return
    early = (table["timepoint"] == "on_treatment") & (table["scan_day"].astype(float) < 0)
    for index in table.index[early.fillna(False).to_numpy(bool)]:
        found.add(
            Problem(
                str(path),
                int(index) + 1,
                "scan_day",
                float(table.at[index, "scan_day"]),
                "scan_day >= 0 for an on_treatment scan (a scan before treatment start is a baseline scan; "
                "scan_day counts days from treatment start)",
            )
        )
