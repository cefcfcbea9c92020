"""What every stage's report captions share: the cohort's tables, and how numbers are written.

Each stage's ``captions.py`` maps its result files to functions of (:class:`Cohort`,
file name) that return the caption's title and summary (see
``contexture.report.captions`` for how they reach ``snakemake --report``). Those
functions read the tables the stage wrote, through :class:`Cohort`, and format them
with the helpers here, so that every caption writes n and p the same way. Like
``contexture.plotting`` for figures, this module imports no stage and no report module,
so any stage may import it.
"""

from __future__ import annotations

__all__ = ["Cohort", "Facts", "format_p", "matching_row", "number", "patient_count"]

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from contexture.io import read_result_table


class Cohort:
    """Lazy, cached reading of a cohort's result tables (``results/{cohort}``).

    A table that does not exist reads as an empty DataFrame, so a caption can say
    "n = 0" or "test not run" instead of failing the report.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._tables: dict[str, pd.DataFrame] = {}

    def table(self, relative: str) -> pd.DataFrame:
        if relative not in self._tables:
            path = self.directory / relative
            self._tables[relative] = read_result_table(path) if path.exists() else pd.DataFrame()
        return self._tables[relative]

    def source(self, figure: str) -> pd.DataFrame:
        """The source data written beside ``figure`` (``figures/<stem>.source.tsv``)."""
        return self.table(f"figures/{Path(figure).stem}.source.tsv")


Facts = Callable[[Cohort, str], tuple[str, str]]
"""A caption's facts: (cohort, result file name) -> (title, summary)."""


def format_p(p: float | None) -> str:
    """``p = 0.031`` (two significant digits), ``p < 0.0001``, or ``p not computed``."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return "p not computed"
    p = float(p)
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.2g}"


def number(value: float, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or ``NA`` when missing."""
    return "NA" if pd.isna(value) else f"{float(value):.{digits}f}"


def patient_count(table: pd.DataFrame) -> int:
    """Distinct ``patient_id`` values, or the number of rows of a table without them."""
    return int(table["patient_id"].nunique()) if "patient_id" in table.columns else len(table)


def matching_row(table: pd.DataFrame, **match) -> pd.Series | None:
    """The first row whose columns equal ``match`` (compared as text), or None."""
    if table.empty:
        return None
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        if column not in table.columns:
            return None
        mask &= table[column].astype(str) == str(value)
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]
