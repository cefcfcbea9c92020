"""Data availability: which patient has which modality at which timepoint.

The table behind the CONSORT-like cohort overview every paper needs, and the
cross-modality reconciliation: every patient of a modality must exist in the clinical
table (configurable: error or warning).
"""

from __future__ import annotations

__all__ = [
    "LABELLED_PATIENTS",
    "MODALITY_ORDER",
    "availability_table",
    "check_patients_known",
    "modality_timepoints",
    "overview_figure",
    "overview_matrix",
]

import logging

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.modalities import BY_NAME, NAMES

log = logging.getLogger(__name__)

# The order of the table's rows and the overview's columns: that of contexture.modalities.
MODALITY_ORDER = NAMES
TIMEPOINT_ORDER = ("baseline", "on_treatment", "follow_up", "relapse")


def availability_table(clinical_ids: list[str] | None, modalities: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table ``patient_id``, ``modality``, ``timepoint``, ``n`` (items: scans, samples, slides, assessments).

    ``modalities`` maps a modality name to a table with ``patient_id`` and ``timepoint``.
    Clinical data appears as one row per patient with timepoint ``baseline``.
    """
    tables = dict(modalities)
    if clinical_ids is not None:  # the patient record comes first; its Timepoints rule says baseline
        tables = {"clinical": modality_timepoints("clinical", pd.DataFrame({"patient_id": clinical_ids})), **tables}
    frames = []
    for modality, table in tables.items():
        # Items assigned to no patient (NanoString lanes without a sample sheet) belong to
        # no row of a per-patient overview; IDs are text already (typed tables).
        table = table[table["patient_id"].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": table["patient_id"],
                    "modality": modality,
                    "timepoint": table["timepoint"].fillna("unknown"),
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
        unknown = sorted(set(table["patient_id"].dropna()) - known)
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


def modality_timepoints(modality: str, table: pd.DataFrame) -> pd.DataFrame:
    """One row per item of a stage table with ``patient_id`` and ``timepoint``.

    The modality's :class:`contexture.modalities.Timepoints` rule says what an item is:
    PET counts scans (unique patient, timepoint, scan day), IHC slides, NanoString samples
    (included lanes), RECIST assessments (day ≤ 0 is baseline, later ones follow-up),
    clinical one record per patient at baseline.
    """
    rule = BY_NAME[modality].timepoints
    items = table
    if rule.included_column is not None and rule.included_column in items.columns:
        items = items[items[rule.included_column].fillna(False).astype(bool)]
    if rule.items:
        items = items[list(rule.items)].drop_duplicates()
    if rule.day_column is not None:
        items = items.assign(timepoint=np.where(items[rule.day_column] <= 0, "baseline", "follow_up"))
    if rule.timepoint is not None:
        items = items.assign(timepoint=rule.timepoint)
    return items[["patient_id", "timepoint"]].reset_index(drop=True)


# The most patients the overview names one by one (as the NanoString QC figures' lanes).
LABELLED_PATIENTS = 80


def overview_figure(matrix: pd.DataFrame):
    """The CONSORT-like availability plot: patients (rows) × modality/timepoint (columns)."""
    from contexture.plotting import OKABE_ITO, TWO_COLUMN_MM, figure

    height = min(230.0, 25.0 + 2.6 * len(matrix))
    fig, ax = figure(TWO_COLUMN_MM * 0.6, height)
    present = (matrix.to_numpy() > 0).astype(float)
    from matplotlib.colors import ListedColormap

    ax.imshow(
        present,
        aspect="auto",
        cmap=ListedColormap(["#F2F2F2", OKABE_ITO["blue"]]),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=45, ha="right")
    if len(matrix) > LABELLED_PATIENTS:
        # Beyond this, one label per patient is an unreadable smear (and seconds of text
        # layout at 1,000 patients); the matrix is read by column, its rows in table order.
        ax.set_yticks([])
    else:
        ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=4 if len(matrix) > 40 else 5)
    totals = (matrix > 0).sum()
    for column, total in enumerate(totals):
        ax.text(column, -0.8, f"n={total}", ha="center", va="bottom", fontsize=5)
    ax.set_title(f"Data availability ({len(matrix)} patients)", pad=12)
    ax.set_xlabel("modality: timepoint")
    ax.set_ylabel(
        "patient" if len(matrix) <= LABELLED_PATIENTS else f"patients (n = {len(matrix)}, rows in table order)"
    )
    return fig
