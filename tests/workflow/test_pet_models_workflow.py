"""Real snakemake run of rule pet_models on a cohort given as a per-VOI table.

The VOI table is the simulator's truth (plus suvmean/suvpeak columns); best response
and IHC phenotype come from the clinical table (the cohort has no RECIST or IHC inputs),
so the workflow builds lesions.tsv and patients.tsv and then runs pet_models. Without
slides naming lesions the phenotype can only be the patient's, so the test asks for the
patient-projected analysis explicitly (``ihc_phenotype_unit: patient``).
"""

import numpy as np
import pandas as pd
import pytest

from contexture.io import read_table, write_table
from contexture.pet.models import run_pet_models
from contexture.simulate import clinical_table, simulate_latent
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow

FIGURES = [
    "pet_lesion_overview",
    "pet_suvmax_by_site",
    "pet_suvmax_by_dmmr",
    "pet_suvmax_by_ihc_phenotype",
    "pet_change_per_week_by_response",
]


def test_pet_models_rule_writes_table_and_figures(tmp_path):
    latent, lesions, _ = simulate_latent(patients=30, seed=4)
    lesions = lesions.drop(columns="diameter_mm")
    lesions["suvmean"] = lesions["suvmax"] * 0.6
    lesions["suvpeak"] = lesions["suvmax"] * 0.8
    lesions = lesions[["patient_id", "lesion_id", "timepoint", "scan_day", "site", "suvmax", "suvmean", "suvpeak",
                       "volume_ml", "irradiated"]]  # fmt: skip
    write_table(lesions, tmp_path / "inputs/voi.tsv")
    clinical = clinical_table(latent).assign(bor=latent["bor"], ihc_phenotype=latent["ihc_phenotype"])
    write_table(clinical, tmp_path / "inputs/clinical.tsv")
    options = {"bootstrap_replicates": 199, "seed": 3, "ihc_phenotype_unit": "patient"}
    config = {
        "cohorts": {
            "trial": {
                "clinical": "inputs/clinical.tsv",
                "pet": {"voi_table": "inputs/voi.tsv"},
                "pet_analysis": options,
            }
        }
    }
    run_snakemake(
        tmp_path,
        config,
        "results/trial/tables/pet_models.tsv",
        *[f"results/trial/figures/{name}.png" for name in FIGURES],
    )

    out = pd.read_csv(tmp_path / "results/trial/tables/pet_models.tsv", sep="\t")
    patients = read_table(tmp_path / "results/trial/tables/patients.tsv", "results/tables/patients")
    expected = run_pet_models(
        read_table(tmp_path / "results/trial/tables/lesions.tsv", "results/tables/lesions"), patients, options
    )
    pd.testing.assert_frame_equal(out, expected, check_exact=False, rtol=1e-9)
    indexed = out.set_index(["analysis", "term"])
    baseline = lesions[(lesions["timepoint"] == "baseline") & ~lesions["irradiated"]]
    assert indexed.loc[("baseline_geomean", "n_lesions"), "estimate"] == len(baseline)
    per_patient = np.exp(np.log(baseline["suvmax"]).groupby(baseline["patient_id"]).mean())
    assert indexed.loc[("baseline_geomean", "patient_geomean_median"), "estimate"] == pytest.approx(
        per_patient.median(), rel=1e-8
    )
    assert {"dmmr", "ihc_phenotype_patient_projected", "change_per_week", "response_trend"} <= set(out["analysis"])
    assert out["df"].notna().any() and out["method"].str.contains("Satterthwaite t (REML)", regex=False).any()
    for name in FIGURES:
        for suffix in (".png", ".pdf", ".source.tsv"):
            assert (tmp_path / f"results/trial/figures/{name}{suffix}").is_file(), name + suffix
    assert (tmp_path / "results/trial/benchmarks/pet_models.tsv").is_file()
