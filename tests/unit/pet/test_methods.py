"""The pet methods paragraph: half-life, SUVpeak sphere, irradiated rule, models, biodistribution."""

from __future__ import annotations

import pandas as pd

from contexture.pet import biodistribution as bd
from contexture.pet import methods
from contexture.pet.suv import HALF_LIFE_S
from tests.unit.pet.test_pet_biodistribution import balanced_references


def _write(tmp_path, half_lives=(HALF_LIFE_S["Zr89"],), models=True, irradiated=(False, False, False, False)):
    (tmp_path / "tables").mkdir()
    (tmp_path / "pet").mkdir()
    # Lesion IDs per patient, as reading software writes them: 001/L1 and 002/L1 are two lesions.
    pd.DataFrame(
        {"patient_id": ["001", "001", "002", "001"], "lesion_id": ["L1", "L2", "L1", "L1"],
         "timepoint": ["baseline", "baseline", "baseline", "on_treatment"], "suvmax": [5.0, 4.0, 6.0, 3.0],
         "irradiated": list(irradiated)}
    ).to_csv(tmp_path / "tables/lesions.tsv", sep="\t", index=False)  # fmt: skip
    scans = pd.DataFrame({"patient_id": ["001", "002"], "format": "dicom"})
    if half_lives is None:
        scans["format"] = "voi_table"
    else:
        scans["half_life_s"] = [half_lives[i % len(half_lives)] for i in range(len(scans))]
    scans.to_csv(tmp_path / "pet/scans.tsv", sep="\t", index=False)
    if models:
        pd.DataFrame(
            {"analysis": ["icc", "change_per_week", "change_per_week", "change_per_week_volume_adjusted"],
             "term": ["icc", "percent_change_per_week[all]", "interaction_ratio[responder/non_responder]",
                      "percent_change_per_week[all]"]}
        ).to_csv(tmp_path / "tables/pet_models.tsv", sep="\t", index=False)  # fmt: skip


def test_empty_without_pet_tables(tmp_path, cohort_config):
    assert methods.methods_paragraph(tmp_path, cohort_config()) == ""


def test_defaults_and_counts(tmp_path, cohort_config):
    _write(tmp_path)
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert "quantified in 3 baseline lesions of 2 patients (4 lesion measurements in all)" in text
    assert "the radionuclide half-life, 78.41 h for 89Zr, using" in text
    assert "(mean in a 1 cm³ sphere" in text and "No lesion was marked irradiated." in text
    assert "heterogeneity is the intraclass correlation" in text
    assert text.endswith(
        "per week, with its interaction with best overall response and a lesion-volume-adjusted sensitivity analysis."
    )


def test_changed_options_and_half_lives_reach_the_text(tmp_path, cohort_config):
    _write(tmp_path, half_lives=(HALF_LIFE_S["F18"], 3600.0 * 2.5), irradiated=(False, True, False, False))
    options = {"pet": {"peak_volume_ml": 0.5, "half_life_hours": 10}, "pet_analysis": {"exclude_irradiated": False}}
    text = methods.methods_paragraph(tmp_path, cohort_config(options))
    # the half-lives the scans were corrected with, not the configured fallback
    assert "half-life, 1.8295 h for 18F, 2.5 h, using" in text and "10 h" not in text
    assert "(mean in a 0.5 cm³ sphere" in text and "78.41" not in text
    assert (
        "Irradiated lesions (1 of 3 baseline lesions) were excluded from the per-patient geometric mean but kept in "
        "the mixed models and figures." in text
    )


def test_voi_table_and_missing_analyses(tmp_path, cohort_config):
    _write(tmp_path, half_lives=None, models=False, irradiated=(True, False, False, True))
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert "Irradiated lesions (1 of 3 baseline lesions) were excluded from the per-patient geometric mean." in text
    assert "was read from a per-VOI statistics table" in text and "half-life" not in text and "sphere" not in text
    assert "(SUVmax as exported; no SUV was recomputed from images)" in text
    assert "mixed models" not in text
    pd.DataFrame({"analysis": ["change_per_week"], "term": ["percent_change_per_week[all]"]}).to_csv(
        tmp_path / "tables/pet_models.tsv", sep="\t", index=False
    )
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert text.endswith("change during treatment is the % change in geometric mean SUVmax per week.")
    assert "intraclass" not in text


