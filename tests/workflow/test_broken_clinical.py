"""The broken-input catalogue, clinical cases of issue 15: contradictory or empty clinical data.

Each case is a real snakemake run on a clinical-only cohort (a hand-written 6-patient
table, so no simulation is needed and each run stops in rule ``validate_inputs``). Every
broken run must exit non-zero with a message naming the file, the row and the column,
write no ``tables/patients.tsv`` and leave the inputs byte-identical (the checks of
``tests/workflow/test_broken_inputs.py``, whose ``Case`` these cases reuse).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_snakemake
from tests.workflow.test_broken_inputs import COHORT, Case, assert_names

pytestmark = pytest.mark.workflow

# Consistent follow-up as a site would deliver it: dates, plus durations for two patients
# (agreeing with the dates to the day, or one day off as with inclusive counting).
CLINICAL = """\
patient_id	treatment_start_date	progression_date	death_date	last_followup_date	pfs_days	pfs_event	os_days	os_event	dmmr	age	sex
P01	2020-01-06	2020-03-10	2020-09-01						true	61	F
P02	2020-02-03		2020-06-15						false	70	M
P03	2020-02-17	2020-05-04		2021-02-01	77	1	350	0	false	55	F
P04	2020-03-02			2021-03-01					true	48	M
P05	2020-03-16	2020-04-20	2020-12-24		36	1	284	1	false	66	M
P06	2020-04-06			2021-04-01					false	59	F
"""


@pytest.fixture(scope="module")
def raw_inputs(tmp_path_factory) -> Path:
    inputs = tmp_path_factory.mktemp("clinical_source") / "inputs"
    inputs.mkdir()
    (inputs / "clinical.tsv").write_text(CLINICAL)
    return inputs


def case_with(tmp_path: Path, raw_inputs: Path, change) -> tuple[Case, pd.DataFrame]:
    """A clinical-only case whose table is the base table after ``change(table)``."""
    case = Case(tmp_path, raw_inputs, "clinical")
    table = case.table("clinical.tsv")
    change(table)
    case.write("clinical.tsv", table)
    return case, table


def test_base_table_is_consistent(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    run_snakemake(tmp_path, {"cohorts": {COHORT: case.cohort}}, f"results/{COHORT}/validation/inputs.tsv")


def test_censored_pfs_with_a_progression_date(tmp_path, raw_inputs):
    # The example: pfs_days 999, pfs_event 0 and a progression at day 64.
    def change(table):
        table.loc[3, ["progression_date", "pfs_days", "pfs_event"]] = ["2020-05-04", "999", "0"]

    case, _ = case_with(tmp_path, raw_inputs, change)
    output = case.run()
    assert_names(
        output,
        "clinical.tsv, row 4 (line 5), column 'pfs_days': got '999'; expected 63 (± 1 day)",
        "progression_date 2020-05-04 is day 63",
        "clinical.tsv, row 4 (line 5), column 'pfs_event': got '0'; expected 1",
        "validate_inputs",
    )


def test_pfs_longer_than_os(tmp_path, raw_inputs):
    # Progression after death, as durations only: the dates of this row are removed.
    def change(table):
        table.loc[1, ["treatment_start_date", "death_date"]] = ["", ""]
        table.loc[1, ["pfs_days", "pfs_event", "os_days", "os_event"]] = ["300", "1", "30", "1"]

    case, _ = case_with(tmp_path, raw_inputs, change)
    output = case.run()
    assert_names(output, "clinical.tsv, row 2 (line 3), column 'pfs_days': got '300'; expected at most OS (30 days")


def test_progression_and_death_after_the_last_follow_up(tmp_path, raw_inputs):
    def change(table):
        table.loc[3, "progression_date"] = "2021-05-01"  # last follow-up 2021-03-01
        table.loc[5, "death_date"] = "2021-06-01"  # last follow-up 2021-04-01

    case, _ = case_with(tmp_path, raw_inputs, change)
    output = case.run()
    assert_names(
        output,
        "clinical.tsv, row 4 (line 5), column 'progression_date': got '2021-05-01'; expected a date on or before "
        "last_followup_date (2021-03-01)",
        "clinical.tsv, row 6 (line 7), column 'death_date': got '2021-06-01'",
    )


def test_event_without_a_time(tmp_path, raw_inputs):
    def change(table):
        table.loc[3, ["treatment_start_date", "last_followup_date", "os_event"]] = ["", "", "1"]

    case, _ = case_with(tmp_path, raw_inputs, change)
    output = case.run()
    assert_names(output, "clinical.tsv, row 4 (line 5), column 'os_days'; expected a time for the os_event")


def test_every_contradiction_is_reported_in_one_run(tmp_path, raw_inputs):
    def change(table):
        table.loc[0, "os_days"], table.loc[0, "os_event"] = "100", "1"  # death is on day 239
        table.loc[2, "pfs_event"] = "0"  # progression_date says 1
        table.loc[4, "death_date"] = ""  # dates now say alive: os_event 1 contradicts
        table.loc[4, "last_followup_date"] = "2020-12-24"

    case, _ = case_with(tmp_path, raw_inputs, change)
    output = case.run()
    assert_names(
        output,
        "3 problem(s)",
        "row 1 (line 2), column 'os_days': got '100'; expected 239",
        "row 3 (line 4), column 'pfs_event': got '0'; expected 1",
        "row 5 (line 6), column 'os_event': got '1'; expected 0",
    )


def test_two_columns_with_one_name(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    path = case.path("clinical.tsv")
    lines = path.read_text().splitlines()
    lines = [lines[0] + "\tage"] + [line + "\t16" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    output = case.run()
    assert_names(output, "clinical.tsv", "column 'age' appears as columns 11 and 13")
    assert "age.1" not in output


def test_header_only_clinical_table(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    path = case.path("clinical.tsv")
    path.write_text(CLINICAL.splitlines()[0] + "\n")
    output = case.run()
    assert_names(output, "clinical.tsv", "the table has a header but no data rows")


def test_header_only_recist_table(tmp_path, raw_inputs):
    case = Case(tmp_path, raw_inputs, "clinical")
    (case.inputs / "recist.tsv").write_text("patient_id\tassessment_day\tlesion_id\tkind\tdiameter_mm\n")
    case.cohort["recist"] = "inputs/recist.tsv"
    output = case.run()
    assert_names(output, "recist.tsv", "the table has a header but no data rows")


def test_whitespace_only_cells_are_missing_values(tmp_path, raw_inputs):
    # Not a broken input: blanks typed as spaces are empty cells, as a spreadsheet shows them.
    def change(table):
        table.loc[3, ["progression_date", "death_date", "dmmr"]] = ["  ", " ", "   "]

    case, _ = case_with(tmp_path, raw_inputs, change)
    run_snakemake(tmp_path, {"cohorts": {COHORT: case.cohort}}, f"results/{COHORT}/clinical/clinical.tsv")
    clinical = pd.read_csv(tmp_path / f"results/{COHORT}/clinical/clinical.tsv", sep="\t", dtype=str)
    row = clinical.set_index("patient_id").loc["P04"]
    assert row[["progression_date", "death_date", "dmmr"]].isna().all()
    assert row["os_event"] == "0" and float(row["os_days"]) == 364  # censored at last follow-up
