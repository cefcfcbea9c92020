"""The methods joiner: one paragraph per stage of contexture.modalities.STAGES, in order."""

from __future__ import annotations

import importlib

import pandas as pd

from contexture.modalities import STAGES
from contexture.report import methods


def test_every_stage_has_a_methods_paragraph():
    for stage in STAGES:
        module = importlib.import_module(f"contexture.{stage}.methods")
        assert callable(module.methods_paragraph), stage


def test_empty_results_give_one_empty_paragraph_per_stage(tmp_path, cohort_config):
    # one per stage, then the multiplicity section
    assert methods.paragraphs(tmp_path, cohort_config()) == [""] * (len(STAGES) + 1)


def test_paragraphs_follow_the_stage_order(tmp_path, cohort_config):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"patient_id": ["A"], "os_months": [2.0]}).to_csv(tmp_path / "tables/patients.tsv", sep="\t")
    pd.DataFrame({"endpoint": ["os"], "scale": ["per SD decrease"]}).to_csv(
        tmp_path / "tables/survival_cox.tsv", sep="\t"
    )
    found = methods.paragraphs(tmp_path, cohort_config())
    assert found[STAGES.index("clinical")].startswith("## Patients and follow-up")
    assert found[STAGES.index("survival")].startswith("## Survival analysis")
    assert sum(bool(p) for p in found) == 2
