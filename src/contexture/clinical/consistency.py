"""Contradictions inside the clinical table, found before any follow-up is derived.

The schema (``src/contexture/schemas/tables/clinical.schema.yaml``) checks each cell on its
own; :func:`follow_up_contradictions` checks the cells of a row against each other, so
that a table saying two different things about one patient is refused rather than
analysed with one of them silently winning (issue 15, "No silent wrong answers"):

* **durations against dates.** Where a row gives a duration or event flag and also the
  dates it is derived from, both must agree: ``pfs_days`` / ``os_days`` within
  :data:`TOLERANCE_DAYS` of the days from ``treatment_start_date``, and ``pfs_event`` /
  ``os_event`` equal to what the dates record. The dates are read with the convention of
  :func:`contexture.clinical.follow_up.derive_follow_up`: OS ends at death (event) or
  last follow-up (censored); PFS at the earlier of progression and death (event) or at
  last follow-up (censored). A row's dates are compared only when they settle the
  endpoint: for PFS the table must have a ``progression_date`` column (an empty cell then
  means "no progression"), and an empty ``death_date`` means "alive" only when the table
  has that column.
* **PFS longer than OS** by more than :data:`TOLERANCE_DAYS`: PFS ends at death at the
  latest (PFS events include death; FDA Guidance for Industry, Clinical Trial Endpoints
  for the Approval of Cancer Drugs and Biologics, 2018), so it cannot outlast OS.
* **progression or death after the last follow-up** date: the last follow-up is the last
  date the patient's status is known, so no event can be dated after it.
* **an event flag without a time, or a time without an event flag**: a Kaplan-Meier or
  Cox fit needs both, and dropping the patient quietly would change the cohort.

The one-day tolerance absorbs the usual off-by-one of durations counted inclusively
(day of treatment start = day 1) against dates subtracted (= day 0).
Pure: a typed table in (:func:`contexture.io.validation.validate_frame`), a list of
:class:`contexture.errors.Problem` out, every one naming the file, the 1-based data row
and the column.
"""

from __future__ import annotations

__all__ = ["follow_up_contradictions"]

import numpy as np
import pandas as pd

from contexture.errors import Problem

TOLERANCE_DAYS = 1.0


def _days_from_start(table: pd.DataFrame, column: str) -> np.ndarray:
    """Days from ``treatment_start_date`` to ``column`` (NaN where either is missing)."""
    if column not in table.columns or "treatment_start_date" not in table.columns:
        return np.full(len(table), np.nan)
    return (table[column] - table["treatment_start_date"]).dt.days.to_numpy(dtype=float)


