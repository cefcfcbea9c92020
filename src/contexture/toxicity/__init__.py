"""Toxicity stage: immune-related adverse event grade against baseline biomarkers and organ uptake.

:func:`analyse` is the entry point of rule ``response_toxicity``. The tests and their
R equivalents are in :mod:`contexture.toxicity.analysis`; the figure in
:mod:`contexture.toxicity.figures`.
"""

from __future__ import annotations

import pandas as pd


def analyse(
    patients: pd.DataFrame, references: pd.DataFrame | None, options: dict | None = None, labels: dict | None = None
):
    """``(tests, organ_changes, (figure, source))`` for the cohort's ``response.toxicity`` options.

    ``patients`` as ``tables/patients.tsv``; ``references`` the PET reference-region
    table (None without PET). The figure marks grades at or above ``severe_grade``.
    """
    # Imported here, not at the top: the report's caption collector imports every stage
    # package, and should not pay for scipy.stats and matplotlib (contexture.lazy).
    from contexture.toxicity.analysis import toxicity_analysis
    from contexture.toxicity.figures import toxicity_figure

    options = dict(options or {})
    table, plot, changes = toxicity_analysis(patients, references, options)
    return table, changes, toxicity_figure(plot, table, options["severe_grade"], labels)


__all__ = ["analyse"]
