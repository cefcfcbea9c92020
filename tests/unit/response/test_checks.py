"""Raw-input checks of the RECIST measurement table (contexture.response.checks)."""

from contexture.inputs import Collector
from contexture.response.checks import check_recist_inputs

HEADER = "patient_id\tassessment_day\tlesion_id\tkind\tdiameter_mm\n"


def test_rules_beyond_the_row_schema_are_collected(tmp_path):
    # P2 has no baseline; P1's lesion L2 is a target first seen on day 42 (RECIST 1.1 §4.3.5: new).
    path = tmp_path / "recist.tsv"
    path.write_text(HEADER + "P1\t0\tL1\ttarget\t20\nP1\t42\tL2\ttarget\t15\nP2\t42\tL1\ttarget\t10\n")
    found = Collector()
    check_recist_inputs(str(path), found)
    assert len(found.problems) == 2
    assert any("row 3 (line 4), column 'assessment_day'" in p and "'P2'" in p for p in found.problems)
    assert any("row 2 (line 3), column 'lesion_id': got 'L2'" in p for p in found.problems)


def test_schema_problem_stops_before_the_recist_rules(tmp_path):
    path = tmp_path / "recist.tsv"
    path.write_text(HEADER + "P1\t0\tL1\ttumour\t20\n")
    found = Collector()
    check_recist_inputs(str(path), found)
    assert len(found.problems) == 1 and "column 'kind': got 'tumour'" in found.problems[0]


def test_units_and_strict_selection_follow_the_cohort_options(tmp_path):
    # A diameter_cm header is refused with the unit suggested; response.units: cm accepts it.
    path = tmp_path / "recist.tsv"
    path.write_text("patient_id\tassessment_day\tlesion_id\tkind\tdiameter_cm\nP1\t0\tL1\ttarget\t2.0\n")
    found = Collector()
    check_recist_inputs(str(path), found)
    assert len(found.problems) == 1 and "response.units: cm" in found.problems[0]
    found = Collector(cohort={"response": {"units": "cm"}})
    check_recist_inputs(str(path), found)
    assert found.problems == []
    # Values in cm under a diameter_mm header: refused as a cohort (most targets < 10 mm).
    path.write_text(HEADER + "P1\t0\tL1\ttarget\t2.0\nP1\t0\tL2\ttarget\t1.5\n")
    found = Collector()
    check_recist_inputs(str(path), found)
    assert len(found.problems) == 1 and "look like centimetres" in found.problems[0]
    # Six targets: a warning at analysis by default, an error with strict_selection.
    path.write_text(HEADER + "".join(f"P1\t0\tL{i}\ttarget\t2{i}\n" for i in range(6)))
    found = Collector()
    check_recist_inputs(str(path), found)
    assert found.problems == []
    found = Collector(cohort={"response": {"strict_selection": True}})
    check_recist_inputs(str(path), found)
    assert len(found.problems) == 1 and "6 target lesions; at most 5" in found.problems[0]
