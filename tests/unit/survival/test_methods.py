"""The survival methods paragraph: interval type and level, EPV flag, covariate scales."""

from __future__ import annotations

import pandas as pd

from contexture.survival.methods import methods_paragraph


def _write_cox(tmp_path, scales):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"endpoint": "os", "term": [f"x{i}" for i in range(len(scales))], "scale": scales}).to_csv(
        tmp_path / "tables/survival_cox.tsv", sep="\t", index=False
    )


def test_empty_without_cox_table(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""


def test_defaults(tmp_path, cohort_config):
    _write_cox(tmp_path, ["per SD decrease", "per SD increase", "ihc_phenotype=inflamed vs desert"])
    text = methods_paragraph(tmp_path, cohort_config())
    assert "'log'-transformed 95% confidence intervals" in text
    assert "continuous biomarkers are reported per standard deviation." in text
    assert "fewer than 10 events per variable" in text


def test_changed_options_and_unit_scale_reach_the_text(tmp_path, cohort_config):
    _write_cox(tmp_path, ["per SD decrease", "per unit"])
    options = {"survival": {"conf_type": "log-log", "conf_level": 0.9, "cox": {"min_events_per_variable": 5}}}
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert "'log-log'-transformed 90% confidence intervals" in text
    assert "reported per standard deviation or per unit." in text and "fewer than 5 events" in text
