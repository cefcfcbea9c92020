"""Raw-input checks of PET scans tables and VOI tables (rule ``validate_inputs``).

The scans table is schema-checked; every image, mask and labels file it names exists; a
NIfTI image has its BIDS-PET sidecar; a labels table is within ``limits.table_mb``; an
``on_treatment`` scan dated before treatment start (``scan_day < 0``) is an error (scans
table and VOI table). Every file is recorded for ``inputs.tsv``. Called through
:data:`contexture.modalities.MODALITIES` by :func:`contexture.inputs.validate_cohort_inputs`.

The images, masks and labels tables themselves are parsed once, by ``pet_quantify``
(issue 21: no raw file is parsed twice), which refuses a header over
``limits.image_voxels`` before reading voxels, a mask without world space, labels that
differ between a mask and its labels table, and an ROI or segment the file lacks, and
reports every refused scan of the cohort in one message
(:func:`contexture.pet.quantify.quantify_scans`). Checking them here too cost a second
parse of every file: a NIfTI mask's voxels, and every slice header of a DICOM series
(~1.2 ms a slice, ~0.5 s a whole-body series), on one core before any stage ran.
"""

from __future__ import annotations

__all__ = ["check_pet_inputs", "check_scan_days"]

import os
from pathlib import Path

import pandas as pd

from contexture.errors import Problem
from contexture.inputs import Collector, resolve_path
from contexture.io.pet_images import sidecar_path
from contexture.io.voi_columns import rename_voi_columns
from contexture.modalities import BY_NAME


def check_pet_inputs(section: dict, found: Collector) -> None:
    """The VOI table (its headers mapped by ``pet.columns``), or the scans table and every
    image, mask and labels file it names.

    Every named file exists (paths relative to the scans table's folder); a NIfTI image
    has its BIDS-PET sidecar; a labels table is within ``limits.table_mb``; no
    on-treatment scan is dated before treatment start (:func:`check_scan_days`). The
    files' contents are checked by ``pet_quantify`` (module docstring).
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
    sized: set[str] = set()  # labels tables, often shared by a patient's scans
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
        for column in ("image", "mask"):
            if column in paths and paths[column].is_dir():
                what = "PET DICOM file" if column == "image" else "PET mask file"
                for file in sorted(p for p in paths[column].rglob("*") if p.is_file() and not p.name.startswith(".")):
                    found.record(file, "pet", what)
        if "image" in paths and not paths["image"].is_dir():
            image = paths["image"]
            found.record(image, "pet", "PET image")
            if image.name.lower().endswith((".nii", ".nii.gz")) and not sidecar_path(image).is_file():
                found.add(
                    f"PET image '{image}' has no BIDS-PET sidecar: expected '{sidecar_path(image)}' with "
                    f"InjectedRadioactivity, InjectionStart, ... (scans table '{scans_path}', row {row}, column 'image')"
                )
            elif sidecar_path(image).is_file():
                found.record(sidecar_path(image), "pet", "BIDS-PET sidecar")
        if "mask" in paths and not paths["mask"].is_dir():
            found.record(paths["mask"], "pet", "PET mask")
        if "labels" in paths:
            labels = paths["labels"]
            found.record(labels, "pet", "PET labels table")
            if str(labels) not in sized:
                sized.add(str(labels))
                found.too_big(labels, "table_mb", "PET labels table")


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
