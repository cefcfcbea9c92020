"""Methods paragraphs per stage, filled from the config and the run's own outputs.

Each function takes the cohort's results folder and its config section and returns a
paragraph (Markdown) or ``""`` when the stage did not run. Numbers (patients, lanes
excluded, models fitted) are read from the outputs, so the text always matches the run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contexture import DAYS_PER_MONTH


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, sep="\t") if path.is_file() else None


def clinical_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Patients and follow-up definitions."""
    patients = _read(cohort_dir / "tables" / "patients.tsv")
    if patients is None:
        return ""
    n = len(patients)
    text = [f"## Patients and follow-up\n\nThe analysis included {n} patients."]
    if patients["os_months"].notna().any():
        text.append(
            "Progression-free survival (PFS) was measured from the start of treatment to "
            "progression or death, whichever came first, and overall survival (OS) to death; "
            "patients without an event were censored at their last follow-up. Durations in days "
            f"were converted to months by dividing by {DAYS_PER_MONTH} (365.25 / 12)."
        )
    return " ".join(text)


STAGES = (clinical_paragraph,)


def paragraphs(cohort_dir: str | Path, cohort_config: dict) -> list[str]:
    """Every stage's methods paragraph for a cohort, in the order of the analysis."""
    cohort_dir = Path(cohort_dir)
    return [stage(cohort_dir, cohort_config) for stage in STAGES]
