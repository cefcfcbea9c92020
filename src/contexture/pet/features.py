"""Per-patient PET features: the geometric mean SUVmax, written once.

The 89ZED88082A study summarizes a patient's CD8-PET uptake as the geometric mean of
the SUVmax of their tumour lesions, exp(mean_j ln SUVmax_j) (Kist de Ruijter et al.,
Nat Med 2022), over non-irradiated lesions: radiotherapy changes local CD8
infiltration. Every per-patient geometric mean of the package (the patient feature
``pet_geomean_suvmax_{timepoint}``, the PET models and figures, the demo simulator's
latent truth) is computed by :func:`geometric_mean_suvmax`; what differs between them
is only which lesions enter, and that is its explicit ``irradiated`` argument.

The patient-feature column names are spelled here, once: :data:`GEOMEAN_SUVMAX_COLUMN`
and :data:`LESION_COUNT_COLUMN`, keyed by timepoint.
"""

from __future__ import annotations

__all__ = ["GEOMEAN_SUVMAX_COLUMN", "LESION_COUNT_COLUMN", "geometric_mean_suvmax", "patient_features"]

import numpy as np
import pandas as pd

TIMEPOINTS = ("baseline", "on_treatment")
# Patient-feature columns of tables/patients.tsv, per PET timepoint.
GEOMEAN_SUVMAX_COLUMN = {
    "baseline": "pet_geomean_suvmax_baseline",
    "on_treatment": "pet_geomean_suvmax_on_treatment",
}
LESION_COUNT_COLUMN = {
    "baseline": "pet_lesions_baseline",
    "on_treatment": "pet_lesions_on_treatment",
}

# Which lesions enter a patient's geometric mean (argument ``irradiated``):
IRRADIATED_RULES = {
    "exclude": "irradiated lesions are left out; a patient with only irradiated lesions has no value",
    "include": "every lesion counts (use when the lesions were already selected upstream)",
    "exclude_unless_all": "irradiated lesions are left out, unless all of a patient's lesions are irradiated: "
    "then all of them count",
}


def geometric_mean_suvmax(
    lesions: pd.DataFrame, *, irradiated: str, patient_column: str = "patient_id"
) -> pd.DataFrame:
    """Per patient: geometric mean SUVmax = exp(mean ln SUVmax) and the number of lesions used.

    ``lesions`` has one row per lesion with ``patient_column``, ``log_suvmax`` (natural
    log of SUVmax; given as a log so callers that draw or model log uptake average the
    exact values they hold) and, unless ``irradiated="include"``, a boolean column
    ``irradiated`` (absent: no lesion is irradiated). ``irradiated`` is one of
    :data:`IRRADIATED_RULES`:

    * ``"exclude"`` -- the study's per-patient measure (non-irradiated lesions only);
    * ``"include"`` -- all rows, when the caller has already chosen its lesions;
    * ``"exclude_unless_all"`` -- non-irradiated lesions, falling back to all of a
      patient's lesions when every one is irradiated (the simulator's latent truth,
      which needs a value for every patient).

    Returns a frame indexed by patient (sorted) with ``geomean_suvmax`` and ``lesions``;
    a patient without a usable lesion has no row.
    """
    if irradiated not in IRRADIATED_RULES:
        raise ValueError(f"irradiated must be one of {list(IRRADIATED_RULES)}; got {irradiated!r}")
    if irradiated == "include" or "irradiated" not in lesions.columns:
        flags = pd.Series(False, index=lesions.index)
    else:
        flags = lesions["irradiated"].astype("boolean").fillna(False).astype(bool)
    keep = ~flags
    if irradiated == "exclude_unless_all":
        keep |= flags.groupby(lesions[patient_column]).transform("all")
    grouped = lesions[keep].groupby(patient_column, sort=True)["log_suvmax"]
    return pd.DataFrame({"geomean_suvmax": np.exp(grouped.mean()), "lesions": grouped.size()})


def patient_features(lesions: pd.DataFrame) -> pd.DataFrame:
    """The PET stage's patient features: geometric mean SUVmax and lesion count per timepoint.

    ``lesions`` as ``tables/lesions.tsv``. Non-irradiated lesions with a positive SUVmax
    enter (``irradiated="exclude"``); a patient with none at a timepoint has an empty
    geometric mean and a count of 0. Columns: ``patient_id``, then
    :data:`GEOMEAN_SUVMAX_COLUMN` and :data:`LESION_COUNT_COLUMN` of each timepoint.
    """
    patients = sorted(lesions["patient_id"].astype(str).unique())
    features = pd.DataFrame({"patient_id": patients})
    usable = lesions[lesions["suvmax"] > 0]
    usable = usable.assign(
        patient_id=usable["patient_id"].astype(str), log_suvmax=np.log(usable["suvmax"].astype(float))
    )
    for timepoint in TIMEPOINTS:
        means = geometric_mean_suvmax(usable[usable["timepoint"] == timepoint], irradiated="exclude")
        features[GEOMEAN_SUVMAX_COLUMN[timepoint]] = features["patient_id"].map(means["geomean_suvmax"])
        features[LESION_COUNT_COLUMN[timepoint]] = features["patient_id"].map(means["lesions"]).fillna(0).astype(int)
    return features
