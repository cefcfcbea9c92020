"""A real snakemake run of a simulated cohort with a dose-finding part: biodistribution outputs."""

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_dose_finding_cohort_gives_biodistribution_and_dose_comparison(tmp_path):
    config = {
        "cohorts": {
            "dosefind": {
                "simulate": {"patients": 4, "seed": 11},
                "pet": {"simulate_dose_finding": {"patients": 8}},
            }
        }
    }
    targets = [
        "results/dosefind/tables/pet_biodistribution.tsv",
        "results/dosefind/figures/pet_biodistribution.png",
    ]
    run_snakemake(tmp_path, config, *targets)
    results = tmp_path / "results/dosefind"
    truth = yaml.safe_load((results / "raw/pet/dose_finding_truth.yaml").read_text())
    scans = pd.read_csv(results / "raw/pet/scans.tsv", sep="\t")
    dosing = scans[scans["days_post_injection"].notna()]
    assert len(dosing) == 8 * 4 and sorted(dosing["days_post_injection"].unique()) == [0, 2, 4, 7]
    assert dosing.groupby("protein_dose_mg")["patient_id"].nunique().to_dict() == {4.0: 4, 10.0: 4}

    # Quantified reference regions reproduce the simulated SUVmean (5 % voxel noise averages out).
    references = pd.read_csv(results / "pet/reference_regions.tsv", sep="\t")
    measured = references[references["days_post_injection"].notna()]
    expected = pd.DataFrame(truth["scans"]).rename(columns={"tissue": "region"})
    merged = measured.merge(expected, on=["patient_id", "days_post_injection", "region"], suffixes=("", "_truth"))
    assert len(merged) == len(measured) == 8 * 4 * 7
    # Multiplicative voxel noise SD 5 %: the region mean is within 4 standard errors
    # (0.05 / sqrt(voxels); the 32-voxel lymph node has the widest, 3.5 %).
    relative = (merged["suvmean"] / merged["suvmean_truth"] - 1).abs()
    assert (relative < 4 * 0.05 / np.sqrt(merged["voxels"])).all()
    assert (merged["suvmax"] > merged["suvmean"]).all()
    # The lesion table holds the cohort's lesions only (dose-finding scans have none).
    lesions = pd.read_csv(results / "tables/lesions.tsv", sep="\t")
    assert not lesions["patient_id"].str.startswith("DF").any()
    assert not any(c in lesions.columns for c in ("tumor_to_spleen", "tumor_to_liver"))

    table = pd.read_csv(results / "tables/pet_biodistribution.tsv", sep="\t")
    assert table.columns[:7].tolist() == ["tissue", "day", "dose_mg", "statistic", "estimate", "ci_low", "ci_high"]
    assert list(dict.fromkeys(table["tissue"])) == list(truth["kinetics"])
    adjusted = table[table["method"].str.startswith("model") & table["dose_mg"].isna()]
    assert len(adjusted) == 7 * 4 * 2 and (adjusted["n_patients"] == 8).all()
    assert ((adjusted["ci_low"] < adjusted["estimate"]) & (adjusted["estimate"] < adjusted["ci_high"])).all()
    # Satterthwaite t intervals: df between the patients' (8 - 2) and the scans' residual df.
    assert adjusted["df"].between(6, 8 * 4).all() and adjusted["method"].str.contains("Satterthwaite t").all()
    blood = adjusted[(adjusted["tissue"] == "blood_pool") & (adjusted["statistic"] == "suvmean")]
    assert blood["estimate"].is_monotonic_decreasing  # blood pool clears over days

    comparison = pd.read_csv(results / "tables/pet_dose_comparison.tsv", sep="\t")
    assert set(comparison["tissue"]) == {"blood_pool", "spleen"}
    spleen = comparison[(comparison["tissue"] == "spleen") & comparison["day"].notna()]
    assert (spleen["ratio"] < 1).all()  # spleen higher at the lower dose (antigen sink)
    assert comparison["method"].str.contains("Satterthwaite").all() and comparison["df"].notna().all()
    assert not comparison["method"].str.contains("likelihood-ratio").any()
    overall = comparison[
        comparison["day"].isna() & comparison["ratio"].notna() & (comparison["statistic"] == "suvmean")
    ]
    for row in overall.itertuples():
        ratio = truth["kinetics"][row.tissue]["ratio_10mg_4mg"]
        assert row.ci_low <= ratio <= row.ci_high, row.tissue
    assert (results / "figures/pet_biodistribution.source.tsv").exists()
