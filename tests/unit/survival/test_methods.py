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
    assert "(Efron ties; Wald confidence intervals); hazard ratios of continuous covariates are per SD " in text
    assert "per SD decrease (x0) and per SD increase (x1)." in text
    assert "fewer than 10 events per variable" in text and "landmark" not in text


def test_changed_options_and_unit_scale_reach_the_text(tmp_path, cohort_config):
    _write_cox(tmp_path, ["per SD decrease", "per unit"])
    options = {"survival": {"conf_type": "log-log", "conf_level": 0.9, "cox": {"min_events_per_variable": 5}}}
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert "'log-log'-transformed 90% confidence intervals" in text
    assert "are per SD decrease (x0) and per unit (x1)." in text and "fewer than 5 events" in text


def test_ties_strata_and_landmark_reach_the_text(tmp_path, cohort_config):
    _write_cox(tmp_path, ["per SD decrease", "true vs false"])
    table = pd.read_csv(tmp_path / "tables/survival_cox.tsv", sep="\t").assign(landmark_weeks=[None, 8])
    table["term"] = ["pet_geomean_suvmax_baseline", "responder"]
    table.to_csv(tmp_path / "tables/survival_cox.tsv", sep="\t", index=False)
    pd.DataFrame({"stratifier": ["dmmr", "bor"], "landmark_weeks": [None, 8]}).to_csv(
        tmp_path / "tables/survival_logrank.tsv", sep="\t", index=False
    )
    options = {"survival": {"landmark_weeks": 8, "cox": {"ties": "breslow", "strata": ["site"]}}}
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert "(Breslow ties, stratified by site; Wald confidence intervals)" in text
    assert text.endswith(
        "Variables known only after the start of follow-up (bor, responder) were analysed by landmark at 8 weeks: "
        "patients still in follow-up after the landmark, with time measured from it, to avoid guarantee-time bias "
        "(Anderson, Cain & Gelber 1983)."
    )
