"""Methods paragraph of the clinical stage: the patients and the follow-up definitions."""

from __future__ import annotations

__all__ = ["methods_paragraph"]

from pathlib import Path

from contexture import DAYS_PER_MONTH
from contexture.io import read_result_table

MONTHS_PER_YEAR = 12


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Patients and follow-up, from ``tables/patients.tsv`` (``""`` when it is absent)."""
    path = Path(cohort_dir) / "tables" / "patients.tsv"
    if not path.is_file():
        return ""
    patients = read_result_table(path)
    text = [f"## Patients and follow-up\n\nThe analysis included {len(patients)} patients."]
    if "os_months" in patients.columns and patients["os_months"].notna().any():
        text.append(
            "Progression-free survival (PFS) was measured from the start of treatment to "
            "progression or death, whichever came first, and overall survival (OS) to death; "
            "patients without an event were censored at their last follow-up. Durations in days "
            f"were converted to months by dividing by {DAYS_PER_MONTH} "
            f"({DAYS_PER_MONTH * MONTHS_PER_YEAR:g} / {MONTHS_PER_YEAR})."
        )
    return " ".join(text)
