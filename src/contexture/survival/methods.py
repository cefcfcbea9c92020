"""Methods paragraph of the survival stage: Kaplan–Meier, log-rank, Cox, follow-up.

The interval type and level, the ties method, strata, landmark and the events-per-variable
flag are the run's ``survival`` section read as the rule reads it
(:meth:`~contexture.survival.analysis.SurvivalOptions.from_config`); the scales of
continuous covariates are the ``scale`` and ``term`` columns of ``tables/survival_cox.tsv``,
and the landmark is stated, with the columns it applied to, only when a row of the
log-rank or Cox table was analysed from it.
"""

from __future__ import annotations

__all__ = ["methods_paragraph"]

from pathlib import Path

import pandas as pd

from contexture.io import read_result_table
from contexture.stats.survival import SCALE_TEXT
from contexture.survival.analysis import SurvivalOptions


def _scale_text(cox) -> str:
    """Each continuous scale the Cox table used, with its terms."""
    rows = cox[cox["scale"].isin(SCALE_TEXT.values())] if "scale" in cox else cox.iloc[0:0]
    if rows.empty:
        return ""
    terms = rows["term"].astype(str) if "term" in rows else pd.Series("", index=rows.index)
    parts = [
        f"{scale} ({', '.join(dict.fromkeys(terms[rows['scale'] == scale]))})" if "term" in rows else scale
        for scale in dict.fromkeys(rows["scale"])
    ]
    return "; hazard ratios of continuous covariates are " + " and ".join(parts)


def _landmark_text(cohort_dir: Path, cox, weeks: float | None) -> str:
    """The landmark sentence, naming the columns analysed from it ("" when none was)."""
    columns = []
    for name, column in (("survival_logrank.tsv", "stratifier"), ("survival_cox.tsv", "term")):
        path = cohort_dir / "tables" / name
        table = cox if name == "survival_cox.tsv" else (read_result_table(path) if path.is_file() else None)
        if table is not None and "landmark_weeks" in table and len(table):
            columns += table.loc[table["landmark_weeks"].notna(), column].astype(str).tolist()
    if not columns or weeks is None:
        return ""
    return (
        f" Variables known only after the start of follow-up ({', '.join(dict.fromkeys(columns))}) were analysed "
        f"by landmark at {weeks:g} weeks: patients still in follow-up after the landmark, with time measured from "
        "it, to avoid guarantee-time bias (Anderson, Cain & Gelber 1983)."
    )


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Survival analysis (``""`` when ``tables/survival_cox.tsv`` is absent)."""
    cohort_dir = Path(cohort_dir)
    path = cohort_dir / "tables" / "survival_cox.tsv"
    if not path.is_file():
        return ""
    cox = read_result_table(path)
    options = SurvivalOptions.from_config(cohort_config["survival"])
    strata = f", stratified by {', '.join(options.strata)}" if options.strata else ""
    return (
        "## Survival analysis\n\n"
        f"Survival was estimated by Kaplan–Meier with Greenwood variance and '{options.conf_type}'-transformed "
        f"{options.conf_level:.0%} confidence intervals (the median's interval as in R's survfit), compared with the "
        f"log-rank test, and modelled with Cox proportional hazards regression ({options.ties.capitalize()} ties"
        f"{strata}; Wald confidence intervals){_scale_text(cox)}. Proportional hazards were checked "
        "with the scaled Schoenfeld residuals test (Grambsch & Therneau 1994, as R's cox.zph) and models with "
        f"fewer than {options.min_events_per_variable:g} events per variable are flagged (Peduzzi et al. 1996). "
        "Median follow-up is from the reverse Kaplan–Meier estimate."
        + _landmark_text(cohort_dir, cox, options.landmark_weeks)
    )
