"""Raw-input checks of IHC slide sheets, QuPath exports and density tables (rule ``validate_inputs``).

Called through :data:`contexture.modalities.MODALITIES` by
:func:`contexture.inputs.validate_cohort_inputs`, which gathers every problem of every
modality before any analysis runs (docs/validation.md).
"""

from __future__ import annotations

__all__ = ["check_ihc_inputs"]

from pathlib import Path

import pandas as pd

from contexture.errors import Problem
from contexture.inputs import Collector, resolve_path
from contexture.io import qupath


def check_ihc_inputs(section: dict, found: Collector) -> None:
    """The density table, the Immunoscore reference, or the slide sheet and its QuPath exports.

    Every export the sheet names exists, is within ``limits.qupath_mb`` and has the
    required columns in its header (header only: the exports can be gigabytes); a header
    in pixels needs a pixel size (the row's ``pixel_size_um``, else ``ihc.pixel_size_um``).
    """
    if "densities" in section:
        found.table(section["densities"], "tables/ihc_densities", "IHC density table", "ihc")
    reference = (section.get("immunoscore") or {}).get("reference")
    if reference:
        found.table(reference, "tables/ihc_immunoscore_reference", "Immunoscore reference table", "ihc")
    if "slides" not in section:
        return
    sheet_path = Path(section["slides"])
    sheet, _ = found.table(sheet_path, "tables/ihc_slides", "IHC slide sheet", "ihc")
    if sheet is None:
        return
    aliases = section.get("columns") or None
    exports = (
        ("cells", "QuPath detection export", qupath.DETECTION_COLUMNS, ("image",)),
        ("annotations", "QuPath annotation export", qupath.ANNOTATION_COLUMNS, ("name",)),
    )
    for row, record in enumerate(sheet.to_dict("records"), start=1):
        pixel_size = record.get("pixel_size_um")
        if pixel_size is None or pd.isna(pixel_size):
            pixel_size = section.get("pixel_size_um")
        for column, what, required, optional in exports:
            value = record.get(column)
            if value is None or pd.isna(value):
                continue
            path = resolve_path(sheet_path.parent, value)
            if not path.is_file():
                found.add(
                    Problem(
                        str(sheet_path),
                        row,
                        column,
                        value,
                        f"an existing {what} (relative paths resolve from the sheet's folder; looked for '{path}')",
                    )
                )
                continue
            found.record(path, "ihc", what)
            if found.too_big(path, "qupath_mb", what):
                continue
            with found.capture():
                header = qupath.read_header(path, what=what)
                columns = qupath.resolve_columns(header, required, optional, aliases, file=str(path), what=what)
                qupath.unit_scales(columns, pixel_size, file=str(path), what=what)
