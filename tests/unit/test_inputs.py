"""Cross-modality patient reconciliation in validate_inputs (contexture.inputs.reconcile_patients)."""

from __future__ import annotations

import logging

import pytest

from contexture import inputs
from contexture.errors import InputError

VOI = "patient_id\tlesion_id\ttimepoint\tscan_day\tsite\tsuvmax\n"
RECIST = "patient_id\tassessment_day\tlesion_id\tkind\tdiameter_mm\n"
DENSITIES = "slide_id\tpatient_id\ttimepoint\tregion\tmarker\tdensity\n"


def _cohort(tmp_path, **extra):
    (tmp_path / "clinical.tsv").write_text("patient_id\tos_days\tos_event\n001\t100\t1\nP2\t200\t0\nP3\t50\t1\n")
    # "1" is not "001": IDs are compared as the text the user wrote.
    (tmp_path / "voi.tsv").write_text(VOI + "001\tL1\tbaseline\t-2\tliver\t4\n1\tL1\tbaseline\t-2\tlung\t3\n")
    (tmp_path / "recist.tsv").write_text(
        RECIST + "P2\t0\tL1\ttarget\t20\nP9\t0\tL1\ttarget\t15\nP8\t0\tL1\ttarget\t9\n"
    )
    (tmp_path / "densities.tsv").write_text(DENSITIES + "S1\tP3\tbaseline\ttumor\tCD8\t120\n")
    return {
        "clinical": str(tmp_path / "clinical.tsv"),
        "recist": str(tmp_path / "recist.tsv"),
        "pet": {"voi_table": str(tmp_path / "voi.tsv")},
        "ihc": {"densities": str(tmp_path / "densities.tsv")},
        **extra,
    }


def test_unknown_patients_are_refused_with_the_other_problems(tmp_path):
    cohort = _cohort(tmp_path)
    # one more problem of another kind: every problem is listed at once
    (tmp_path / "densities.tsv").write_text(DENSITIES + "S1\tP3\tbaseline\ttumor\tCD8\tmany\n")
    with pytest.raises(InputError) as error:
        inputs.validate_cohort_inputs("trial", cohort)
    message = str(error.value)
    assert "3 problem(s) in the inputs of cohort 'trial'" in message
    clinical = tmp_path / "clinical.tsv"
    assert (
        f"RECIST table '{tmp_path / 'recist.tsv'}', column 'patient_id': 2 patient(s) not in the clinical table "
        f"'{clinical}': P8 (row 3), P9 (row 2)" in message
    )
    assert f"PET VOI table '{tmp_path / 'voi.tsv'}', column 'patient_id': 1 patient(s) not in the clinical" in message
    assert "1 (row 2); expected every patient in the clinical table (or set on_unknown_patient: warning)" in message
    assert "column 'density': got 'many'" in message


def test_warning_mode_logs_both_directions_and_goes_on(tmp_path, caplog):
    cohort = _cohort(tmp_path, on_unknown_patient="warning")
    with caplog.at_level(logging.WARNING, logger="contexture.inputs"):
        table = inputs.validate_cohort_inputs("trial", cohort)
    assert set(table["modality"]) == {"clinical", "recist", "pet", "ihc"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("RECIST table" in w and "P8 (row 3), P9 (row 2)" in w for w in warnings)
    # the reverse: clinical patients without a modality's data, in the modalities' order
    assert warnings[-3:] == [
        "2 clinical patient(s) have no recist data: 001, P3",
        "2 clinical patient(s) have no pet data: P2, P3",
        "2 clinical patient(s) have no ihc data: 001, P2",
    ]


def test_reverse_direction_alone_is_only_a_warning(tmp_path, caplog):
    cohort = _cohort(tmp_path)
    (tmp_path / "voi.tsv").write_text(VOI + "001\tL1\tbaseline\t-2\tliver\t4\n")
    (tmp_path / "recist.tsv").write_text(RECIST + "P2\t0\tL1\ttarget\t20\n")
    with caplog.at_level(logging.WARNING, logger="contexture.inputs"):
        inputs.validate_cohort_inputs("trial", cohort)
    assert "2 clinical patient(s) have no pet data: P2, P3" in caplog.text


def test_no_reconciliation_without_a_clinical_table(tmp_path):
    found = inputs.Collector()
    found.patients[("pet", "PET VOI table", "voi.tsv")] = {"P1": 1}
    assert inputs.reconcile_patients(found) == [] and found.problems == []


def test_validation_config_keeps_inputs_and_validation_options_only():
    cohort = {
        "description": "trial",
        "on_unknown_patient": "warning",
        "limits": {"table_mb": 10},
        "clinical": "clinical.tsv",
        "survival": {"conf_level": 0.9},
        "pet": {"voi_table": "voi.tsv", "half_life_hours": 78.41},
        "ihc": {
            "slides": "slides.tsv",
            "columns": {"Centroid X µm": "x"},
            "pixel_size_um": 0.5,
            "immunoscore": {"reference": "ref.tsv", "percentile": 25},
            "proximity_um": 20,
        },
        "nanostring": {"rcc": "rcc/", "samples": "samples.tsv", "qc": {"fov_min": 0.75}},
    }
    assert inputs.validation_config(cohort) == {
        "limits": {"table_mb": 10},
        "on_unknown_patient": "warning",
        "clinical": "clinical.tsv",
        "pet": {"voi_table": "voi.tsv"},
        "ihc": {
            "slides": "slides.tsv",
            "columns": {"Centroid X µm": "x"},
            "pixel_size_um": 0.5,
            "immunoscore": {"reference": "ref.tsv"},
        },
        "nanostring": {"rcc": "rcc/", "samples": "samples.tsv"},
    }
