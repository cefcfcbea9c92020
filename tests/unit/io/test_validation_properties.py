"""Hostile input for the table validator: any cell text gives a clear error or a correct value."""

import string

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from contexture.errors import InputError
from contexture.io.validation import read_validated_table, validate_frame

SCHEMA = {
    "required": ["patient_id", "os_days"],
    "x-unique": ["patient_id"],
    "properties": {
        "patient_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
        "os_days": {"type": "number", "minimum": 0},
        "os_event": {"type": ["integer", "null"], "enum": [0, 1]},
        "dmmr": {"type": ["boolean", "null"]},
    },
}

cell = st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 5).map(str), st.floats(allow_nan=True).map(str))


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell, cell), min_size=1, max_size=6))
def test_every_accepted_value_is_correct_and_every_rejection_is_reported(rows):
    table = pd.DataFrame(rows, columns=["patient_id", "os_days", "os_event", "dmmr"], dtype=object)
    table = table.where(table.notna(), None).astype("string").astype(object).where(table.notna(), None)
    typed, problems = validate_frame(table, SCHEMA, "t.tsv")
    flagged = {(p.row, p.column) for p in problems}
    for index, (pid, days, event, dmmr) in enumerate(rows, start=1):
        if (index, "os_days") not in flagged:
            value = float(days)  # accepted: must be a real non-negative number
            assert value >= 0 and typed["os_days"].iloc[index - 1] == value
        if event is not None and (index, "os_event") not in flagged:
            assert float(event) in (0.0, 1.0)
        if dmmr is not None and (index, "dmmr") not in flagged:
            assert dmmr.strip().lower() in {"true", "false", "yes", "no", "1", "0", "y", "n", "t", "f"}
        if (index, "patient_id") not in flagged:
            assert pid is not None and pid[:1] in string.ascii_letters + string.digits
    for problem in problems:
        assert problem.file == "t.tsv" and problem.expected


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_an_input_error_or_a_table(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("hostile") / "clinical.tsv"
    path.write_bytes(payload)
    try:
        table = read_validated_table(path, "tables/clinical")
    except InputError as error:
        assert str(path) in str(error)
    else:
        assert "patient_id" in table.columns and table["patient_id"].is_unique