def test_biodistribution_paragraph_states_design_and_ratios():
    references = balanced_references()
    table, comparison = bd.biodistribution_table(references), bd.dose_comparison(references)
    text = methods.biodistribution_paragraph(table, comparison, ci_level=0.95)
    assert "8 patients" in text and "0, 2, 4, 7 days" in text and "4 and 10 mg" in text
    assert "random intercept per patient" in text and "blood pool" in text and "Wald" not in text
    assert "95% confidence intervals from t distributions with Satterthwaite degrees of freedom" in text
    assert "Satterthwaite t-tests" in text and "day-by-dose interaction" in text and "likelihood" not in text
    # The headline ratio is the table's, with its t-test p.
    overall = comparison[
        comparison["day"].isna() & comparison["ratio"].notna() & (comparison["statistic"] == "suvmean")
    ]
    blood = overall[overall["tissue"] == "blood_pool"].iloc[0]
    assert (
        f"blood pool {blood['ratio']:.2f} (95% CI {blood['ci_low']:.2f}-{blood['ci_high']:.2f}; p = {blood['p']:.2g})"
        in text
    )
    assert methods.biodistribution_paragraph(pd.DataFrame(), None, ci_level=0.95) == ""
    # Three doses: each dose against the lowest, an F test of dose, each ratio labelled by dose.
    three = references.assign(
        protein_dose_mg=references["protein_dose_mg"].where(references["patient_id"] != "P7", 7.0)
    )
    table, comparison = bd.biodistribution_table(three), bd.dose_comparison(three)
    text = methods.biodistribution_paragraph(table, comparison, ci_level=0.95)
    assert "each dose vs 4 mg" in text and "dose overall with an F test" in text and "blood pool 7 mg" in text


def test_biodistribution_follows_the_pet_paragraph_with_the_configured_level(tmp_path, cohort_config):
    _write(tmp_path)
    references = balanced_references()
    bd.biodistribution_table(references).to_csv(tmp_path / "tables/pet_biodistribution.tsv", sep="\t", index=False)
    bd.dose_comparison(references).to_csv(tmp_path / "tables/pet_dose_comparison.tsv", sep="\t", index=False)
    text = methods.methods_paragraph(tmp_path, cohort_config({"pet": {"biodistribution": {"ci_level": 0.9}}}))
    uptake, biodistribution = text.split("\n\n", 2)[1:]
    assert uptake.startswith("Uptake was quantified") and biodistribution.startswith("Biodistribution was assessed")
    assert "90% confidence intervals from t distributions" in biodistribution and "(90% CI" in biodistribution


def test_models_state_satterthwaite_and_the_phenotype_design(tmp_path, cohort_config):
    _write(tmp_path)
    rows = [
        ("ihc_phenotype", "n_measurements", 33, "lesion measurements"),
        ("ihc_phenotype", "n_lesions", 28, "lesions"),
        ("ihc_phenotype", "n_patients", 24, "patients"),
        ("ihc_phenotype", "geometric_mean_suvmax[desert]", 3.1, "ln SUVmax ~ 0 + g + (1|patient) + (1|patient:lesion)"),
    ]
    pd.DataFrame(rows, columns=["analysis", "term", "estimate", "method"]).to_csv(
        tmp_path / "tables/pet_models.tsv", sep="\t", index=False
    )
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert "t distributions with Satterthwaite degrees of freedom (as lmerTest)" in text
    assert "F tests with Satterthwaite denominator degrees of freedom" in text
    assert "compared on the 28 biopsied lesions of 24 patients" in text
    assert "(33 lesion measurements at baseline and on treatment, with a random intercept per lesion as well)" in text
    rows = [
        ("ihc_phenotype_patient_projected", "n_measurements", 176, ""),
        ("ihc_phenotype_patient_projected", "n_patients", 28, ""),
    ]
    pd.DataFrame(rows, columns=["analysis", "term", "estimate", "method"]).to_csv(
        tmp_path / "tables/pet_models.tsv", sep="\t", index=False
    )
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert "projected onto all their baseline lesions (176 lesions of 28 patients; patient-level option" in text


def test_sul_uptake_window_and_flags_reach_the_text(tmp_path, cohort_config):
    _write(tmp_path)
    scans = pd.read_csv(tmp_path / "pet/scans.tsv", sep="\t")
    scans["radionuclide"] = "Zr89"
    scans["uptake_in_window"] = [True, False]
    scans["lbm_kg"] = [55.9, None]
    scans["mask_grid_adopted"] = [False, False]
    scans.to_csv(tmp_path / "pet/scans.tsv", sep="\t", index=False)
    lesions = pd.read_csv(tmp_path / "tables/lesions.tsv", sep="\t")
    lesions["qc_flag"] = [None, "uptake_outside_window", None, None]
    lesions.to_csv(tmp_path / "tables/lesions.tsv", sep="\t", index=False)
    text = methods.methods_paragraph(tmp_path, cohort_config())
    assert "LBM by Janmahasatian et al. 2005: 9270 W / (6680 + 216 BMI) for men" in text
    assert "computed where height and sex were known (1 of 2 scans)" in text
    assert "expected window (89Zr 36-180 h after injection); 1 scan fell outside." in text
    assert "were flagged (1 of 4) and kept in the analyses" in text and "world space" not in text
    options = {"pet": {"lean_body_mass": "james", "uptake_window_hours": {"Zr89": [40, 170]}}}
    text = methods.methods_paragraph(tmp_path, cohort_config(options))
    assert "LBM by James 1976: 1.10 W - 128 (W/H)²" in text and "(89Zr 40-170 h after injection)" in text
