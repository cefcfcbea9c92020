"""Report captions of the toxicity stage: baseline biomarkers by adverse-event severity."""

from __future__ import annotations

__all__ = ["FACTS"]

from contexture.captioning import Cohort, Facts, format_p


def _toxicity(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/toxicity.tsv")
    title = "Baseline biomarkers by immune-related adverse event severity"
    tests = table[table["test"] == "mann_whitney"] if "test" in table.columns else table.iloc[0:0]
    if tests.empty:
        return title, "n = 0 comparisons; too few severe events to test"
    first = tests.iloc[0]
    parts = [f"{row['biomarker']} {format_p(row['p'])}" for _, row in tests.iterrows()]
    return (
        title,
        f"n = {int(first['n_severe'])} severe vs {int(first['n_other'])} other patients "
        f"({first['toxicity']}); Mann-Whitney: " + ", ".join(parts),
    )


FACTS: dict[str, Facts] = {
    "toxicity_biomarkers.png": _toxicity,
    "toxicity.tsv": _toxicity,
}
