"""Data availability: which patient has which modality at which timepoint.

The table behind the CONSORT-like cohort overview every paper needs, and the
cross-modality reconciliation: every patient of a modality must exist in the clinical
table (configurable: error or warning).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from contexture.errors import InputError

log = logging.getLogger(__name__)

MODALITY_ORDER = ("clinical", "recist", "pet", "nanostring", "ihc")
TIMEPOINT_ORDER = ("baseline", "on_treatment", "follow_up", "relapse")


def availability_table(clinical_ids: list[str] | None, modalities: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table ``patient_id``, ``modality``, ``timepoint``, ``n`` (items: scans, samples, slides, assessments).

    ``modalities`` maps a modality name to a table with ``patient_id`` and ``timepoint``.
    Clinical data appears as one row per patient with timepoint ``baseline``.
    """
    frames = []
    if clinical_ids is not None:
        frames.append(pd.DataFrame({"patient_id": clinical_ids, "modality": "clinical", "timepoint": "baseline"}))
    for modality, table in modalities.items():
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": table["patient_id"].astype(str),
                    "modality": modality,
                    "timepoint": table["timepoint"].astype(str),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["patient_id", "modality", "timepoint", "n"])
    long = pd.concat(frames, ignore_index=True)
    counts = long.groupby(["patient_id", "modality", "timepoint"], sort=False).size().rename("n").reset_index()
    order = {m: i for i, m in enumerate(MODALITY_ORDER)}
    tp_order = {t: i for i, t in enumerate(TIMEPOINT_ORDER)}
    counts["_m"] = counts["modality"].map(order).fillna(len(order))
    counts["_t"] = counts["timepoint"].map(tp_order).fillna(len(tp_order))
    counts = counts.sort_values(["patient_id", "_m", "modality", "_t", "timepoint"], kind="stable")
    return counts.drop(columns=["_m", "_t"]).reset_index(drop=True)


def check_patients_known(
    clinical_ids: list[str], modalities: dict[str, pd.DataFrame], on_unknown: str = "error"
) -> list[str]:
    """Patients of any modality missing from the clinical table.

    With ``on_unknown="error"`` raise :class:`InputError` naming them per modality; with
    ``"warning"`` log them and return the messages.
    """
    known = set(map(str, clinical_ids))
    messages = []
    for modality, table in modalities.items():
        unknown = sorted(set(table["patient_id"].astype(str)) - known)
        if unknown:
            shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            messages.append(f"{modality}: {len(unknown)} patient(s) not in the clinical table: {shown}")
    if messages and on_unknown == "error":
        raise InputError("patients without a clinical record:\n  - " + "\n  - ".join(messages))
    for message in messages:
        log.warning(message)
    return messages


def overview_matrix(availability: pd.DataFrame) -> pd.DataFrame:
    """Patients × "modality: timepoint" matrix of counts (0 = missing), for the overview figure.

    Columns keep the row order of :func:`availability_table` (modality, then timepoint).
    """
    if availability.empty:
        return pd.DataFrame()
    order = {m: i for i, m in enumerate(MODALITY_ORDER)}
    tp_order = {t: i for i, t in enumerate(TIMEPOINT_ORDER)}
    pairs = availability[["modality", "timepoint"]].drop_duplicates()
    pairs = pairs.assign(
        _m=pairs["modality"].map(order).fillna(len(order)), _t=pairs["timepoint"].map(tp_order).fillna(len(tp_order))
    )
    pairs = pairs.sort_values(["_m", "modality", "_t", "timepoint"])
    columns = (pairs["modality"] + ": " + pairs["timepoint"]).tolist()
    labelled = availability.assign(column=availability["modality"] + ": " + availability["timepoint"])
    matrix = labelled.pivot_table(index="patient_id", columns="column", values="n", aggfunc="sum", fill_value=0)
    return matrix.reindex(columns=columns, fill_value=0).astype(np.int64)
