"""Raw-input checks of the clinical table, run by the rule ``validate_inputs``.

Called through :data:`contexture.modalities.MODALITIES` by
:func:`contexture.inputs.validate_cohort_inputs`, which gathers every problem of every
modality before any analysis runs (docs/validation.md).
"""

from __future__ import annotations

__all__ = ["check_clinical_inputs"]

from contexture.clinical.follow_up import derive_follow_up
from contexture.inputs import Collector


def check_clinical_inputs(path: str, found: Collector) -> None:
    """The clinical table: its row schema, then the follow-up it implies (dates or durations)."""
    typed, clean = found.table(path, "tables/clinical", "clinical table", "clinical")
    if clean:
        with found.capture():
            derive_follow_up(typed, file=str(path))
