"""Survival stage: Kaplan-Meier, log-rank, Cox models and follow-up from tables/patients.tsv.

Entry points (what ``workflow/scripts/survival_*.py`` call): :func:`analyse_cohort`
(rule ``survival_analysis``) and :func:`survival_figures` (rule ``survival_figures``).
Methods and their R equivalents: :mod:`contexture.survival.analysis`; figures:
:mod:`contexture.survival.figures`.
"""

from __future__ import annotations

import pandas as pd

# The entry points import analysis (scipy.stats) and figures (matplotlib) when called, so
# that importing contexture.survival.captions (the report) costs neither: contexture.lazy.


def analyse_cohort(patients: pd.DataFrame, options: dict) -> dict[str, pd.DataFrame]:
    """Every survival table (``km``, ``logrank``, ``cox``, ``followup``, ``curves``) of a cohort.

    ``options`` is the cohort's ``survival`` config section
    (:meth:`~contexture.survival.analysis.SurvivalOptions.from_config`).
    """
    from contexture.survival.analysis import SurvivalOptions, analyse

    return analyse(patients, SurvivalOptions.from_config(options))


def survival_figures(
    km: pd.DataFrame, logrank: pd.DataFrame, cox: pd.DataFrame, curves: pd.DataFrame, labels: dict | None = None
) -> dict:
    """``{"km_pfs", "km_os", "forest": (figure, source)}``: a KM panel per endpoint and the Cox forest plot.

    ``labels``: the cohort's display names (``contexture.plotting.display_label``).
    """
    from contexture.survival.analysis import ENDPOINTS
    from contexture.survival.figures import forest_figure, km_figure

    panels = {f"km_{endpoint}": km_figure(curves, km, logrank, endpoint, labels) for endpoint in ENDPOINTS}
    return {**panels, "forest": forest_figure(cox, labels)}


__all__ = ["analyse_cohort", "survival_figures"]
