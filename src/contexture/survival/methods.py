"""Methods paragraph of the survival stage: Kaplan–Meier, log-rank, Cox, follow-up.

The interval type and level and the events-per-variable flag are the run's ``survival``
section read as the rule reads it (:meth:`~contexture.survival.analysis.SurvivalOptions.from_config`);
the scales of continuous covariates are the ``scale`` column of ``tables/survival_cox.tsv``.
"""

from __future__ import annotations

from pathlib import Path

from contexture.io import read_result_table
from contexture.stats.survival import SCALE_TEXT
from contexture.survival.analysis import SurvivalOptions

STANDARD_DEVIATION_SCALES = {SCALE_TEXT["sd_decrease"], SCALE_TEXT["sd_increase"]}


def _scale_text(cox) -> str:
    """'per standard deviation', plus any other continuous scale the Cox table used."""
    used = [s for s in dict.fromkeys(cox["scale"].dropna().astype(str)) if s in SCALE_TEXT.values()]
    others = [s for s in used if s not in STANDARD_DEVIATION_SCALES]
    if not others:
        return "per standard deviation"
    return " or ".join((["per standard deviation"] if len(others) < len(used) else []) + others)


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Survival analysis (``""`` when ``tables/survival_cox.tsv`` is absent)."""
    path = Path(cohort_dir) / "tables" / "survival_cox.tsv"
    if not path.is_file():
        return ""
    cox = read_result_table(path)
    options = SurvivalOptions.from_config(cohort_config["survival"])
    return (
        "## Survival analysis\n\n"
        f"Survival was estimated by Kaplan–Meier with Greenwood variance and '{options.conf_type}'-transformed "
        f"{options.conf_level:.0%} confidence intervals (the median's interval as in R's survfit), compared with the "
        "log-rank test, and modelled with Cox proportional hazards regression (Efron ties; Wald confidence "
        f"intervals); continuous biomarkers are reported {_scale_text(cox)}. Proportional hazards were checked "
        "with the scaled Schoenfeld residuals test (Grambsch & Therneau 1994, as R's cox.zph) and models with "
        f"fewer than {options.min_events_per_variable:g} events per variable are flagged (Peduzzi et al. 1996). "
        "Median follow-up is from the reverse Kaplan–Meier estimate."
    )
