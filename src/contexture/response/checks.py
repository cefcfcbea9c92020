"""Raw-input checks of the RECIST measurement table, run by the rule ``validate_inputs``.

Called through :data:`contexture.modalities.MODALITIES` by
:func:`contexture.inputs.validate_cohort_inputs`, which gathers every problem of every
modality before any analysis runs (docs/validation.md).
"""

from __future__ import annotations

from contexture.inputs import Collector
from contexture.response.recist import check_measurements


def check_recist_inputs(path: str, found: Collector) -> None:
    """The RECIST measurement table: its row schema, then RECIST 1.1's rules on the measurements."""
    typed, clean = found.table(path, "tables/recist", "RECIST table", "recist")
    if clean:
        for problem in check_measurements(typed, str(path)):
            found.add(problem)
