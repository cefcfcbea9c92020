"""Typed reading of the workflow's own tables: IDs keep their text, flags are booleans."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contexture.errors import InputError
from contexture.io import read_table, write_table
from contexture.io.validation import SCHEMA_DIR
from tests.conftest import REPO

# IDs that pandas' inference changed or merged: leading zeros, numeric look-alikes,
# spaces, unicode, and text pandas treats as missing or boolean by default.
IDS = ["001", "01", "1", "1.0", "1e3", " a b", "Pé-ü 患者", "NA", "nan", "True", "-0", "0x1F"]
SCHEMA = {
    "properties": {
        "patient_id": {"type": "string"},
        "score": {"type": ["number", "null"]},
        "n": {"type": ["integer", "null"]},
        "included": {"type": "boolean"},
        "responder": {"type": ["boolean", "null"]},
    }
}


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_ids_survive_a_round_trip_byte_for_byte(tmp_path):
    n = len(IDS)
    table = pd.DataFrame(
        {
            "patient_id": IDS,
            "sample_id": IDS[::-1],
            "lesion_id": IDS,
            "slide_id": IDS,
            "ihc_slide_id": IDS,  # not declared: an identifier by its name
            "file": IDS,
            "included": [True, False] * (n // 2),
        }
    )
    path = tmp_path / "t.tsv"
    write_table(table, path)
    first = path.read_bytes()
    typed = read_table(path, SCHEMA)
    for column in ("patient_id", "sample_id", "lesion_id", "slide_id", "ihc_slide_id", "file"):
        assert typed[column].tolist() == table[column].tolist(), column
    assert len(set(typed["patient_id"])) == n  # 01 and 1 stay two patients
    write_table(typed, path)
    assert path.read_bytes() == first


def test_ids_as_matrix_columns_keep_their_text(tmp_path):
    path = write_text(tmp_path / "m.tsv", "name\t001\t01\t1\t1.0\nCD8A\t5.5\t6\t7.25\t8\nGZMA\t1\t2\t3\t4\n")
    matrix = read_table(path, "results/nanostring/normalized")
    assert matrix.columns.tolist() == ["name", "001", "01", "1", "1.0"]
    assert all(dtype == np.float64 for dtype in matrix.dtypes.iloc[1:])
    assert matrix["01"].tolist() == [6.0, 2.0]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
        min_size=1,
        max_size=8,
        unique=True,
    )
)
def test_any_printable_id_round_trips(ids):
    import tempfile

    table = pd.DataFrame({"patient_id": ids, "included": [True] * len(ids)})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.tsv"
        write_table(table, path)
        first = path.read_bytes()
        typed = read_table(path, SCHEMA)
        assert typed["patient_id"].tolist() == ids
        write_table(typed, path)
        assert path.read_bytes() == first


def test_booleans_round_trip_as_written(tmp_path):
    table = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "included": [True, False, True],
            "responder": pd.array([True, None, False], dtype="boolean"),
        }
    )
    path = tmp_path / "t.tsv"
    write_table(table, path)
    text = path.read_text()
    assert "P1\tTrue\tTrue\nP2\tFalse\t\nP3\tTrue\tFalse\n" in text
    typed = read_table(path, SCHEMA)
    assert typed["included"].dtype == bool and typed["included"].tolist() == [True, False, True]
    assert typed["responder"].dtype == "boolean"
    assert typed["responder"].tolist() == [True, pd.NA, False]
    assert typed.loc[typed["included"], "patient_id"].tolist() == ["P1", "P3"]  # a mask as is
    write_table(typed, path)
    assert path.read_text() == text


def test_declared_numbers_are_not_inferred(tmp_path):
    path = write_text(tmp_path / "t.tsv", "patient_id\tscore\tn\tincluded\nP1\t3\t2\tTrue\nP2\t\t\tFalse\n")
    typed = read_table(path, SCHEMA)
    assert typed["score"].dtype == float and typed["score"].iloc[0] == 3.0
    assert typed["n"].dtype == float  # integer with a missing cell: float (numpy has no integer NA)
    path = write_text(tmp_path / "u.tsv", "patient_id\tn\tincluded\nP1\t2\tTrue\nP2\t5\tFalse\n")
    assert read_table(path, SCHEMA)["n"].dtype == np.int64


def test_undeclared_columns_follow_the_rule(tmp_path):
    path = write_text(
        tmp_path / "t.tsv",
        "patient_id\tcount\tvalue\tlabel\tflag\tempty\tcase_id\nP1\t1\t1.5\tx\tTrue\t\t007\nP2\t2\t2\t3\tFalse\t\t7\n",
    )
    typed = read_table(path, {"properties": {}})
    assert typed["count"].dtype == np.int64
    assert typed["value"].dtype == float
    assert typed["label"].tolist() == ["x", "3"]  # not every cell is a number: text
    assert typed["flag"].tolist() == ["True", "False"]  # booleans must be declared
    assert typed["empty"].isna().all()
    assert typed["case_id"].tolist() == ["007", "7"]  # *_id: always text
    assert typed["patient_id"].tolist() == ["P1", "P2"]


def test_a_cell_that_does_not_match_its_type_is_named(tmp_path):
    path = write_text(tmp_path / "t.tsv", "patient_id\tscore\tn\tincluded\nP1\tabc\t1.5\tyes\n\t1\t1\tTrue\n")
    with pytest.raises(InputError) as error:
        read_table(path, SCHEMA)
    message = str(error.value)
    assert "row 1 (line 2), column 'score': got 'abc'; expected a number" in message
    assert "column 'n': got '1.5'; expected an integer" in message
    assert "column 'included': got 'yes'; expected True or False" in message
    assert "row 2 (line 3), column 'patient_id'" in message  # a required ID is empty
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "absent.tsv", SCHEMA)


def test_header_only_table_reads_empty(tmp_path):
    path = write_text(tmp_path / "t.tsv", "patient_id\tcount\tincluded\n")
    typed = read_table(path, SCHEMA)
    assert typed.empty and typed.columns.tolist() == ["patient_id", "count", "included"]


def test_every_schema_named_in_a_read_exists_and_every_read_names_one():
    """Each ``read_table(`` call in the scripts and the package passes a schema that exists."""
    sources = [*REPO.joinpath("workflow", "scripts").glob("*.py"), *REPO.joinpath("src", "contexture").rglob("*.py")]
    named = set()
    for source in sources:
        text = source.read_text()
        for call in re.finditer(r"read_table\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
            arguments = call.group(1)
            if source.name == "tables.py" or "path: str" in arguments:
                continue  # the definition
            assert "," in arguments, f"{source.name}: read_table({arguments}) names no schema"
            named |= set(re.findall(r'"(results/[^"{]+)"', arguments))
    assert named, "no schema names found"
    for name in sorted(named):
        assert (SCHEMA_DIR / f"{name}.schema.yaml").is_file(), name
