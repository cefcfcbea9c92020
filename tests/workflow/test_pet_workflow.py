"""Real snakemake runs of the PET stage: the demo recovers the simulated SUVmax; bad input stops."""

import numpy as np
import pandas as pd
import pytest

from contexture.io.pet_images import write_nifti
from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_demo_lesions_reproduce_the_simulated_truth(demo_run):
    results = demo_run / "results/small"
    lesions = pd.read_csv(results / "tables/lesions.tsv", sep="\t")
    truth = pd.read_csv(results / "raw/truth/lesions.tsv", sep="\t")
    contract = ["patient_id", "lesion_id", "timepoint", "scan_day", "site", "suvmax", "suvmean", "suvpeak", "volume_ml"]
    assert lesions.columns[: len(contract)].tolist() == contract
    assert {"voxels", "irradiated", "tumor_to_blood", "tumor_to_muscle"} <= set(lesions.columns)
    merged = lesions.merge(truth, on=["patient_id", "lesion_id", "timepoint"], suffixes=("", "_truth"), validate="1:1")
    assert len(merged) == len(truth) == len(lesions)
    # SUVmax: the simulator puts the drawn value in the centre voxel; storage is float32
    # (NIfTI) or int16 with slope = slice max / 32000 (DICOM): relative error < 1e-4.
    np.testing.assert_allclose(merged["suvmax"], merged["suvmax_truth"], rtol=1e-4)
    assert (merged["site"] == merged["site_truth"]).all()
    assert (merged["irradiated"] == merged["irradiated_truth"]).all()
    assert (merged["scan_day"] == merged["scan_day_truth"]).all()
    # Volume: spheres discretized on 4 mm voxels (0.064 ml; a 0.5-2 ml sphere is 7-31
    # voxels), some masks resampled from 2 mm: within a factor 2 below 2 ml, 1.5 up to
    # 5 ml, 20 % above; unbiased overall (median ratio within 10 %).
    ratio = merged["volume_ml"] / merged["volume_ml_truth"]
    size = merged["volume_ml_truth"]
    assert ratio[size < 2].between(0.5, 2).all() and ratio[size >= 2].between(1 / 1.5, 1.5).all()
    assert ratio[size >= 5].between(0.8, 1.2).all() and abs(ratio.median() - 1) < 0.1
    assert (lesions["suvpeak"] <= lesions["suvmax"] + 1e-9).all()
    assert (lesions["suvmean"] <= lesions["suvmax"] + 1e-9).all()

    # Both readers ran, and at least one mask was resampled from another grid.
    scans = pd.read_csv(results / "pet/scans.tsv", sep="\t")
    assert set(scans["format"]) == {"dicom", "nifti"} and scans["mask_resampled"].any()
    assert (scans["uptake_s"].between(45 * 3600, 51 * 3600)).all()  # 2 days +- 3 h
    assert scans["uptake_in_window"].all() and set(scans["radionuclide"]) == {"Zr89"}  # 36-180 h

    # SUL: every simulated scan carries height and sex; SUL / SUV = LBM / W of its scan
    # (Janmahasatian LBM of a 45-130 kg, 150-200 cm adult: 30-90 kg).
    keys = ["patient_id", "timepoint"]
    with_scan = lesions.merge(scans[[*keys, "lbm_kg", "weight_kg"]], on=keys, validate="m:1")
    for suv, sul in (("suvmax", "sulmax"), ("suvpeak", "sulpeak"), ("suvmean", "sulmean")):
        assert with_scan[sul].notna().all()
        expected_sul = with_scan[suv] * with_scan["lbm_kg"] / with_scan["weight_kg"]
        np.testing.assert_allclose(with_scan[sul], expected_sul, rtol=1e-6)
    assert scans["lbm_kg"].between(30, 90).all() and set(scans["lbm_formula"]) == {"janmahasatian"}
    # Plausibility: no zero SUVmax on the patients' own masks; the only flag the demo can
    # carry is a lesion drawn with SUVmax at or below its scan's blood pool (SUV ~2).
    assert set(lesions["qc_flag"].dropna()) <= {"at_or_below_blood_pool"}
    flagged = lesions["qc_flag"].notna()
    assert (lesions.loc[flagged, "tumor_to_blood"] <= 1 + 1e-9).all()
    assert (lesions.loc[~flagged, "tumor_to_blood"] > 1).all()

    references = pd.read_csv(results / "pet/reference_regions.tsv", sep="\t")
    assert len(references) == 2 * len(scans) and set(references["region"]) == {"aorta", "muscle"}
    muscle = references.loc[references["region"] == "muscle", "suvmean"]
    np.testing.assert_allclose(muscle, 0.5, rtol=0.02)  # simulated muscle SUV 0.5 +- 5 % noise

    # Patient feature: geometric mean of baseline SUVmax over non-irradiated lesions.
    patients = pd.read_csv(results / "tables/patients.tsv", sep="\t")
    latent = pd.read_csv(results / "raw/truth/patients.tsv", sep="\t")
    baseline = truth[(truth["timepoint"] == "baseline") & ~truth["irradiated"]]
    expected = np.exp(np.log(baseline["suvmax"]).groupby(baseline["patient_id"]).mean())
    got = patients.set_index("patient_id")["pet_geomean_suvmax_baseline"]
    np.testing.assert_allclose(got.reindex(expected.index), expected, rtol=1e-4)
    assert set(latent["patient_id"]) == set(patients["patient_id"])