def _given(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def _date(table: pd.DataFrame, column: str, index: int) -> str:
    return str(table[column].iloc[index].date())


def _day(value: float) -> str:
    return f"{value:g}"


def follow_up_contradictions(table: pd.DataFrame, file: str = "clinical table") -> list[Problem]:
    """Every contradiction between the follow-up cells of each row (see the module docstring).

    ``table`` is the typed clinical table, rows in file order (row 1 = first data row).
    """
    table = table.reset_index(drop=True)
    problems: list[Problem] = []
    columns = set(table.columns)
    start_known = (
        table["treatment_start_date"].notna().to_numpy()
        if "treatment_start_date" in columns
        else np.zeros(len(table), bool)
    )
    progression = _days_from_start(table, "progression_date")
    death = _days_from_start(table, "death_date")
    last_seen = _days_from_start(table, "last_followup_date")
    has_progression, has_death, has_last = ~np.isnan(progression), ~np.isnan(death), ~np.isnan(last_seen)

    # What the dates say, where they settle the endpoint.
    os_known = start_known & (has_death | (has_last & ("death_date" in columns)))
    os_from_dates = np.where(has_death, death, last_seen)
    os_event_from_dates = has_death.astype(float)
    pfs_known = (
        start_known
        & ("progression_date" in columns)
        & (has_progression | has_death | (has_last & ("death_date" in columns)))
    )
    pfs_end = np.fmin(progression, death)
    pfs_from_dates = np.where(np.isnan(pfs_end), last_seen, pfs_end)
    pfs_event_from_dates = (~np.isnan(pfs_end)).astype(float)

    def reason(endpoint: str, row: int) -> str:
        if endpoint == "os":
            if has_death[row]:
                return f"death_date {_date(table, 'death_date', row)} is day {_day(death[row])} of treatment"
            return f"no death_date; last_followup_date {_date(table, 'last_followup_date', row)} is day {_day(last_seen[row])}"
        if not np.isnan(pfs_end[row]):
            column = "progression_date" if progression[row] == pfs_end[row] else "death_date"
            return f"{column} {_date(table, column, row)} is day {_day(pfs_end[row])} of treatment"
        return (
            "no progression_date or death_date; last_followup_date "
            f"{_date(table, 'last_followup_date', row)} is day {_day(last_seen[row])}"
        )

    effective = {}
    for endpoint, known, days_from_dates, event_from_dates in (
        ("pfs", pfs_known, pfs_from_dates, pfs_event_from_dates),
        ("os", os_known, os_from_dates, os_event_from_dates),
    ):
        days_column, event_column = f"{endpoint}_days", f"{endpoint}_event"
        days, event = _given(table, days_column), _given(table, event_column)
        disagree = known & ~np.isnan(days) & (np.abs(days - days_from_dates) > TOLERANCE_DAYS)
        for row in np.flatnonzero(disagree):
            problems.append(
                Problem(
                    file,
                    int(row) + 1,
                    days_column,
                    _day(days[row]),
                    f"{_day(days_from_dates[row])} (± {TOLERANCE_DAYS:g} day) as the dates of this row say: "
                    f"{reason(endpoint, row)}",
                )
            )
        for row in np.flatnonzero(known & ~np.isnan(event) & (event != event_from_dates)):
            problems.append(
                Problem(
                    file,
                    int(row) + 1,
                    event_column,
                    _day(event[row]),
                    f"{int(event_from_dates[row])} as the dates of this row say: {reason(endpoint, row)}",
                )
            )
        # What derive_follow_up will use: the given cell, else whatever the dates give.
        filled_days = np.where(np.isnan(days), days_from_dates, days)
        from_dates = np.where(np.isnan(days_from_dates), np.nan, event_from_dates)
        filled_event = np.where(np.isnan(event), from_dates, event)
        for row in np.flatnonzero(~np.isnan(filled_event) & np.isnan(filled_days)):
            problems.append(
                Problem(
                    file,
                    int(row) + 1,
                    days_column,
                    None,
                    f"a time for the {event_column} given in this row (got {event_column} "
                    f"{int(filled_event[row])} but no {days_column} and no dates to derive it from)",
                )
            )
        for row in np.flatnonzero(np.isnan(filled_event) & ~np.isnan(filled_days)):
            problems.append(
                Problem(
                    file,
                    int(row) + 1,
                    event_column,
                    None,
                    f"an event flag (1 = event, 0 = censored) for the {days_column} given in this row "
                    f"(got {days_column} {_day(filled_days[row])})",
                )
            )
        effective[endpoint] = (filled_days, ~np.isnan(days), disagree)

    (pfs_days, pfs_given, pfs_disagree), (os_days, os_given, os_disagree) = effective["pfs"], effective["os"]
    # Both from dates: a PFS beyond OS can only come from a progression after the last
    # follow-up, reported below at its date; a duration already reported is not repeated.
    longer = (pfs_given | os_given) & ~pfs_disagree & ~os_disagree & (pfs_days - os_days > TOLERANCE_DAYS)
    why = "PFS cannot outlast OS, which ends at death or at the last follow-up"
    for row in np.flatnonzero(longer):
        if pfs_given[row]:  # name the cell the user wrote
            source = "os_days" if os_given[row] else "the dates of this row"
            column, value = "pfs_days", pfs_days[row]
            expected = f"at most OS ({_day(os_days[row])} days from {source}) + {TOLERANCE_DAYS:g} day: {why}"
        else:
            column, value = "os_days", os_days[row]
            expected = (
                f"at least PFS ({_day(pfs_days[row])} days from the dates of this row) - {TOLERANCE_DAYS:g} day: {why}"
            )
        problems.append(Problem(file, int(row) + 1, column, _day(value), expected))

    if "last_followup_date" in columns:
        for column in ("progression_date", "death_date"):
            if column not in columns:
                continue
            after = (table[column] > table["last_followup_date"]).to_numpy(dtype=bool)
            for row in np.flatnonzero(after):
                problems.append(
                    Problem(
                        file,
                        int(row) + 1,
                        column,
                        _date(table, column, row),
                        f"a date on or before last_followup_date ({_date(table, 'last_followup_date', row)}): "
                        "nothing can be recorded after the last follow-up",
                    )
                )
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))
