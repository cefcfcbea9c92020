"""Report captions of the survival stage: Kaplan-Meier curves, Cox forest plot and tables."""

from __future__ import annotations

__all__ = ["FACTS"]

import pandas as pd

from contexture.captioning import Cohort, Facts, format_p, matching_row, number


def _landmark(row) -> str:
    """', landmark at 12 weeks' for a landmark row, else ''."""
    weeks = row.get("landmark_weeks")
    return "" if weeks is None or pd.isna(weeks) else f", landmark at {float(weeks):g} weeks"


def _km(endpoint: str) -> Facts:
    def facts(c: Cohort, name: str) -> tuple[str, str]:
        km = c.table("tables/survival_km.tsv")
        logrank = c.table("tables/survival_logrank.tsv")
        title = {"pfs": "Progression-free survival", "os": "Overall survival"}[endpoint] + " (Kaplan-Meier)"
        everyone = matching_row(km, endpoint=endpoint, stratifier="all")
        if everyone is None:
            return title, "n = 0 patients with follow-up"
        text = f"n = {int(everyone['n'])} patients, {int(everyone['events'])} events"
        rows = logrank[(logrank["endpoint"] == endpoint) & (logrank["test"] == "log-rank")] if len(logrank) else logrank
        tests = [
            f"{row['stratifier']} (n = {int(row['n'])}{_landmark(row)}) {format_p(row['p'])}"
            for _, row in rows.iterrows()
        ]
        if tests:
            text += "; log-rank test: " + "; ".join(tests)
        return title, text

    return facts


def _forest(c: Cohort, name: str) -> tuple[str, str]:
    cox = c.table("tables/survival_cox.tsv")
    title = "Cox proportional-hazards models"
    if cox.empty:
        return title, "n = 0 patients; no model fitted"
    rows = [
        f"{row['endpoint']} {row['term']} ({row['scale']}{_landmark(row)}) HR {number(row['hr'])}, {format_p(row['p'])}"
        for _, row in cox[cox["model"] == "univariable"].iterrows()
    ]
    return (
        title,
        f"n = {int(cox['n'].max())} patients; univariable Cox, Wald test: " + "; ".join(rows),
    )


def _tables(c: Cohort, name: str) -> tuple[str, str]:
    km = c.table("tables/survival_km.tsv")
    parts = [
        f"{row['endpoint']} n = {int(row['n'])}, {int(row['events'])} events, median {number(row['median_months'], 1)} months"
        for _, row in km[km["stratifier"] == "all"].iterrows()
    ]
    summary = "; ".join(parts) or "n = 0 patients"
    if name == "survival_logrank.tsv":
        logrank = c.table("tables/survival_logrank.tsv")
        return "Log-rank tests", f"{summary}; {len(logrank)} tests (log-rank and trend)"
    if name == "survival_cox.tsv":
        cox = c.table("tables/survival_cox.tsv")
        models = cox[["endpoint", "model"]].drop_duplicates() if len(cox) else cox
        return "Cox models", f"{summary}; {len(models)} Cox models, {len(cox)} terms (Wald tests)"
    return "Kaplan-Meier estimates", summary


FACTS: dict[str, Facts] = {
    "survival_km_pfs.png": _km("pfs"),
    "survival_km_os.png": _km("os"),
    "survival_cox_forest.png": _forest,
    "survival_km.tsv": _tables,
    "survival_logrank.tsv": _tables,
    "survival_cox.tsv": _tables,
}
