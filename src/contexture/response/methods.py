"""Methods paragraph of the response stage: RECIST 1.1, iRECIST, SITC resistance, rates.

The confirmation rule is the run's ``response`` section (``confirmation``,
``confirmation_days``); the confidence level of the rates is the ``ci_level`` column of
``tables/response_rates.tsv``.
"""

from __future__ import annotations

from pathlib import Path

from contexture.io import read_result_table


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Response and resistance (``""`` when ``tables/response_rates.tsv`` is absent)."""
    path = Path(cohort_dir) / "tables" / "response_rates.tsv"
    if not path.is_file():
        return ""
    rates = read_result_table(path)
    options = cohort_config["response"]
    if options["confirmation"]:
        confirmation = f"with confirmation of CR/PR (≥ {options['confirmation_days']:g} days)"
    else:
        confirmation = "without confirmation of CR/PR"
    levels = ", ".join(f"{level:.0%}" for level in sorted(rates["ci_level"].dropna().unique()))
    return (
        "## Response and resistance\n\n"
        f"Tumour response was classified by RECIST 1.1 (Eisenhauer et al. 2009) {confirmation}, "
        "and by iRECIST (Seymour et al. 2017); resistance categories follow the SITC "
        "definitions (Kluger et al. 2020). Objective response and disease control rates are given with exact "
        f"Clopper–Pearson {levels + ' ' if levels else ''}confidence intervals."
    )
