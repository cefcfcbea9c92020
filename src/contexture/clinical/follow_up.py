"""Clinical stage: the validated patient table with follow-up as days, months and events.

Follow-up comes either as durations (``pfs_days``, ``pfs_event``, ``os_days``,
``os_event``) or as dates, from which durations are derived here:

* OS: from ``treatment_start_date`` to ``death_date`` (event) or else to
  ``last_followup_date`` (censored).
* PFS: to the earlier of ``progression_date`` and ``death_date`` (event), else censored
  at ``last_followup_date`` -- death without progression counts as a PFS event, as in
  RECIST-based trial endpoints (FDA Guidance for Industry, Clinical Trial Endpoints for
  the Approval of Cancer Drugs and Biologics, 2018).

Months are days / 30.4375 (:data:`contexture.DAYS_PER_MONTH`). A cohort without
follow-up still gets its table (survival columns empty) and runs every other analysis.
"""

from __future__ import annotations

__all__ = ["derive_follow_up"]

import numpy as np
import pandas as pd

from contexture import DAYS_PER_MONTH
from contexture.clinical.consistency import follow_up_contradictions
from contexture.errors import Problem, raise_problems

ENDPOINTS = ("pfs", "os")
DATE_COLUMNS = ("treatment_start_date", "progression_date", "death_date", "last_followup_date")


def _rows(table: pd.DataFrame, mask: pd.Series) -> list[int]:
    return [int(i) + 1 for i in np.flatnonzero(mask.to_numpy())]


def derive_follow_up(table: pd.DataFrame, file: str = "clinical table") -> pd.DataFrame:
    """Return ``table`` with ``{pfs,os}_{days,event,months}`` filled from durations or dates.

    ``table`` is the typed clinical table (:func:`contexture.io.validation.read_validated_table`).
    Durations given explicitly win over dates. Inconsistent dates (an event before
    treatment start, death before progression, follow-up dates missing) and rows that
    contradict themselves (:func:`contexture.clinical.consistency.follow_up_contradictions`:
    durations against dates, PFS beyond OS, events after the last follow-up, an event
    without a time) are reported together, each with row and column.
    """
    table = table.reset_index(drop=True).copy()
    problems: list[Problem] = follow_up_contradictions(table, file)  # before any cell is filled
    has_dates = "treatment_start_date" in table.columns
    if has_dates:
        start = table["treatment_start_date"]

        def days(column: str) -> pd.Series:
            if column not in table.columns:
                return pd.Series(np.nan, index=table.index)
            return (table[column] - start).dt.days.astype(float)

        death, progression, last_seen = days("death_date"), days("progression_date"), days("last_followup_date")
        for column, values in (
            ("death_date", death),
            ("progression_date", progression),
            ("last_followup_date", last_seen),
        ):
            for row in _rows(table, values < 0):
                problems.append(
                    Problem(
                        file,
                        row,
                        column,
                        str(table.loc[row - 1, column].date()),
                        "a date on or after treatment_start_date",
                    )
                )
        for row in _rows(table, (death < progression)):
            problems.append(
                Problem(
                    file,
                    row,
                    "progression_date",
                    str(table.loc[row - 1, "progression_date"].date()),
                    "progression on or before death_date",
                )
            )
        no_end = start.notna() & death.isna() & last_seen.isna()
        for row in _rows(table, no_end):
            problems.append(
                Problem(
                    file,
                    row,
                    "last_followup_date",
                    None,
                    "a last follow-up date when the patient is alive (no death_date)",
                )
            )
        os_days = death.fillna(last_seen)
        os_event = death.notna().astype("Int64").where(os_days.notna())
        pfs_end = pd.concat([progression, death], axis=1).min(axis=1)
        pfs_days = pfs_end.fillna(last_seen)
        pfs_event = pfs_end.notna().astype("Int64").where(pfs_days.notna())
        derived = {"os_days": os_days, "os_event": os_event, "pfs_days": pfs_days, "pfs_event": pfs_event}
        for column, values in derived.items():
            if column in table.columns:
                table[column] = table[column].where(table[column].notna(), values)
            else:
                table[column] = values
    problems.sort(key=lambda problem: problem.row or 0)
    raise_problems(problems, f"clinical table '{file}'")

    for endpoint in ENDPOINTS:
        for suffix, dtype in (("days", float), ("event", "Int64")):
            column = f"{endpoint}_{suffix}"
            if column not in table.columns:
                table[column] = pd.Series(np.nan if dtype is float else pd.NA, index=table.index, dtype=dtype)
        table[f"{endpoint}_months"] = table[f"{endpoint}_days"].astype(float) / DAYS_PER_MONTH
    for column in DATE_COLUMNS:
        if column in table.columns:
            table[column] = table[column].dt.strftime("%Y-%m-%d")
    return table.sort_values("patient_id", kind="stable").reset_index(drop=True)
