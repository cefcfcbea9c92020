"""Methods paragraph of the toxicity stage: irAEs against baseline biomarkers, organ uptake.

Options are the run's ``response.toxicity`` section; the exact-test limit, the minimum
group size and the confidence level are the constants :mod:`contexture.toxicity.analysis`
used; patient counts come from ``tables/toxicity.tsv``.
"""

from __future__ import annotations

__all__ = ["MIN_PER_GROUP", "methods_paragraph"]

from pathlib import Path

import pandas as pd

from contexture.io import read_result_table
from contexture.stats.rank_tests import EXACT_LIMIT
from contexture.toxicity.analysis import CONF_LEVEL, MIN_PER_GROUP


def _span(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return f"{low}" if low == high else f"{low}-{high}"


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Toxicity analysis (``""`` when ``tables/toxicity.tsv`` is absent)."""
    path = Path(cohort_dir) / "tables" / "toxicity.tsv"
    if not path.is_file():
        return ""
    table = read_result_table(path)
    options = cohort_config["response"]["toxicity"]
    split = options["high_low_split"]
    split_text = "the median" if split == "median" else f"the {split:g} quantile"
    level = f"{CONF_LEVEL:.0%}"
    tested = table[table["test"].isin(["mann_whitney", "fisher_exact"])]
    text = [
        "## Toxicity\n\n"
        f"Immune-related adverse events ({', '.join(f'`{c}`' for c in options['columns'])}) were dichotomized as "
        f"severe (grade ≥ {options['severe_grade']:g}) or not. Baseline biomarkers were compared between the groups "
        "by two-sided Wilcoxon rank-sum (Mann-Whitney) tests (exact p values when both groups had fewer than "
        f"{EXACT_LIMIT} patients and no ties, otherwise the normal approximation with continuity correction; "
        f"Hodges-Lehmann shift with {level} CI), and by two-sided Fisher exact tests of biomarker high (above "
        f"{split_text}) vs low against severe toxicity (conditional maximum-likelihood odds ratio with exact "
        f"{level} CI), as in R's wilcox.test and fisher.test. P values were adjusted by Benjamini-Hochberg within "
        "each test family."
    ]
    if tested.empty:
        text.append(
            f"No test could be run (fewer than {MIN_PER_GROUP} patients with severe toxicity, or no biomarker "
            "available)."
        )
    else:
        for column, group in tested.groupby("toxicity", sort=False):
            text.append(
                f"For `{column}`, {group['biomarker'].nunique()} biomarker(s) were tested in "
                f"{_span(group['n_severe'])} patients with severe and {_span(group['n_other'])} with non-severe or "
                "no toxicity (per biomarker, patients with a value)."
            )
    organ = table[table["test"] == "uptake_change_mann_whitney"]
    if not organ.empty:
        text.append(
            "In organs with a PET reference region, the percentage change of SUVmean from baseline to the first "
            "on-treatment scan was compared between patients with and without an irAE in that organ by the "
            f"same rank-sum test ({', '.join(organ['toxicity'].str.split(':').str[-1])})."
        )
    return " ".join(text)
