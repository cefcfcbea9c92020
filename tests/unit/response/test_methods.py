"""The response methods paragraph: the confirmation rule and the rates' confidence level."""

from __future__ import annotations

import pandas as pd

from contexture.response.methods import methods_paragraph
from contexture.response.recist import response_rates


def _write_rates(tmp_path, alpha=0.05):
    (tmp_path / "tables").mkdir()
    features = pd.DataFrame({"bor": ["PR", "SD", "PD", "CR"], "bor_irecist": ["iPR", "iSD", "iCPD", "iCR"]})
    response_rates(features, alpha=alpha).to_csv(tmp_path / "tables/response_rates.tsv", sep="\t", index=False)


def test_empty_without_rates(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""


def test_default_confirmation_and_level(tmp_path, cohort_config):
    _write_rates(tmp_path)
    text = methods_paragraph(tmp_path, cohort_config())
    assert "with confirmation of CR/PR (≥ 28 days), and by iRECIST" in text
    assert "Clopper–Pearson 95% confidence intervals." in text


def test_changed_confirmation_and_level_reach_the_text(tmp_path, cohort_config):
    _write_rates(tmp_path, alpha=0.1)
    text = methods_paragraph(tmp_path, cohort_config({"response": {"confirmation_days": 35}}))
    assert "(≥ 35 days)" in text and "Clopper–Pearson 90% confidence" in text
    text = methods_paragraph(tmp_path, cohort_config({"response": {"confirmation": False}}))
    assert "without confirmation of CR/PR, and by iRECIST" in text and "CR/PR (≥" not in text


def test_irecist_window_and_sitc_definition_reach_the_text(tmp_path, cohort_config):
    _write_rates(tmp_path)
    text = methods_paragraph(tmp_path, cohort_config())
    assert "≥ 28 days after it (recommended within 56 days" in text
    assert "after SD of ≥ 182.625 days (the seed study's Box 1, SITC)" in text
    assert "confirmed by a scan ≥ 28 days later or by iCPD" in text and "centimetres" not in text
    changed = {
        "units": "cm",
        "irecist": {"confirmation_min_days": 21, "confirmation_max_days": 63},
        "resistance": {"definition": "kluger2020", "secondary_min_exposure_days": 180},
    }
    text = methods_paragraph(tmp_path, cohort_config({"response": changed}))
    assert "≥ 21 days after it (recommended within 63 days" in text
    assert "with ≥ 180 days of exposure (Kluger et al. 2020)" in text
    assert "converted to millimetres" in text


def test_classifier_scheme_reaches_the_text(tmp_path, cohort_config):
    from contexture.response.classifier import evaluate_classifier
    from tests.unit.response.test_classifier import cohort

    _write_rates(tmp_path)
    table, _ = evaluate_classifier(cohort(30, 1.0, 1), ["f0", "f1"], repeats=3, permutations=4, bootstrap=5)
    table.to_csv(tmp_path / "tables/classifier.tsv", sep="\t", index=False)
    config = cohort_config({"response": {"classifier": {"repeats": 3, "permutations": 4, "bootstrap": 5}}})
    text = methods_paragraph(tmp_path, config)
    assert "validated by 3 repeats of stratified 5-fold cross-validation; the AUC is the mean" in text
    assert "95% confidence interval the mean ± z × the SD of that mean over 5 stratified bootstrap" in text
    assert "from 4 permutations of the outcome" in text and "(C = 1;" in text