def test_voi_table_cohort_gives_lesions_and_patient_features(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "clinical.tsv").write_text("patient_id\tos_days\tos_event\nA\t100\t1\nB\t200\t0\n")
    (inputs / "voi.tsv").write_text(
        "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\tirradiated\n"
        "A\tA1\tbaseline\t-3\tliver\t2\tfalse\nA\tA2\tbaseline\t-3\tlung\t8\tfalse\n"
        "A\tA3\tbaseline\t-3\tbone\t50\ttrue\nB\tB1\tbaseline\t-1\tlymph_node\t5\tfalse\n"
    )
    config = {
        "cohorts": {"trial": {"clinical": str(inputs / "clinical.tsv"), "pet": {"voi_table": str(inputs / "voi.tsv")}}}
    }
    run_snakemake(tmp_path, config)
    patients = pd.read_csv(tmp_path / "results/trial/tables/patients.tsv", sep="\t").set_index("patient_id")
    assert patients.loc["A", "pet_geomean_suvmax_baseline"] == pytest.approx(4.0)  # sqrt(2 * 8), irradiated out
    assert patients.loc["B", "pet_geomean_suvmax_baseline"] == pytest.approx(5.0)
    lesions = pd.read_csv(tmp_path / "results/trial/tables/lesions.tsv", sep="\t")
    assert len(lesions) == 4 and lesions["suvmean"].isna().all()


def test_clinical_and_voi_cohort_makes_no_ihc_recist_or_response_figure(tmp_path):
    """Only outputs whose inputs exist (issue 20): without IHC or RECIST, no figure grouped
    by IHC phenotype or best response is made, and the bundle and its legends do not list one."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "clinical.tsv").write_text(
        "patient_id\tos_days\tos_event\tdmmr\nA\t100\t1\ttrue\nB\t200\t0\tfalse\nC\t300\t1\tfalse\n"
    )
    (inputs / "voi.tsv").write_text(
        "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\n"
        "A\tA1\tbaseline\t-3\tliver\t2\nA\tA2\tbaseline\t-3\tlung\t8\nB\tB1\tbaseline\t-1\tliver\t5\n"
        "C\tC1\tbaseline\t-2\tlung\t4\n"
    )
    config = {
        "cohorts": {"trial": {"clinical": str(inputs / "clinical.tsv"), "pet": {"voi_table": str(inputs / "voi.tsv")}}}
    }
    run_snakemake(tmp_path, config)
    figures = {path.name for path in (tmp_path / "results/trial/figures").glob("*.png")}
    # PET figures grouped by what the clinical table and the VOI table give are made ...
    assert {"pet_lesion_overview.png", "pet_suvmax_by_site.png", "pet_suvmax_by_dmmr.png"} <= figures
    # ... those grouped by IHC phenotype or response, and the IHC/RECIST/response stages' own, are not.
    absent = {
        "pet_suvmax_by_ihc_phenotype.png",
        "pet_change_per_week_by_response.png",
        "signature_changes_by_response.png",
        "best_percent_change_waterfall.png",
        "target_sum_change_spider.png",
        "response_swimmer.png",
        "response_classifier_roc.png",
        "ihc_cd8_density_by_phenotype.png",
        "ihc_suvmax_vs_cd8_density.png",
    }
    assert not figures & absent
    bundle = tmp_path / "results/trial/bundle"
    shipped = {path.name for path in bundle.rglob("*.png")}
    assert "pet_suvmax_by_dmmr.png" in shipped and not shipped & absent
    legends = (bundle / "LEGENDS.md").read_text()
    assert "pet_suvmax_by_dmmr" in legends
    assert not [name for name in absent if name.removesuffix(".png") in legends]


def test_nifti_without_sidecar_stops_the_run_naming_the_file(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "clinical.tsv").write_text("patient_id\nP1\n")
    write_nifti(inputs / "pet.nii.gz", np.ones((8, 8, 8), np.float32), np.eye(4))
    labels = np.zeros((8, 8, 8), np.int16)
    labels[2:4, 2:4, 2:4] = 1
    write_nifti(inputs / "mask.nii.gz", labels, np.eye(4))
    (inputs / "labels.tsv").write_text("label\tlesion_id\tsite\tkind\n1\tL1\tliver\tlesion\n")
    (inputs / "scans.tsv").write_text(
        "patient_id\ttimepoint\tscan_day\timage\tmask\tlabels\nP1\tbaseline\t-2\tpet.nii.gz\tmask.nii.gz\tlabels.tsv\n"
    )
    before = sorted(p.name for p in inputs.iterdir())
    config = {
        "cohorts": {"trial": {"clinical": str(inputs / "clinical.tsv"), "pet": {"scans": str(inputs / "scans.tsv")}}}
    }
    result = run_snakemake(tmp_path, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "pet.nii.gz' has no BIDS-PET sidecar" in output and str(inputs) in output
    assert not (tmp_path / "results/trial/tables/lesions.tsv").exists()
    assert sorted(p.name for p in inputs.iterdir()) == before  # nothing written into the inputs
