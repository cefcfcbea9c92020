"""SITC definitions of resistance to immune checkpoint inhibitors.

References: the seed study's Box 1 (the SITC Immunotherapy Resistance Taskforce
definitions as the study states them) and Kluger HM, Tawbi HA, Ascierto ML, et al.
Defining tumor resistance to PD-1 pathway blockade: recommendations from the first
meeting of the SITC Immunotherapy Resistance Taskforce. J Immunother Cancer
2020;8:e000398 (Table 1, anti-PD-(L)1 monotherapy, metastatic setting); Sullivan RJ et
al., SITC consensus definitions for resistance to combinations of immune checkpoint
inhibitors, J Immunother Cancer 2025 (same exposure and confirmation rules).

**Which progression counts.** Progression must be confirmed to be resistance (Box 1:
"ideally confirmed by a follow-up scan at least 4 weeks later"; Kluger 2020: confirmed
at least 4 weeks later). Each iRECIST iUPD episode (:mod:`contexture.response.irecist`)
is, by :func:`progression_episodes`:

* **confirmed** by iCPD, or by the first evaluable scan at least ``confirmation_days``
  (28) after the iUPD still showing progression (iUPD);
* **refuted** when the iUPD is reset (iCR/iPR/iSD/iNON-CR/NON-PD): pseudoprogression,
  not resistance;
* **open** when no such scan follows.

The progression that counts is the first episode that was not refuted; its first day
is ``progression_day``, and ``exposure = min(progression_day, end_day)`` with ``end_day``
the last dose (empty = ongoing). The best response before it (``bor``) is the iRECIST
best response of the assessments up to that day (:func:`best_response_before`), so a
response after a pseudoprogression counts.

**Categories** (``resistance``):

* ``none``: no progression; every progression refuted (``resistance_confirmed`` false);
  or progression more than ``after_stopping_days`` (12 weeks) after the last dose (late
  progression is not resistance, Kluger Table 1).
* ``unconfirmed``: the counted progression has no confirming scan (yet): neither
  resistance nor its absence (unless it would be ``not_evaluable`` even if confirmed).
* ``primary``: exposure >= ``primary_min_exposure_days`` (6 weeks) and best response PD,
  or SD with progression before ``long_sd_days`` (6 months; SD duration from treatment
  start, RECIST 1.1 section 4.6.3). Box 1 and Kluger 2020 agree.
* ``secondary``, by ``definition``:

  - ``seed`` (default; Box 1: "Disease progression after complete or partial response or
    stable disease beyond the expected duration for a specific tumor type, preferably
    confirmed on a follow-up scan"): best response CR or PR, whatever the exposure, or SD
    lasting >= ``long_sd_days``;
  - ``kluger2020`` (Kluger 2020 Table 1, secondary resistance: "drug exposure >= 6
    months", objective response or prolonged SD, then confirmed progression): the same,
    but only with exposure >= ``secondary_min_exposure_days`` (6 months).

* ``after_stopping``: the last dose before the progression scan and progression within
  12 weeks of it; its class (``resistance_class``) by the rules above.
* ``not_evaluable``: confirmed progression that fits no rule (e.g. before 6 weeks of
  exposure; with ``kluger2020``, a response lost before 6 months).

``resistance_class`` is ``primary``/``secondary`` for primary, secondary and
after-stopping resistance. ``resistance_confirmed``: true (the counted progression was
confirmed), false (every progression refuted), empty otherwise.
"""

from __future__ import annotations

__all__ = ["best_response_before", "classify_resistance", "progression_episodes", "resistance_from_timepoints"]

import numpy as np
import pandas as pd

from contexture.response.recist import EPS, best_response

DEFINITIONS = ("seed", "kluger2020")
DEFAULTS = {
    "definition": "seed",
    "primary_min_exposure_days": 42.0,
    "secondary_min_exposure_days": 182.625,
    "long_sd_days": 182.625,
    "after_stopping_days": 84.0,
    "confirmation_days": 28.0,
}
RESET_LABELS = ("iCR", "iPR", "iSD", "iNON-CR/NON-PD")


def progression_episodes(timepoints: pd.DataFrame, confirmation_days: float = 28.0) -> pd.DataFrame:
    """Per patient: ``progression_day``, ``status`` (confirmed / open / refuted / none), ``refuted`` count.

    ``timepoints`` needs ``irecist_response`` and ``overall_response``. Episodes and their
    outcome as in the module docstring. A short loop over each patient's few assessments.
    """
    follow = timepoints[timepoints["assessment_day"] > 0].sort_values(["patient_id", "assessment_day"], kind="stable")
    patients = pd.Index(sorted(timepoints["patient_id"].unique()), name="patient_id")
    result = {p: (np.nan, "none", 0) for p in patients}
    labels = follow["irecist_response"].to_numpy(object)
    overall = follow["overall_response"].to_numpy(object)
    days = follow["assessment_day"].to_numpy(float)
    for patient, rows in follow.groupby("patient_id", sort=True).indices.items():
        refuted, k, found = 0, 0, None
        while k < len(rows) and found is None:
            i = rows[k]
            if labels[i] not in ("iUPD", "iCPD"):
                k += 1
                continue
            start, status = days[i], "open"
            if labels[i] == "iCPD":
                status = "confirmed"
            k += 1
            while k < len(rows) and status == "open":
                j = rows[k]
                if labels[j] == "iCPD":
                    status = "confirmed"
                elif labels[j] in RESET_LABELS:
                    status = "refuted"
                elif labels[j] == "iUPD" and overall[j] != "NE" and days[j] >= start + confirmation_days - EPS:
                    status = "confirmed"
                k += 1
            if status == "refuted":
                refuted += 1
            else:
                found = (start, status)
        if found is None:
            result[patient] = (np.nan, "refuted" if refuted else "none", refuted)
        else:
            result[patient] = (found[0], found[1], refuted)
    frame = pd.DataFrame.from_dict(result, orient="index", columns=["progression_day", "status", "refuted"])
    return frame.reindex(patients).rename_axis("patient_id")


