"""The PET stage's report captions: lesion and patient counts, the models' estimates and p."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.pet.captions import FACTS


def _summary(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)[1]


def _models(tmp_path, rows):
    columns = ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "method"]
    write_table(pd.DataFrame(rows, columns=columns), tmp_path / "tables/pet_models.tsv")


def test_factor_caption_and_missing_test(tmp_path):
    write_table(
        pd.DataFrame({"dmmr": ["dMMR", "pMMR", "pMMR"], "patient_id": ["P1", "P2", "P3"], "lesions": [2, 3, 1]}),
        tmp_path / "figures/pet_suvmax_by_dmmr.source.tsv",
    )
    _models(tmp_path, [["dmmr", "test[dmmr]", None, None, None, 0.19, "likelihood-ratio chi-square, 1 df"]])
    summary = _summary(tmp_path, "pet_suvmax_by_dmmr.png")
    assert summary == "n = 3 patients, 6 lesions; linear mixed model, likelihood-ratio chi-square: p = 0.19"
    (tmp_path / "tables/pet_models.tsv").write_text("analysis\tterm\tp\tmethod\n")
    assert _summary(tmp_path, "pet_suvmax_by_dmmr.png") == (
        "n = 3 patients, 6 lesions; test not run (too few patients or levels)"
    )


def test_overview_change_and_models_state_the_estimates(tmp_path):
    write_table(
        pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "suvmax": [4.0, 6.0, 7.0]}),
        tmp_path / "figures/pet_lesion_overview.source.tsv",
    )
    write_table(
        pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"], "weeks": [0, 4, 0, 4]}),
        tmp_path / "figures/pet_change_per_week_by_response.source.tsv",
    )
    _models(
        tmp_path,
        [
            ["baseline_geomean", "geometric_mean_suvmax", 5.6049, 4.81, 6.5, None, "geometric mean"],
            ["baseline_geomean", "n_patients", 2, None, None, None, ""],
            ["baseline_geomean", "n_lesions", 3, None, None, None, ""],
            ["icc", "icc", 0.46, 0.21, 0.68, None, "REML"],
            ["site", "test[site]", None, None, None, 0.0312, "Wald chi-square, 3 df"],
            ["dmmr", "test[dmmr]", None, None, None, 0.00002, "likelihood-ratio chi-square, 1 df"],
            ["change_per_week", "interaction_ratio[responder/non_responder]", 1.0512, 0.9, 1.2, 0.27, "Wald z"],
        ],
    )
    assert _summary(tmp_path, "pet_lesion_overview.png") == (
        "n = 2 patients, 3 baseline lesions; geometric mean SUVmax 5.60 (95% CI 4.81-6.50); "
        "ICC 0.46 (95% CI 0.21-0.68) (no test)"
    )
    assert _summary(tmp_path, "pet_change_per_week_by_response.png") == (
        "n = 2 patients with an on-treatment scan; linear mixed model, weeks x response interaction "
        "(Wald z-test): ratio of weekly fold-changes 1.051, p = 0.27"
    )
    assert _summary(tmp_path, "pet_models.tsv") == (
        "n = 2 patients, 3 baseline lesions; factor tests (Wald under REML / likelihood ratio under ML): "
        "site p = 0.031; dmmr p < 0.0001"
    )


def test_lesion_table_counts_measurements_per_timepoint(tmp_path):
    write_table(
        pd.DataFrame(
            {"patient_id": ["P1", "P1", "P2", "P2", "P2"], "timepoint": ["baseline"] * 3 + ["on_treatment"] * 2}
        ),
        tmp_path / "tables/lesions.tsv",
    )
    assert _summary(tmp_path, "lesions.tsv") == ("n = 5 lesion measurements in 2 patients (baseline 3, on_treatment 2)")
