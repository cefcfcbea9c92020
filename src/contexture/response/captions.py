"""Report captions of the response stage: RECIST figures and tables, and the classifier."""

from __future__ import annotations

__all__ = ["FACTS"]

import pandas as pd

from contexture.captioning import Cohort, Facts, format_p, matching_row, number, patient_count


def _orr(c: Cohort) -> str:
    row = matching_row(c.table("tables/response_rates.tsv"), criteria="RECIST 1.1", endpoint="ORR")
    if row is None:
        return ""
    return (
        f"; ORR {int(row['count'])}/{int(row['n'])} = {100 * float(row['rate']):.0f}% "
        f"(95% CI {100 * float(row['ci_low']):.0f}-{100 * float(row['ci_high']):.0f}%, Clopper-Pearson)"
    )


def _waterfall(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return "Best % change of the target-lesion sum", f"n = {len(source)} patients with a follow-up sum{_orr(c)}"


def _spider(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return (
        "Target-lesion sum over time",
        f"n = {source['patient_id'].nunique()} patients, {len(source)} assessments (no test)",
    )


def _swimmer(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return "Time on study and response per patient", f"n = {len(source)} patients{_orr(c)}"


def _classifier(c: Cohort, name: str) -> tuple[str, str]:
    row = matching_row(c.table("tables/classifier.tsv"), analysis="cv_auc")
    title = "Response classifier" + (" ROC curve" if name.endswith(".png") else "")
    if row is None or pd.isna(row.get("estimate")):
        return title, "n = 0 patients; classifier not fitted"
    return (
        title,
        f"n = {int(row['n'])} patients ({int(row['n_responders'])} responders); cross-validated AUC "
        f"{number(row['estimate'])} (95% CI {number(row['ci_low'])}-{number(row['ci_high'])}); "
        f"permutation test {format_p(row['p'])}",
    )


def _recist(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/recist_timepoints.tsv")
    return "RECIST time-point responses", f"n = {patient_count(table)} patients, {len(table)} assessments"


def _rates(c: Cohort, name: str) -> tuple[str, str]:
    rates = c.table("tables/response_rates.tsv")
    n = int(rates["n"].iloc[0]) if len(rates) else 0
    return "Response rates", f"n = {n} patients{_orr(c)}"


FACTS: dict[str, Facts] = {
    "best_percent_change_waterfall.png": _waterfall,
    "target_sum_change_spider.png": _spider,
    "response_swimmer.png": _swimmer,
    "response_classifier_roc.png": _classifier,
    "classifier.tsv": _classifier,
    "recist_timepoints.tsv": _recist,
    "response_rates.tsv": _rates,
}
