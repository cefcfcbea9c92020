"""The PET stage's report captions: lesion and patient counts, the models' estimates and p."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.pet.captions import FACTS


def _summary(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)[1]


def _models(tmp_path, rows):
    columns = ["analysis", "term", "estimate", "ci_low", "ci_high", "p", "df", "method"]
    rows = [row if len(row) == 8 else [*row[:6], None, row[6]] for row in rows]
    write_table(pd.DataFrame(rows, columns=columns), tmp_path / "tables/pet_models.tsv")


def test_factor_caption_and_missing_test(tmp_path):
    write_table(
        pd.DataFrame({"dmmr": ["dMMR", "pMMR", "pMMR"], "patient_id": ["P1", "P2", "P3"], "lesions": [2, 3, 1]}),
        tmp_path / "figures/pet_suvmax_by_dmmr.source.tsv",
    )
    _models(tmp_path, [["dmmr", "test[dmmr]", None, None, None, 0.19, "likelihood-ratio chi-square, 1 df"]])
    summary = _summary(tmp_path, "pet_suvmax_by_dmmr.png")
    assert summary == "n = 3 patients, 6 lesions; linear mixed model, likelihood-ratio test under ML: p = 0.19"
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
            ["site", "test[site]", 3.1, None, None, 0.0312, 219.43, "Satterthwaite F test (REML) ...: F(3, 219.4)"],
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
        "(t-test, Satterthwaite df): ratio of weekly fold-changes 1.051, p = 0.27"
    )
    assert _summary(tmp_path, "pet_models.tsv") == (
        "n = 2 patients, 3 baseline lesions; t intervals and tests with Satterthwaite df (REML); factor tests "
        "(F with Satterthwaite df for 3+ levels / likelihood ratio under ML for 2 levels): site p = 0.031; "
        "dmmr p < 0.0001"
    )


def test_site_and_phenotype_captions_state_the_test_and_the_biopsied_lesions(tmp_path):
    write_table(
        pd.DataFrame({"site": ["bone", "lung"], "patient_id": ["P1", "P2"], "lesions": [2, 3]}),
        tmp_path / "figures/pet_suvmax_by_site.source.tsv",
    )
    write_table(
        pd.DataFrame(
            {
                "patient_id": ["P1", "P1", "P2"],
                "lesion_id": ["L1", "L1", "L4"],
                "timepoint": ["baseline", "on_treatment", "baseline"],
                "ihc_phenotype": ["desert", "desert", "inflamed"],
            }
        ),
        tmp_path / "figures/pet_suvmax_by_ihc_phenotype.source.tsv",
    )
    _models(
        tmp_path,
        [
            [
                "site",
                "test[site]",
                4.3203,
                None,
                None,
                0.0022,
                219.43,
                "Satterthwaite F test (REML) of ...: F(4, 219.4)",
            ],
            ["ihc_phenotype", "n_measurements", 3, None, None, None, None, "lesion measurements"],
            ["ihc_phenotype", "ratio[stromal_or_inflamed/desert]", 1.8174, 1.1897, 2.7764, None, 26.3, "Satterthwaite"],
            ["ihc_phenotype", "test[ihc_phenotype_group]", 7.85, None, None, 0.0051, 1, "likelihood-ratio chi-square"],
        ],
    )
    assert _summary(tmp_path, "pet_suvmax_by_site.png") == (
        "n = 2 patients, 5 lesions; linear mixed model, Satterthwaite F test, F(4, 219.4) = 4.32: p = 0.0022"
    )
    assert _summary(tmp_path, "pet_suvmax_by_ihc_phenotype.png") == (
        "n = 2 biopsied lesions of 2 patients, 3 lesion measurements (baseline and on treatment); ratio stromal or "
        "inflamed / desert 1.817 (95% CI 1.190-2.776, Satterthwaite t); linear mixed model, likelihood-ratio test "
        "under ML: p = 0.0051"
    )


def test_lesion_table_counts_measurements_per_timepoint(tmp_path):
    write_table(
        pd.DataFrame(
            {"patient_id": ["P1", "P1", "P2", "P2", "P2"], "timepoint": ["baseline"] * 3 + ["on_treatment"] * 2}
        ),
        tmp_path / "tables/lesions.tsv",
    )
    assert _summary(tmp_path, "lesions.tsv") == ("n = 5 lesion measurements in 2 patients (baseline 3, on_treatment 2)")
