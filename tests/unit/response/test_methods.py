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
    assert "without confirmation of CR/PR, and by iRECIST" in text and "days" not in text


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
