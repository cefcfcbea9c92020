"""The input-table reader (issue 15): repeated column names, whitespace cells, header-only tables."""

import gzip

import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.io import read_input_table
from contexture.io.validation import load_schema, read_validated_table, validate_frame


def test_repeated_column_name_is_refused_naming_file_and_column(tmp_path):
    # pandas would read the second 'age' as 'age.1' and both would be kept.
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tage\tsex\tage\nP1\t61\tF\t16\n")
    with pytest.raises(InputError) as error:
        read_input_table(path, what="clinical table")
    message = str(error.value)
    assert f"clinical table '{path}'" in message
    assert "column 'age' appears as columns 2 and 4" in message


def test_every_repeated_name_is_listed_also_after_stripping_and_in_gzipped_csv(tmp_path):
    path = tmp_path / "recist.csv.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbfpatient_id,day ,kind, day,kind\nP1,0,target,0,target\n"))
    with pytest.raises(InputError) as error:
        read_input_table(path)
    message = str(error.value)
    assert "2 repeated column name(s)" in message
    assert "column 'day' appears as columns 2 and 4" in message
    assert "column 'kind' appears as columns 3 and 5" in message


def test_a_column_really_named_like_a_pandas_rename_is_kept(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("age\tage.1\n1\t2\n")
    assert read_input_table(path).columns.tolist() == ["age", "age.1"]


def test_empty_header_cells_are_not_repeated_names(tmp_path):
    # Spreadsheet exports often end rows with a tab: pandas names those columns 'Unnamed: n'.
    path = tmp_path / "t.tsv"
    path.write_text("patient_id\t\t\nP1\t\t\n")
    assert read_input_table(path).columns.tolist() == ["patient_id", "Unnamed: 1", "Unnamed: 2"]


def test_whitespace_only_cells_are_missing_values(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tdeath_date\tage\tsex\nP1\t   \t 61 \t \nP2\t2020-01-02\t\t M\n")
    table = read_input_table(path)
    assert table["death_date"].isna().tolist() == [True, False]
    assert table["age"].tolist()[0] == "61" and pd.isna(table["age"].tolist()[1])
    assert pd.isna(table.loc[0, "sex"]) and table.loc[1, "sex"] == "M"
    # ... so the schema reads them as missing, not as bad dates ("got ''; expected a date").
    typed = read_validated_table(path, "tables/clinical")
    assert typed["death_date"].isna().tolist() == [True, False]


def test_header_only_table_is_refused_where_it_leaves_nothing_to_analyse(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tos_days\tos_event\n")
    assert read_input_table(path).empty
    with pytest.raises(InputError) as error:
        read_validated_table(path, "tables/clinical")
    assert f"{path}; expected data rows: the table has a header but no data rows" in str(error.value)
    for schema in ("recist", "nanostring_samples", "pet_scans", "pet_voi", "ihc_slides", "ihc_densities"):
        _, problems = validate_frame(pd.DataFrame(columns=["patient_id"]), load_schema(f"tables/{schema}"), "x.tsv")
        assert any("has a header but no data rows" in p.expected for p in problems), schema


def test_header_only_labels_table_is_valid(tmp_path):
    # A scan's mask with no region drawn has a labels table of a header alone.
    path = tmp_path / "labels.tsv"
    path.write_text("label\tlesion_id\tsite\tkind\n")
    assert read_validated_table(path, "tables/pet_labels").empty
