"""The methods text of a run: every stage's own paragraph, in the order of the analysis.

Each stage package has a ``methods`` module whose ``methods_paragraph(cohort_dir,
cohort_config)`` returns its paragraph (Markdown), or ``""`` when the stage did not run,
with every number taken from the cohort's validated config (schema defaults filled in by
:func:`contexture.config.validate_config`), from the package constant the code used, or
from the run's own tables. This module only joins them: the stages and their order come
from :data:`contexture.modalities.STAGES`.
"""

from __future__ import annotations

__all__ = ["paragraphs"]

import importlib
from pathlib import Path

from contexture.modalities import STAGES


def paragraphs(cohort_dir: str | Path, cohort_config: dict) -> list[str]:
    """Every stage's methods paragraph for a cohort, in the order of :data:`STAGES`."""
    cohort_dir = Path(cohort_dir)
    return [
        importlib.import_module(f"contexture.{stage}.methods").methods_paragraph(cohort_dir, cohort_config)
        for stage in STAGES
    ]
