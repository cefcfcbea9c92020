"""Clinical table: validation messages and follow-up derived from dates (hand values)."""

import textwrap

import pandas as pd
import pytest

from contexture.clinical.follow_up import derive_follow_up
from contexture.errors import InputError
from contexture.io.validation import read_validated_table


def write(tmp_path, text, name="clinical.tsv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip().replace("|", "\t"))
    return path


def test_missing_patient_id_names_file_and_column(tmp_path):
    path = write(tmp_path, "id|os_days|os_event\nP1|10|1\n")
    with pytest.raises(InputError) as error:
        read_validated_table(path, "tables/clinical")
    message = str(error.value)
    assert str(path) in message and "column 'patient_id'" in message


def test_all_problems_reported_with_row_and_value(tmp_path):
    path = write(
        tmp_path,
        """
        patient_id|os_days|os_event|treatment_start_date|dmmr
        P1|10|1|2020-01-01|yes
        P2|ten|2|2020-13-01|maybe
        P1|5|0|2020-01-02|no
        """,
    )
    with pytest.raises(InputError) as error:
        read_validated_table(path, "tables/clinical")
    message = str(error.value)
    assert "5 problem(s)" in message
    assert "row 2 (line 3), column 'os_days': got 'ten'; expected a number" in message
    assert "row 2 (line 3), column 'os_event': got '2'" in message
    assert "row 2 (line 3), column 'treatment_start_date': got '2020-13-01'; expected a date as YYYY-MM-DD" in message
    assert "column 'dmmr': got 'maybe'" in message
    assert "row 3 (line 4), column 'patient_id': got 'P1'" in message


def test_follow_up_from_dates_hand_values(tmp_path):
    path = write(
        tmp_path,
        """
        patient_id,treatment_start_date,progression_date,death_date,last_followup_date
        A,2020-01-01,2020-03-01,2020-07-01,
        B,2020-01-01,,2020-05-01,
        C,2020-01-01,,,2021-01-01
        """,
        name="clinical.csv",
    )
    table = derive_follow_up(read_validated_table(path, "tables/clinical"), file=str(path)).set_index("patient_id")
    # A: progression on day 60 (2020 is a leap year: Jan 31 + Feb 29), death day 182.
    assert table.loc["A", ["pfs_days", "pfs_event", "os_days", "os_event"]].tolist() == [60, 1, 182, 1]
    # B: death without progression is a PFS event at death (day 121).
    assert table.loc["B", ["pfs_days", "pfs_event", "os_days", "os_event"]].tolist() == [121, 1, 121, 1]
    # C: alive, censored at last follow-up, day 366.
    assert table.loc["C", ["pfs_days", "pfs_event", "os_days", "os_event"]].tolist() == [366, 0, 366, 0]
    assert table.loc["C", "os_months"] == pytest.approx(366 / 30.4375)


def test_inconsistent_dates_are_errors(tmp_path):
    path = write(
        tmp_path,
        """
        patient_id|treatment_start_date|progression_date|death_date|last_followup_date
        A|2020-01-01|2019-12-01||2020-06-01
        B|2020-01-01|2020-05-01|2020-04-01|
        C|2020-01-01|||
        """,
    )
    with pytest.raises(InputError) as error:
        derive_follow_up(read_validated_table(path, "tables/clinical"), file=str(path))
    message = str(error.value)
    assert "row 1 (line 2), column 'progression_date'" in message
    assert "row 2 (line 3), column 'progression_date'" in message
    assert "row 3 (line 4), column 'last_followup_date'" in message


def test_without_follow_up_columns_are_empty():
    table = derive_follow_up(pd.DataFrame({"patient_id": ["b", "a"]}))
    assert table["patient_id"].tolist() == ["a", "b"]
    assert table[["pfs_months", "os_months"]].isna().all().all()
