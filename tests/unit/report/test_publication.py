"""The bundle's legends, data dictionary and README, on a small hand-made cohort folder."""

import pandas as pd

from contexture.io import write_table
from contexture.report.publication import bundle_readme, column_unit, data_dictionary_markdown, legends_markdown


def test_units_come_from_column_names():
    assert column_unit("os_months") == "months (days / 30.4375)"
    assert column_unit("volume_ml") == "mL"
    assert column_unit("cd8_density_tumor") == "cells/mm²"
    assert column_unit("best_pct_change") == "%"
    assert column_unit("suvmax") == "g/mL (SUV, body weight)"
    assert column_unit("patient_id") == "" and column_unit("hr") == ""


def test_dictionary_lists_every_column_with_its_type_and_meaning(tmp_path):
    patients = pd.DataFrame(
        {"patient_id": ["001", "01"], "os_months": [3.5, 7.25], "responder": [True, False], "bor": ["PR", "PD"]}
    )
    write_table(patients, tmp_path / "tables" / "patients.tsv")
    text = data_dictionary_markdown(tmp_path, ["tables/patients.tsv"])
    assert "## `tables/patients.tsv`" in text and "2 rows." in text
    assert "| `patient_id` | text |  | Study patient identifier, exactly as in the input tables. |" in text
    assert "| `os_months` | number | months (days / 30.4375) |" in text
    assert "| `responder` | boolean |" in text
    assert "| `bor` | text |  | Best overall response (RECIST 1.1). |" in text


def test_legends_take_the_report_captions_numbers(tmp_path):
    write_table(pd.DataFrame({"patient_id": ["A", "B", "C"], "x": [1, 2, 3]}), tmp_path / "tables" / "patients.tsv")
    source = pd.DataFrame({"patient_id": ["A", "B", "C"], "clinical: baseline": [1, 1, 0]})
    write_table(source, tmp_path / "figures" / "cohort_overview.source.tsv")
    text = legends_markdown(tmp_path, ["figures/cohort_overview.png", "tables/patients.tsv"])
    assert "## Figure 1: Data availability per patient" in text
    assert "n = 3 patients; patients with data: clinical: baseline 2." in text
    assert text.count("## Figure") == 1


def test_readme_counts_what_is_inside():
    members = ["figures/a.png", "figures/a.pdf", "figures/a.source.tsv", "tables/patients.tsv", "tables/lesions.tsv"]
    manifest = {"cohort": "x", "packages": {"contexture": "0.1.0"}, "git_commit": "abc", "date": "2026-12-01"}
    text = bundle_readme("x", manifest, members)
    assert "1 figures" in text and "2 result tables" in text and "git commit abc" in text
