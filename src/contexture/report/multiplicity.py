"""How many tests a run made, family by family, and which families were adjusted.

A reviewer's first question of a biomarker paper with dozens of p values is how many were
computed and which were corrected (ASA statement on p-values, Wasserstein & Lazar 2016,
principle 4: "proper inference requires full reporting and transparency"). This module
counts, from the run's own result tables, the rows that carry a p value in each family of
tests, and states the adjustment the table holds: Benjamini–Hochberg ``q`` values where
the stage computes them (within the family the stage uses), otherwise none — those p
values are nominal and the analyses exploratory.

A family is one table, split by the columns the stage adjusts within (or, for tables
without adjustment, by the columns a reader uses to find a test). Families are declared
here once (:data:`FAMILIES`); the counts and the adjustment come from the tables, so the
text follows what the run wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contexture.io import read_result_table

__all__ = ["FAMILIES", "BH", "Family", "family_counts", "multiplicity_paragraph"]

BH = "Benjamini–Hochberg"


@dataclass(frozen=True)
class Family:
    """A family of tests: the rows of ``table`` with a p value, split by ``by``.

    ``adjustment`` names the correction whose values are in ``q_column`` (within each
    ``by`` group, as the stage computes them); None: the stage does not adjust.
    """

    stage: str
    table: str
    what: str
    by: tuple[str, ...] = ()
    adjustment: str | None = None
    q_column: str = "q"


# In the order of the methods text (contexture.modalities.STAGES). The adjusted families'
# `by` is the grouping of the code that fills q: toxicity.analysis.toxicity_analysis (BH
# within each test), signatures.expression.adjust_families (feature type x comparison) and
# signatures.expression.spearman_correlations (all pairs).
FAMILIES: tuple[Family, ...] = (
    Family("signatures", "tables/expression_changes.tsv", "changes in gene and signature expression", ("feature_type", "comparison"), BH),
    Family("signatures", "tables/expression_correlations.tsv", "chemokine/cytokine–T-cell gene correlations (Spearman)", (), BH),
    Family("pet", "tables/pet_models.tsv", "CD8-PET mixed-model and rank tests", ("analysis",)),
    Family("pet", "tables/pet_dose_comparison.tsv", "dose comparisons of tracer uptake", ("tissue",)),
    Family("ihc", "tables/ihc_pet_correlation.tsv", "CD8 density–SUVmax correlations (Kendall's tau-b)", ("timepoint",)),
    Family("ihc", "tables/ihc_paired_change_test.tsv", "paired changes of CD8 density (Wilcoxon signed-rank)"),
    Family("response", "tables/classifier.tsv", "response classifier AUC (permutation test)"),
    Family("toxicity", "tables/toxicity.tsv", "toxicity tests", ("test",), BH),
    Family("survival", "tables/survival_logrank.tsv", "log-rank tests", ("endpoint",)),
    Family("survival", "tables/survival_cox.tsv", "Cox regression terms", ("endpoint",)),
)  # fmt: skip


def _tested(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` that are tests: those with a p value."""
    return table[table["p"].notna()] if "p" in table.columns else table.iloc[0:0]


def _adjusted(tested: pd.DataFrame, family: Family) -> bool:
    """Whether every test of the family carries its adjusted value (the stage adjusted it)."""
    return family.adjustment is not None and family.q_column in tested and tested[family.q_column].notna().all()


def family_counts(cohort_dir: str | Path) -> pd.DataFrame:
    """One row per family and group with tests in the run: stage, table, family, group, n_tests, adjustment.

    ``group`` joins the family's ``by`` values with " × " (``""`` for an unsplit family);
    ``adjustment`` is ``""`` for a family whose p values are not adjusted. Tables absent
    from the run, or without a test, give no row.
    """
    rows = []
    for family in FAMILIES:
        path = Path(cohort_dir) / family.table
        if not path.is_file():
            continue
        tested = _tested(read_result_table(path))
        if tested.empty:
            continue
        adjustment = family.adjustment if _adjusted(tested, family) else ""
        groups = tested.groupby(list(family.by), sort=False) if family.by else [((), tested)]
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            rows.append(
                {
                    "stage": family.stage,
                    "table": Path(family.table).name,
                    "family": family.what,
                    "group": " × ".join(_label(k) for k in key),
                    "n_tests": len(group),
                    "adjustment": adjustment,
                }
            )
    return pd.DataFrame(rows, columns=["stage", "table", "family", "group", "n_tests", "adjustment"])


def _family_line(counts: pd.DataFrame) -> str:
    """One table's Markdown bullet: its tests, by group, and their adjustment."""
    first = counts.iloc[0]
    total = int(counts["n_tests"].sum())
    split = "; ".join(f"{row.group}: {row.n_tests:,}" for row in counts.itertuples(index=False) if row.group)
    what = f"{first['family'][0].upper()}{first['family'][1:]} (`{first['table']}`): {total:,} {_tests(total)}"
    if not first["adjustment"]:
        return (
            f"- {what}{f' ({split})' if split else ''}; not adjusted for multiplicity (nominal p values; exploratory)."
        )
    if len(counts) > 1:
        families = f" in {len(counts)} families ({split}), adjusted within each family"
    else:
        families = f" in one family{f' ({split})' if split else ''}, adjusted within it"
    return f"- {what}{families} by {first['adjustment']} (false discovery rate; column `{_q_column(first)}`)."


def _q_column(row) -> str:
    return next(f.q_column for f in FAMILIES if Path(f.table).name == row["table"])


def _tests(n: int) -> str:
    return "test" if n == 1 else "tests"


def _label(value) -> str:
    return str(value).replace("_", " ")


def multiplicity_paragraph(cohort_dir: str | Path) -> str:
    """The methods text's multiplicity section (``""`` when the run made no test).

    Counts are the rows with a p value in each family's table (:func:`family_counts`).
    """
    counts = family_counts(cohort_dir)
    if counts.empty:
        return ""
    total = int(counts["n_tests"].sum())
    adjusted = int(counts.loc[counts["adjustment"] != "", "n_tests"].sum())
    lines = [_family_line(group) for _, group in counts.groupby(["stage", "table"], sort=False)]  # FAMILIES order
    if adjusted == total:
        summary = "all of them were adjusted for multiple testing within their family."
    else:
        summary = (
            f"{adjusted:,} of them were adjusted for multiple testing within their family, and the other "
            f"{total - adjusted:,} are nominal: those analyses are exploratory."
        )
    return (
        "## Multiplicity\n\n"
        f"The run computed {total:,} p values; {summary} No correction was made across families, endpoints or "
        "stages.\n\n" + "\n".join(lines)
    )
