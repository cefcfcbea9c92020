"""Raw-input checks of the clinical table (contexture.clinical.checks)."""

from contexture.clinical.checks import check_clinical_inputs
from contexture.inputs import Collector


def test_missing_table_is_one_problem_and_still_recorded(tmp_path):
    found = Collector()
    check_clinical_inputs(str(tmp_path / "clinical.tsv"), found)
    assert found.problems == [f"clinical table '{tmp_path / 'clinical.tsv'}' does not exist (or is not a file)"]
    assert list(found.files) == [str(tmp_path / "clinical.tsv")]


def test_every_schema_problem_is_collected_with_row_and_column(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tos_days\tos_event\nP1\t10\t1\nP2\tten\t2\n")
    found = Collector()
    check_clinical_inputs(str(path), found)
    assert len(found.problems) == 2
    assert "row 2 (line 3), column 'os_days': got 'ten'; expected a number" in found.problems[0]
    assert "row 2 (line 3), column 'os_event': got '2'" in found.problems[1]
    assert found.files[str(path)] == {
        "file": str(path),
        "modality": "clinical",
        "kind": "clinical table",
        "rows": 2,
        "sha256": None,
    }  # None: hashed when inputs.tsv is written (only RCC files carry the hash of the bytes the check read)


def test_clean_table_has_no_problems(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tos_days\tos_event\nP1\t10\t1\nP2\t30\t0\n")
    found = Collector()
    check_clinical_inputs(str(path), found)
    assert found.problems == []
