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
