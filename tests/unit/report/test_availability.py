"""Data availability table, overview matrix and the unknown-patient check."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.report.availability import (
    LABELLED_PATIENTS,
    availability_table,
    check_patients_known,
    overview_figure,
    overview_matrix,
)


@pytest.fixture
def modalities():
    pet = pd.DataFrame(
        {"patient_id": ["A", "A", "A", "B"], "timepoint": ["baseline", "baseline", "on_treatment", "baseline"]}
    )
    ihc = pd.DataFrame({"patient_id": ["B"], "timepoint": ["baseline"]})
    return {"pet": pet, "ihc": ihc}


def test_counts_per_patient_modality_timepoint(modalities):
    table = availability_table(["A", "B", "C"], modalities)
    rows = list(table.itertuples(index=False, name=None))
    assert rows == [
        ("A", "clinical", "baseline", 1),
        ("A", "pet", "baseline", 2),
        ("A", "pet", "on_treatment", 1),
        ("B", "clinical", "baseline", 1),
        ("B", "pet", "baseline", 1),
        ("B", "ihc", "baseline", 1),
        ("C", "clinical", "baseline", 1),
    ]
    matrix = overview_matrix(table)
    assert list(matrix.columns) == ["clinical: baseline", "pet: baseline", "pet: on_treatment", "ihc: baseline"]
    assert matrix.loc["C"].tolist() == [1, 0, 0, 0]
    assert matrix.loc["A"].tolist() == [1, 2, 1, 0]


def test_unknown_patients_error_or_warning(modalities):
    with pytest.raises(InputError, match=r"pet: 1 patient\(s\) not in the clinical table: B"):
        check_patients_known(["A"], modalities)
    messages = check_patients_known(["A"], modalities, on_unknown="warning")
    assert messages == [
        "pet: 1 patient(s) not in the clinical table: B",
        "ihc: 1 patient(s) not in the clinical table: B",
    ]
    assert check_patients_known(["A", "B"], modalities) == []


@pytest.mark.parametrize("patients", [LABELLED_PATIENTS, LABELLED_PATIENTS + 1, 1000])
def test_overview_names_patients_only_while_readable(patients):
    # Up to 80 patients one label each; beyond, no per-patient ticks (1,000 labels were a
    # black smear down the left edge) and the axis says how many rows there are.
    ids = [f"P{k:04d}" for k in range(1, patients + 1)]
    matrix = overview_matrix(availability_table(ids, {}))
    fig = overview_figure(matrix)
    ax = fig.axes[0]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    if patients <= LABELLED_PATIENTS:
        assert labels == ids and ax.get_ylabel() == "patient"
    else:
        assert labels == [] and ax.get_ylabel() == f"patients (n = {patients}, rows in table order)"
    plt.close(fig)
