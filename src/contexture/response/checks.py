"""Raw-input checks of the RECIST measurement table, run by the rule ``validate_inputs``.

Called through :data:`contexture.modalities.MODALITIES` by
:func:`contexture.inputs.validate_cohort_inputs`, which gathers every problem of every
modality before any analysis runs (docs/validation.md). The cohort's ``response`` options
decide two rules: ``units`` (a centimetre header is refused unless ``cm``, which
converts) and ``strict_selection`` (RECIST 1.1 section 4.2 target selection as errors).
"""

from __future__ import annotations

__all__ = ["check_recist_inputs"]

from contexture.inputs import Collector
from contexture.response.recist import (
    check_measurements,
    convert_units,
    header_unit_problems,
    scale_diameters,
    selection_problems,
    target_selection_warnings,
    unit_problems,
)


def check_recist_inputs(path: str, found: Collector) -> None:
    """The RECIST measurement table: its units, its row schema, then RECIST 1.1's rules on the measurements."""
    options = found.cohort.get("response") or {}
    units = options.get("units", "mm")

    def prepare(text, schema):
        return convert_units(text, units), header_unit_problems(text.columns, str(path), units)

    typed, clean = found.table(path, "tables/recist", "RECIST table", "recist", prepare=prepare)
    if clean:
        typed = scale_diameters(typed, units)
        problems = check_measurements(typed, str(path)) + unit_problems(typed, str(path))
        if options.get("strict_selection", False):
            problems += selection_problems(target_selection_warnings(typed), str(path))
        for problem in problems:
            found.add(problem)
