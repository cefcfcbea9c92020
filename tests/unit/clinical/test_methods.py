"""The clinical methods paragraph: patient count and the days-to-months constant."""

from __future__ import annotations

import pandas as pd

from contexture import DAYS_PER_MONTH
from contexture.clinical.methods import methods_paragraph


def test_patients_and_months(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"patient_id": ["001", "002", "003"], "os_months": [1.5, None, 3.0]}).to_csv(
        tmp_path / "tables/patients.tsv", sep="\t", index=False
    )
    text = methods_paragraph(tmp_path, cohort_config())
    assert "The analysis included 3 patients." in text
    assert DAYS_PER_MONTH == 30.4375
    assert "dividing by 30.4375 (365.25 / 12)." in text


def test_no_follow_up_sentence_without_survival_columns(tmp_path, cohort_config):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"patient_id": ["A", "B"]}).to_csv(tmp_path / "tables/patients.tsv", sep="\t", index=False)
    text = methods_paragraph(tmp_path, cohort_config())
    assert text.endswith("The analysis included 2 patients.")
