"""Contradictory clinical rows (issue 15): each rule, all problems at once, row and column named."""

import textwrap

import pytest

from contexture.clinical.consistency import follow_up_contradictions
from contexture.clinical.follow_up import derive_follow_up
from contexture.errors import InputError
from contexture.io.validation import read_validated_table

FILE = "clinical.tsv"


def typed(tmp_path, text):
    path = tmp_path / FILE
    path.write_text(textwrap.dedent(text).lstrip().replace("|", "\t"))
    return read_validated_table(path, "tables/clinical")


def found(table):
    """(row, column) of every problem, and the problems as text."""
    problems = follow_up_contradictions(table, FILE)
    assert all(p.file == FILE for p in problems)
    return [(p.row, p.column) for p in problems], [str(p) for p in problems]


def test_consistent_rows_have_no_problem(tmp_path):
    # Durations equal to the dates (A, B), one day off (C: counted inclusively), dates only
    # (D), durations only (E), death on the day of last follow-up (F).
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event|treatment_start_date|progression_date|death_date|last_followup_date
        A|60|1|182|1|2020-01-01|2020-03-01|2020-07-01|
        B|121|1|121|1|2020-01-01||2020-05-01|
        C|367|0|367|0|2020-01-01|||2021-01-01
        D|||||2020-01-01|2020-02-01||2020-06-01
        E|30|1|90|0||||
        F|||||2020-01-01||2020-05-01|2020-05-01
        """,
    )
    assert found(table) == ([], [])


def test_issue_example_censored_pfs_with_a_progression_date(tmp_path):
    # pfs_days 999, pfs_event 0 and a progression on day 64: both cells contradict the date.
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|treatment_start_date|progression_date|last_followup_date
        P1|999|0|2020-01-01|2020-03-05|2023-01-01
        """,
    )
    where, text = found(table)
    assert where == [(1, "pfs_days"), (1, "pfs_event")]
    assert "row 1 (line 2), column 'pfs_days': got '999'; expected 64 (± 1 day)" in text[0]
    assert "progression_date 2020-03-05 is day 64" in text[0]
    assert "row 1 (line 2), column 'pfs_event': got '0'; expected 1" in text[1]


def test_durations_disagreeing_with_dates_beyond_one_day(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event|treatment_start_date|progression_date|death_date|last_followup_date
        A|62|1|182|1|2020-01-01|2020-03-01|2020-07-01|
        B|121|1|200|1|2020-01-01||2020-05-01|
        C|366|0|366|1|2020-01-01|||2021-01-01
        D|100|0|121|1|2020-01-01||2020-05-01|
        """,
    )
    where, text = found(table)
    assert where == [(1, "pfs_days"), (2, "os_days"), (3, "os_event"), (4, "pfs_days"), (4, "pfs_event")]
    assert "expected 60 (± 1 day)" in text[0]
    assert "death_date 2020-05-01 is day 121" in text[1]
    assert "expected 0 as the dates of this row say: no death_date; last_followup_date 2021-01-01" in text[2]
    # D: death without progression ends PFS (an event at death, day 121).
    assert "death_date 2020-05-01 is day 121" in text[3]


def test_dates_that_do_not_settle_an_endpoint_are_not_compared(tmp_path):
    # No progression_date column: the dates cannot say when PFS ended, so the given PFS
    # stands; no death_date column: last follow-up alone does not say the patient is alive.
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event|treatment_start_date|last_followup_date
        A|40|1|300|1|2020-01-01|2020-06-01
        """,
    )
    assert found(table) == ([], [])


def test_pfs_longer_than_os(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event
        A|300|1|30|1
        B|31|0|30|1
        C|30|1|30|1
        """,
    )
    where, text = found(table)
    assert where == [(1, "pfs_days")]
    assert "row 1 (line 2), column 'pfs_days': got '300'; expected at most OS (30 days from os_days)" in text[0]


def test_pfs_given_beyond_os_from_dates(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|treatment_start_date|death_date
        A|300|1|2020-01-01|2020-01-31
        """,
    )
    where, text = found(table)
    # No progression_date column, so PFS is not compared with the dates; it still cannot outlast OS.
    assert where == [(1, "pfs_days")]
    assert "at most OS (30 days from the dates of this row)" in text[0]


def test_events_after_the_last_follow_up(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|treatment_start_date|progression_date|death_date|last_followup_date
        A|2020-01-01|2020-08-01||2020-06-01
        B|2020-01-01|2020-03-01|2020-09-01|2020-06-01
        """,
    )
    where, text = found(table)
    assert where == [(1, "progression_date"), (2, "death_date")]
    assert "row 1 (line 2), column 'progression_date': got '2020-08-01'; expected a date on or before" in text[0]
    assert "last_followup_date (2020-06-01)" in text[0]
    assert "row 2 (line 3), column 'death_date': got '2020-09-01'" in text[1]


def test_event_without_time_and_time_without_event(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event
        A||1|100|1
        B|50||100|0
        C||0||
        """,
    )
    where, text = found(table)
    assert where == [(1, "pfs_days"), (2, "pfs_event"), (3, "pfs_days")]
    assert "row 1 (line 2), column 'pfs_days'; expected a time for the pfs_event given in this row" in text[0]
    assert "row 2 (line 3), column 'pfs_event'; expected an event flag" in text[1]


def test_a_missing_time_filled_from_dates_is_not_a_problem(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|os_days|os_event|treatment_start_date|death_date|last_followup_date
        A||1|2020-01-01|2020-02-01|
        """,
    )
    assert found(table) == ([], [])


def test_every_problem_is_reported_at_once_with_the_date_checks(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|pfs_days|pfs_event|os_days|os_event|treatment_start_date|progression_date|death_date|last_followup_date
        A|999|0|||2020-01-01|2020-03-05||2020-12-01
        B|300|1|30|1||||
        C|||||2020-01-01|2020-08-01||2020-06-01
        D||1|||||
        E|||||2020-01-01|2019-12-01||2020-06-01
        """,
    )
    with pytest.raises(InputError) as error:
        derive_follow_up(table, file=FILE)
    message = str(error.value)
    assert "6 problem(s)" in message
    for needle in (
        "row 1 (line 2), column 'pfs_days'",
        "row 1 (line 2), column 'pfs_event'",
        "row 2 (line 3), column 'pfs_days'",
        "row 3 (line 4), column 'progression_date'",
        "row 4 (line 5), column 'pfs_days'",
        "row 5 (line 6), column 'progression_date': got '2019-12-01'; expected a date on or after",
    ):
        assert needle in message
    # Listed in row order.
    assert message.index("row 1 (line 2)") < message.index("row 3 (line 4)") < message.index("row 5 (line 6)")


def test_os_given_shorter_than_pfs_from_dates_names_os_days(tmp_path):
    table = typed(
        tmp_path,
        """
        patient_id|os_days|os_event|treatment_start_date|progression_date
        A|30|1|2020-01-01|2020-03-01
        """,
    )
    where, text = found(table)
    assert where == [(1, "os_days")]
    assert "column 'os_days': got '30'; expected at least PFS (60 days from the dates of this row)" in text[0]
