"""Header names of per-VOI statistics exports, mapped to the VOI table's own columns.

Reading software writes its own headers (LIFEx ``CONVENTIONAL_SUVbwmax``, 3D Slicer
``Maximum [{SUVbw}g/ml]``); the cohort key ``pet.columns`` maps them to the columns of
``src/contexture/schemas/tables/pet_voi.schema.yaml`` before the table is validated, the way
``ihc.columns`` does for QuPath exports. ``pet.columns.preset`` names one of the shipped
:data:`PRESETS`; every other key of ``pet.columns`` is one of our columns with the export's
header (or a list of headers, the first present wins), and overrides the preset.

Headers are compared after trimming, collapsing runs of white space and case folding, and
without the `` (1)``, `` (2)`` suffix 3D Slicer appends to make repeated names unique (two
plugins both computing a volume). Only renames are ever made, never unit conversions: a
preset lists only headers already in our units (body-weight SUV, mL), so an export in
other units (Slicer's ``Maximum [Bq/ml]``, ``Volume [mm3]``; LIFEx's lean-body-mass
``SUVlbm``) is not matched and the table is refused for its missing ``suvmax``.

Sources of the preset names:

* LIFEx (Nioche et al., Cancer Res 2018; user guide v6 and the radiomic-features pages of
  lifexsoft.org): conventional indices ``CONVENTIONAL_SUVbwmax``/``..mean`` (earlier
  versions ``CONVENTIONAL_SUVmax``/``..mean``), shape ``SHAPE_Volume(mL)`` and
  ``SHAPE_Volume(vx)``. LIFEx's SUVpeak columns name their sphere (0.5 or 1 mL) and are
  left to an explicit mapping, so that the sphere is chosen knowingly.
* 3D Slicer Segment Statistics (``SegmentStatisticsLogic.getHeaderNames``: the DICOM code
  meaning of the measurement and its UCUM unit code in brackets; Slicer's own test expects
  ``Volume [mm3] (1)``): ``Segment``, ``Maximum [{SUVbw}g/ml]``, ``Mean [{SUVbw}g/ml]``,
  ``Volume [cm3]`` (1 cm^3 = 1 mL), ``Number of voxels [voxels]``; with the PET extension's
  plugin (QIICR PETVolumeSegmentStatisticsPlugin) also ``Volume [ml]`` and
  ``Peak Value Within ROI [{SUVbw}g/ml]``. Units are those of a PET volume loaded as
  SUVbw by the PET DICOM extension.

With a preset, the export's other columns (LIFEx's texture indices, Slicer's minimum,
median, ...) are dropped and named in the log; without one, a column the VOI table does not
know is refused as for any input table (a misspelt ``suvmx`` is not lost silently).

Neither tool writes the patient, the timepoint, the scan day or the organ site: those
columns are added to the export (or the exports of several scans concatenated) by the user.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pandas as pd

from contexture.errors import InputError

__all__ = ["PRESETS", "normalize_header", "resolve_voi_columns", "rename_voi_columns"]

# Our column -> the export's headers, in order of preference.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "lifex": {
        "suvmax": ("CONVENTIONAL_SUVbwmax", "CONVENTIONAL_SUVmax"),
        "suvmean": ("CONVENTIONAL_SUVbwmean", "CONVENTIONAL_SUVmean"),
        "volume_ml": ("SHAPE_Volume(mL)",),
        "voxels": ("SHAPE_Volume(vx)",),
    },
    "slicer": {
        "lesion_id": ("Segment",),
        "suvmax": ("Maximum [{SUVbw}g/ml]",),
        "suvmean": ("Mean [{SUVbw}g/ml]",),
        "suvpeak": ("Peak Value Within ROI [{SUVbw}g/ml]",),
        "volume_ml": ("Volume [ml]", "Volume [cm3]"),
        "voxels": ("Number of voxels [voxels]",),
    },
}

log = logging.getLogger(__name__)

_SLICER_SUFFIX = re.compile(r"\s\(\d+\)$")


def normalize_header(name: str) -> str:
    """A header as compared: trimmed, white space collapsed, case folded, Slicer's `` (n)`` dropped."""
    text = " ".join(str(name).split())
    return _SLICER_SUFFIX.sub("", text).casefold()


def _candidates(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def resolve_voi_columns(header: list[str], columns: dict | None, *, file: str) -> dict[str, str]:
    """``{export header: our column}`` for the headers ``pet.columns`` maps.

    For each of our columns, the first of its candidate headers present in ``header`` is
    taken (explicit entries of ``columns`` before the preset's). A column the export
    already has under our own name is kept and the preset's alias for it ignored. Raises
    :class:`InputError` naming the file and the column when an explicitly mapped header is
    absent, when our column is both mapped and present under its own name, or when two of
    our columns would take one header.
    """
    columns = dict(columns or {})
    preset = columns.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise InputError(f"pet.columns.preset '{preset}' is not a shipped preset; expected one of {sorted(PRESETS)}")
    present: dict[str, str] = {}
    for name in header:
        present.setdefault(normalize_header(name), name)
    ours = {normalize_header(name) for name in header}
    wanted = {column: _candidates(names) for column, names in PRESETS.get(preset, {}).items()}
    explicit = {column: _candidates(names) for column, names in columns.items()}
    problems = []
    mapping: dict[str, str] = {}
    for column in sorted(set(wanted) | set(explicit)):
        names = explicit.get(column, wanted.get(column, ()))
        match = next((present[normalize_header(n)] for n in names if normalize_header(n) in present), None)
        if column in explicit:
            if match is None:
                problems.append(f"  - pet.columns.{column}: none of {list(names)} found")
                continue
            if normalize_header(column) in ours and normalize_header(match) != normalize_header(column):
                problems.append(
                    f"  - pet.columns.{column}: the export has both '{match}' and a '{column}' column; "
                    "remove one or the mapping"
                )
                continue
        elif match is None or normalize_header(column) in ours:
            continue  # a preset alias absent, or the export already has our column
        if match in mapping:
            problems.append(f"  - header '{match}' is mapped to both '{mapping[match]}' and '{column}'")
            continue
        mapping[match] = column
    if problems:
        raise InputError(
            f"PET VOI table '{file}': pet.columns does not fit its header; found columns {header}:\n"
            + "\n".join(problems)
        )
    return {name: column for name, column in mapping.items() if name != column}


def rename_voi_columns(
    table: pd.DataFrame, columns: dict | None, *, file: str, known: Iterable[str] = ()
) -> pd.DataFrame:
    """``table`` with the export's headers renamed to ours (:func:`resolve_voi_columns`).

    With a preset, columns not in ``known`` (the VOI table's columns) are then dropped and
    logged: they are the software's other statistics.
    """
    if not columns:
        return table
    renamed = table.rename(columns=resolve_voi_columns([str(c) for c in table.columns], columns, file=file))
    known = set(known)
    if columns.get("preset") and known:
        dropped = [c for c in renamed.columns if c not in known]
        if dropped:
            log.info("PET VOI table '%s': %d column(s) not used (pet.columns.preset): %s", file, len(dropped), dropped)
            renamed = renamed.drop(columns=dropped)
    return renamed
