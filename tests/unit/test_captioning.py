"""The caption helpers every stage shares: p and number formatting, the cohort's tables."""

import math

import pandas as pd
import pytest

from contexture.captioning import Cohort, format_p, matching_row, number, patient_count
from contexture.io import write_table


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0312, "p = 0.031"),
        (0.3, "p = 0.3"),
        (0.00017, "p = 0.00017"),
        (0.0001, "p = 0.0001"),
        (0.00009, "p < 0.0001"),
        (1.0, "p = 1"),
        (math.nan, "p not computed"),
        (None, "p not computed"),
    ],
)
def test_format_p(p, text):
    assert format_p(p) == text


def test_number_and_patient_count():
    assert number(5.6049) == "5.60"
    assert number(0.12345, 3) == "0.123"
    assert number(math.nan) == "NA"
    assert patient_count(pd.DataFrame({"patient_id": ["P1", "P1", "P2"]})) == 2
    assert patient_count(pd.DataFrame({"x": [1, 2, 3]})) == 3


def test_matching_row_compares_as_text_and_takes_the_first():
    table = pd.DataFrame({"analysis": ["icc", "icc", "site"], "n": [1, 2, 3], "estimate": [0.46, 0.5, 1.0]})
    assert matching_row(table, analysis="icc")["estimate"] == 0.46
    assert matching_row(table, analysis="site", n="3")["estimate"] == 1.0
    assert matching_row(table, analysis="dmmr") is None
    assert matching_row(table, missing_column="x") is None
    assert matching_row(pd.DataFrame(), analysis="icc") is None


def test_cohort_reads_tables_and_figure_sources_once(tmp_path):
    write_table(pd.DataFrame({"patient_id": ["001", "002"]}), tmp_path / "figures/some_plot.source.tsv")
    cohort = Cohort(tmp_path)
    source = cohort.source("some_plot.png")
    assert len(source) == 2
    assert cohort.source("some_plot.png") is source
    assert cohort.table("tables/absent.tsv").empty
