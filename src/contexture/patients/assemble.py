"""The patient table: one row per patient, every patient-level feature and outcome.

``tables/patients.tsv`` is assembled from the clinical table and each stage's
``patient_features.tsv`` (a ``patient_id`` column plus the stage's columns). The
columns of the outputs contract (DESIGN.md) are always present, empty where a cohort
lacks the modality, so downstream code and users can rely on them.
"""

from __future__ import annotations

__all__ = ["assemble_patients"]

from collections.abc import Iterable

import pandas as pd

from contexture.errors import InputError
from contexture.pet.features import GEOMEAN_SUVMAX_COLUMN

# Outputs contract, DESIGN.md: these columns always exist in patients.tsv, in this order.
CONTRACT_COLUMNS = (
    "patient_id",
    GEOMEAN_SUVMAX_COLUMN["baseline"],
    "immunosign_score",
    "immunosign_high",
    "immunoscore",
    "ihc_phenotype",
    "bor",
    "resistance",
    "pfs_months",
    "pfs_event",
    "os_months",
    "os_event",
)


def assemble_patients(clinical: pd.DataFrame | None, features: Iterable[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Join the clinical table with stage feature tables on ``patient_id``.

    ``features`` yields ``(stage name, table)`` pairs. Patients are the clinical table's
    when there is one (a modality's patient missing from it is an error naming the
    stage), otherwise the union over stages. A column provided by two sources is an
    error: every column has one owner. Rows are sorted by ``patient_id``.
    """
    features = list(features)
    if clinical is not None:
        patients = clinical.copy()
    else:
        ids = sorted({pid for _, table in features for pid in table["patient_id"].astype(str)})
        patients = pd.DataFrame({"patient_id": ids})
    patients["patient_id"] = patients["patient_id"].astype(str)
    known = set(patients["patient_id"])
    owner = {column: "clinical" for column in patients.columns}
    for stage, table in features:
        table = table.copy()
        table["patient_id"] = table["patient_id"].astype(str)
        if table["patient_id"].duplicated().any():
            duplicated = sorted(table.loc[table["patient_id"].duplicated(), "patient_id"])
            raise InputError(f"stage '{stage}' gives more than one row for patient(s) {duplicated[:10]}")
        unknown = sorted(set(table["patient_id"]) - known)
        if unknown:
            raise InputError(
                f"stage '{stage}' has patient(s) not in the clinical table: {unknown[:10]}"
                + (" ..." if len(unknown) > 10 else "")
            )
        for column in table.columns.drop("patient_id"):
            if column in owner:
                raise InputError(f"column '{column}' comes from both '{owner[column]}' and '{stage}'")
            owner[column] = stage
        patients = patients.merge(table, on="patient_id", how="left", validate="one_to_one")
    for column in CONTRACT_COLUMNS:
        if column not in patients.columns:
            patients[column] = pd.NA
    ordered = list(CONTRACT_COLUMNS) + [c for c in patients.columns if c not in CONTRACT_COLUMNS]
    return patients[ordered].sort_values("patient_id", kind="stable").reset_index(drop=True)
