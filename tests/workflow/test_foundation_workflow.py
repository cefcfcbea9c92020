"""Real snakemake runs: the patient table matches the simulator's truth; bad input stops."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_patients_table_matches_truth(demo_run):
    patients = pd.read_csv(demo_run / "results/small/tables/patients.tsv", sep="\t")
    truth = pd.read_csv(demo_run / "results/small/raw/truth/patients.tsv", sep="\t")
    assert len(patients) == 24 and patients["patient_id"].is_unique
    merged = patients.merge(truth, on="patient_id", suffixes=("", "_truth"))
    assert len(merged) == 24
    # Follow-up derived from dates equals the drawn durations, in days / 30.4375.
    np.testing.assert_allclose(merged["os_months"], merged["os_days_truth"] / 30.4375)
    np.testing.assert_array_equal(merged["os_event"], merged["os_event_truth"])
    np.testing.assert_allclose(merged["pfs_months"], merged["pfs_days_truth"] / 30.4375)
    np.testing.assert_array_equal(merged["pfs_event"], merged["pfs_event_truth"])
    assert (merged["dmmr"] == merged["dmmr_truth"]).all()
    contract = ["patient_id", "pet_geomean_suvmax_baseline", "immunosign_score", "bor", "pfs_months", "os_event"]
    assert set(contract) <= set(patients.columns)


def test_misspelled_config_key_stops_the_run(tmp_path):
    result = run_snakemake(tmp_path, {"cohorts": {"demo": {"simulate": {}, "nanostrng": {}}}}, check=False)
    assert result.returncode != 0
    assert "unknown key(s) ['nanostrng']" in result.stderr + result.stdout
    assert not list(tmp_path.glob("results/**/patients.tsv"))


def test_clinical_table_without_patient_id_stops_the_run(tmp_path):
    clinical = tmp_path / "inputs" / "clinical.tsv"
    clinical.parent.mkdir()
    clinical.write_text("subject\tos_days\tos_event\nA\t10\t1\n")
    before = clinical.read_bytes()
    result = run_snakemake(tmp_path, {"cohorts": {"trial": {"clinical": str(clinical)}}}, check=False)
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert str(clinical) in output and "column 'patient_id'" in output
    assert not (tmp_path / "results/trial/tables/patients.tsv").exists()
    assert clinical.read_bytes() == before  # inputs are never written


def test_patient_ids_keep_their_exact_text_through_every_stage(tmp_path):
    """IDs with leading zeros and numeric look-alikes survive to patients.tsv (issue 15).

    pandas' inference read 001..006 back as 1..6 and made 01 and 1 one patient, which
    crashed rule recist; the workflow now reads its tables through their schemas.
    """
    ids = ["001", "002", "003", "004", "005", "006", "01", "1"]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    clinical = ["patient_id\tos_days\tos_event\tpfs_days\tpfs_event\tdmmr\tage"]
    recist = ["patient_id\tassessment_day\tlesion_id\tkind\tdiameter_mm\tstatus"]
    for k, patient in enumerate(ids):
        clinical.append(
            f"{patient}\t{200 + 40 * k}\t{k % 2}\t{60 + 20 * k}\t1\t{'true' if k % 3 == 0 else 'false'}\t{50 + k}"
        )
        for day, size in zip((-3, 56, 112), (40, 40 - 3 * k, 40 + 4 * (k % 3)), strict=True):
            recist.append(f"{patient}\t{day}\tL1\ttarget\t{size}\t")  # per-patient lesion IDs
    (inputs / "clinical.tsv").write_text("\n".join(clinical) + "\n")
    (inputs / "recist.tsv").write_text("\n".join(recist) + "\n")
    config = {"cohorts": {"trial": {"clinical": "inputs/clinical.tsv", "recist": "inputs/recist.tsv"}}}
    run_snakemake(tmp_path, config)

    out = tmp_path / "results" / "trial"

    def text(relative):
        return pd.read_csv(out / relative, sep="\t", dtype=str, keep_default_na=False)

    assert text("tables/patients.tsv")["patient_id"].tolist() == sorted(ids)
    assert text("clinical/clinical.tsv")["patient_id"].tolist() == ids
    assert sorted(text("response/patient_features.tsv")["patient_id"]) == sorted(ids)
    assert set(text("tables/recist_timepoints.tsv")["patient_id"]) == set(ids)
    assert set(text("tables/data_availability.tsv")["patient_id"]) == set(ids)
    patients = text("tables/patients.tsv").set_index("patient_id")
    assert patients.loc["01", "age"] == "56" and patients.loc["1", "age"] == "57"
    assert patients.loc["001", "dmmr"] == "True" and patients.loc["002", "dmmr"] == "False"
    assert (out / "tables/survival_km.tsv").is_file()
