"""SITC definitions of resistance to immune checkpoint inhibitors.

References: Kluger HM, Tawbi HA, Ascierto ML, et al. Defining tumor resistance to PD-1
pathway blockade: recommendations from the first meeting of the SITC Immunotherapy
Resistance Taskforce. J Immunother Cancer 2020;8:e000398 (Table 1, anti-PD-(L)1
monotherapy); Sullivan RJ et al., SITC consensus definitions for resistance to
combinations of immune checkpoint inhibitors, J Immunother Cancer 2025 (same exposure
and confirmation rules for combinations).

Per patient, with ``pd_day`` the first RECIST 1.1 progression (days from treatment
start), ``end_day`` the last dose (empty = ongoing) and ``exposure = min(pd_day, end_day)``:

* ``none``: no RECIST progression, or progression more than ``after_stopping_days``
  (12 weeks) after the last dose (late progression is not resistance, Kluger Table 1).
* ``after_stopping``: progression within 12 weeks of the last dose (treatment stopped
  before the progression scan); its class (primary/secondary) by the rules below.
* ``primary``: exposure >= 6 weeks and best response PD, or SD with progression
  before 6 months (SD duration is measured from treatment start, RECIST 1.1 section 4.6.3).
* ``secondary``: exposure >= 6 months and best response CR or PR, or SD lasting >= 6 months.
* ``not_evaluable``: progression but neither rule applies (e.g. progression before
  6 weeks of exposure, or a CR/PR lost before 6 months of exposure, or best response NE).

``resistance_class`` is ``primary``/``secondary`` for primary, secondary and
after-stopping resistance. ``resistance_confirmed`` (each category requires a
confirmatory scan >= 4 weeks after progression): true if the first evaluable scan at
least ``confirmation_days`` after the progression still shows RECIST progression,
false if it does not (e.g. pseudoprogression), empty when there is no such scan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.response.recist import EPS, first_progression_day

DEFAULTS = {
    "primary_min_exposure_days": 42.0,
    "secondary_min_exposure_days": 182.625,
    "long_sd_days": 182.625,
    "after_stopping_days": 84.0,
    "confirmation_days": 28.0,
}


def progression_confirmed(timepoints: pd.DataFrame, pd_day: pd.Series, confirmation_days: float = 28) -> pd.Series:
    """True/False/NA per patient: the first evaluable scan >= ``confirmation_days`` after progression shows PD."""
    follow = timepoints[(timepoints["assessment_day"] > 0) & (timepoints["overall_response"] != "NE")]
    limit = follow["patient_id"].map(pd_day)
    later = follow[follow["assessment_day"] >= limit + confirmation_days - EPS]
    first = later.sort_values(["patient_id", "assessment_day"]).groupby("patient_id").first()
    confirmed = (first["overall_response"] == "PD").astype("boolean")
    return confirmed.reindex(pd_day.index).astype("boolean")


def classify_resistance(
    bor: pd.Series,
    pd_day: pd.Series,
    treatment_end_day: pd.Series | None = None,
    confirmed: pd.Series | None = None,
    *,
    primary_min_exposure_days: float = 42.0,
    secondary_min_exposure_days: float = 182.625,
    long_sd_days: float = 182.625,
    after_stopping_days: float = 84.0,
) -> pd.DataFrame:
    """Classify every patient (index of ``bor``); see the module docstring for the rules.

    Returns ``resistance``, ``resistance_class``, ``resistance_confirmed`` and
    ``exposure_days`` indexed like ``bor``.
    """
    index = bor.index
    pd_day = pd_day.reindex(index).astype(float)
    end = (
        treatment_end_day.reindex(index).astype(float)
        if treatment_end_day is not None
        else pd.Series(np.nan, index=index)
    )
    progressed = pd_day.notna()
    stopped_before = end.notna() & (end < pd_day - EPS)
    exposure = np.fmin(pd_day, end)  # fmin: an ongoing treatment (NaN) gives pd_day
    exposure = exposure.where(progressed)
    late = stopped_before & (pd_day - end > after_stopping_days + EPS)
    bor = bor.astype(str)
    stable = bor.isin(["SD", "NON-CR/NON-PD"])
    primary = (exposure >= primary_min_exposure_days - EPS) & ((bor == "PD") | (stable & (pd_day < long_sd_days - EPS)))
    secondary = (exposure >= secondary_min_exposure_days - EPS) & (
        bor.isin(["CR", "PR"]) | (stable & (pd_day >= long_sd_days - EPS))
    )
    klass = pd.Series(np.select([primary, secondary], ["primary", "secondary"], ""), index=index)
    resistance = np.where(
        ~progressed | late,
        "none",
        np.where(klass == "", "not_evaluable", np.where(stopped_before, "after_stopping", klass)),
    )
    out = pd.DataFrame(
        {
            "resistance": resistance,
            "resistance_class": klass.where(~np.isin(resistance, ["none", "not_evaluable"])).replace("", pd.NA),
            "exposure_days": exposure,
        },
        index=index,
    )
    if confirmed is None:
        confirmed = pd.Series(pd.NA, index=index, dtype="boolean")
    out["resistance_confirmed"] = confirmed.reindex(index).astype("boolean").where(out["resistance"] != "none")
    return out


def resistance_from_timepoints(
    timepoints: pd.DataFrame,
    bor: pd.Series,
    treatment_end_day: pd.Series | None = None,
    **options: float,
) -> pd.DataFrame:
    """SITC resistance per patient from RECIST time points, the BOR and the last-dose day."""
    settings = {**DEFAULTS, **options}
    pd_day = first_progression_day(timepoints).reindex(bor.index)
    confirmed = progression_confirmed(timepoints, pd_day, settings.pop("confirmation_days"))
    return classify_resistance(bor, pd_day, treatment_end_day, confirmed, **settings)
