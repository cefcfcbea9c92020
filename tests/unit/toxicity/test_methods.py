"""The toxicity methods paragraph: numbers from the run's options, constants and table."""

from __future__ import annotations

import pandas as pd

from contexture.toxicity import methods
from contexture.toxicity.analysis import toxicity_analysis

SEVERE = [5.1, 7.3, 6.8, 9.0]
OTHER = [3.2, 4.4, 5.0, 6.1, 2.9, 4.8, 5.5]


def _write_table(tmp_path, severe_grade=3):
    patients = pd.DataFrame(
        {"patient_id": [f"P{i}" for i in range(11)], "irae_grade_max": [3, 4, 3, 3] + [0] * 7, "m": SEVERE + OTHER}
    )
    table, _, _ = toxicity_analysis(patients, None, {"biomarkers": ["m"], "severe_grade": severe_grade})
    (tmp_path / "tables").mkdir(exist_ok=True)
    table.to_csv(tmp_path / "tables" / "toxicity.tsv", sep="\t", index=False)


def test_empty_without_the_toxicity_table(tmp_path, cohort_config):
    assert methods.methods_paragraph(tmp_path, cohort_config()) == ""


def test_default_options_and_counts(tmp_path, cohort_config):
    _write_table(tmp_path)
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert text.startswith("## Toxicity")
    assert "(`irae_grade_max`)" in text and "grade ≥ 3" in text and "above the median" in text
    assert "fewer than 50 patients and no ties" in text and "Hodges-Lehmann shift with 95% CI" in text
    assert "exact 95% CI" in text
    assert "1 biomarker(s) were tested in 4 patients with severe and 7 with" in text


def test_changed_options_and_constants_reach_the_text(tmp_path, cohort_config, monkeypatch):
    _write_table(tmp_path, severe_grade=3)
    options = {"response": {"toxicity": {"severe_grade": 2, "high_low_split": 0.75, "columns": ["crs_grade"]}}}
    monkeypatch.setattr(methods, "CONF_LEVEL", 0.9)
    monkeypatch.setattr(methods, "EXACT_LIMIT", 30)
    text = methods.methods_paragraph(tmp_path, cohort_config(options))
    assert "(`crs_grade`)" in text and "grade ≥ 2" in text and "above the 0.75 quantile" in text
    assert "fewer than 30 patients" in text and "with 90% CI" in text and "exact 90% CI" in text


def test_no_test_names_the_minimum_group_size(tmp_path, cohort_config):
    (tmp_path / "tables").mkdir()
    pd.DataFrame(columns=["toxicity", "biomarker", "test", "n_severe", "n_other"]).to_csv(
        tmp_path / "tables" / "toxicity.tsv", sep="\t", index=False
    )
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert f"fewer than {methods.MIN_PER_GROUP} patients with severe toxicity" in text