def best_response_before(timepoints: pd.DataFrame, progression_day: pd.Series, **bor_options) -> pd.Series:
    """Best iRECIST response of the assessments up to ``progression_day`` (all without one), 'i' removed.

    iUPD/iCPD/iNE there (no response, no SD long enough) are PD when the patient progressed.
    """
    limit = timepoints["patient_id"].map(progression_day).fillna(np.inf)
    window = timepoints[timepoints["assessment_day"] <= limit + EPS]
    best = best_response(window, "irecist_response", prefix="i", **bor_options).str.removeprefix("i")
    best = best.reindex(progression_day.index)
    progressed = progression_day.notna()
    return best.mask(progressed & best.isin(["UPD", "CPD", "NE"]), "PD").mask(~progressed & best.eq("CPD"), "PD")


def classify_resistance(
    bor: pd.Series,
    pd_day: pd.Series,
    treatment_end_day: pd.Series | None = None,
    confirmed: pd.Series | None = None,
    *,
    definition: str = "seed",
    primary_min_exposure_days: float = 42.0,
    secondary_min_exposure_days: float = 182.625,
    long_sd_days: float = 182.625,
    after_stopping_days: float = 84.0,
) -> pd.DataFrame:
    """Classify every patient (index of ``bor``); see the module docstring for the rules.

    ``pd_day``: the progression that counts; ``confirmed``: True (confirmed), False
    (every progression refuted) or NA (unconfirmed) per patient; ``None`` means the
    confirmation is not assessed and every progression is taken as confirmed.
    Returns ``resistance``, ``resistance_class``, ``resistance_confirmed`` and
    ``exposure_days`` indexed like ``bor``.
    """
    if definition not in DEFINITIONS:
        raise ValueError(f"SITC definition {definition!r}; expected one of {DEFINITIONS}")
    index = bor.index
    pd_day = pd_day.reindex(index).astype(float)
    end = (
        treatment_end_day.reindex(index).astype(float)
        if treatment_end_day is not None
        else pd.Series(np.nan, index=index)
    )
    if confirmed is None:
        confirmation = pd.Series(True, index=index, dtype="boolean").where(pd_day.notna())
    else:
        confirmation = confirmed.reindex(index).astype("boolean")
    progressed = pd_day.notna()
    refuted = ~progressed & confirmation.eq(False).fillna(False).astype(bool)
    unconfirmed = progressed & confirmation.isna()
    stopped_before = end.notna() & (end < pd_day - EPS)
    exposure = np.fmin(pd_day, end)  # fmin: an ongoing treatment (NaN) gives pd_day
    exposure = exposure.where(progressed)
    late = stopped_before & (pd_day - end > after_stopping_days + EPS)
    bor = bor.astype(str)
    stable = bor.isin(["SD", "NON-CR/NON-PD"])
    response = bor.isin(["CR", "PR"])
    long_sd = stable & (pd_day >= long_sd_days - EPS)
    primary = (exposure >= primary_min_exposure_days - EPS) & ((bor == "PD") | (stable & (pd_day < long_sd_days - EPS)))
    secondary = response | long_sd
    if definition == "kluger2020":
        secondary &= exposure >= secondary_min_exposure_days - EPS
    klass = pd.Series(np.select([primary, secondary], ["primary", "secondary"], ""), index=index)
    # not_evaluable before unconfirmed: a progression that would fit no rule even when
    # confirmed (e.g. before 6 weeks of exposure) needs no confirming scan to say so.
    resistance = np.select(
        [~progressed | late, klass == "", unconfirmed, stopped_before],
        ["none", "not_evaluable", "unconfirmed", "after_stopping"],
        klass,
    )
    resistance = pd.Series(resistance, index=index)
    out = pd.DataFrame(
        {
            "resistance": resistance,
            "resistance_class": klass.where(~resistance.isin(["none", "not_evaluable", "unconfirmed"])).replace(
                "", pd.NA
            ),
            "exposure_days": exposure,
        },
        index=index,
    )
    out["resistance_confirmed"] = confirmation.where((progressed & ~late) | refuted).astype("boolean")
    return out


def resistance_from_timepoints(
    timepoints: pd.DataFrame,
    treatment_end_day: pd.Series | None = None,
    bor_options: dict | None = None,
    **options,
) -> pd.DataFrame:
    """SITC resistance per patient from the RECIST/iRECIST time points and the last-dose day.

    ``bor_options`` are the best-response options (confirmation, SD duration) for
    :func:`best_response_before`; ``options`` the ``response.resistance`` section.
    Adds ``progression_day`` and ``progression_status`` (confirmed/open/refuted/none).
    """
    settings = {**DEFAULTS, **options}
    episodes = progression_episodes(timepoints, settings.pop("confirmation_days"))
    bor = best_response_before(timepoints, episodes["progression_day"], **(bor_options or {}))
    confirmed = episodes["status"].map({"confirmed": True, "refuted": False}).astype("boolean")
    out = classify_resistance(bor, episodes["progression_day"], treatment_end_day, confirmed, **settings)
    out["progression_day"] = episodes["progression_day"]
    out["progression_status"] = episodes["status"]
    return out
