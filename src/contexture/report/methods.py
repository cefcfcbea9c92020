"""The methods text of a run: every stage's own paragraph, in the order of the analysis.

Each stage package has a ``methods`` module whose ``methods_paragraph(cohort_dir,
cohort_config)`` returns its paragraph (Markdown), or ``""`` when the stage did not run,
with every number taken from the cohort's validated config (schema defaults filled in by
:func:`contexture.config.validate_config`), from the package constant the code used, or
from the run's own tables. This module only joins them: the stages and their order come
from :data:`contexture.modalities.STAGES`; the multiplicity section, which counts every
stage's tests, comes last (:mod:`contexture.report.multiplicity`).
"""

from __future__ import annotations

__all__ = ["paragraphs"]

import importlib
from pathlib import Path

from contexture.modalities import STAGES
from contexture.report.multiplicity import multiplicity_paragraph


def paragraphs(cohort_dir: str | Path, cohort_config: dict) -> list[str]:
    """Every stage's methods paragraph for a cohort, in the order of :data:`STAGES`, then
    the multiplicity section (``""`` for a stage that did not run or a run without tests)."""
    cohort_dir = Path(cohort_dir)
    stages = [
        importlib.import_module(f"contexture.{stage}.methods").methods_paragraph(cohort_dir, cohort_config)
        for stage in STAGES
    ]
    return [*stages, multiplicity_paragraph(cohort_dir)]
