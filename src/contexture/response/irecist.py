"""iRECIST: immune-modified RECIST time-point responses and best overall response.

Reference: Seymour L, Bogaerts J, Perrone A, et al. iRECIST: guidelines for response
criteria for use in trials testing immunotherapeutics. Lancet Oncol 2017;18:e143-e152
(Table 2: assignment of time-point response).

Starting from the RECIST 1.1 components of :func:`contexture.response.recist.timepoint_responses`:

* Until the first RECIST 1.1 progression the responses are RECIST's with an ``i`` prefix
  (iCR, iPR, iSD, iNON-CR/NON-PD, iNE).
* The first progression is **iUPD** (unconfirmed). The categories that progressed are
  remembered with their values at iUPD (target sum, number and diameter sum of new lesions).
* At each next assessment (a not-evaluable one leaves iUPD standing):

  - **iCPD** (confirmed) if a category that was iUPD grows further -- target sum
    >= 5 mm above its iUPD value (a lower bound when some targets are not measured),
    new-lesion diameter sum >= 5 mm above, more new lesions, or a new lesion or
    non-target lesion recorded as ``unequivocal_progression`` (the table records no
    non-target size, so sites should record that status at the confirmation scan only
    for a further increase) -- or if a category that was not iUPD now meets RECIST 1.1
    progression. iCPD is final.
  - **reset** to iCR/iPR/iSD/iNON-CR/NON-PD when the assessment no longer shows
    progression (target sum below the PD threshold against the nadir, no non-target
    progression and no new lesion present); a later progression is a new iUPD.
  - otherwise iUPD again (reference values stay those of the first iUPD of the episode).

The nadir is RECIST's (smallest evaluable sum before the assessment, baseline included);
new lesions are never added to the target sum (iRECIST section "new lesions").
The patient loop is replaced by a loop over assessment number (at most a few dozen),
vectorized across patients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.response.recist import EPS, best_response


def irecist_responses(timepoints: pd.DataFrame) -> pd.Series:
    """iRECIST time-point response for every row of ``timepoints`` (empty at baseline)."""
    tp = timepoints.reset_index(drop=True)
    out = pd.Series(pd.NA, index=tp.index, dtype=object)
    follow = tp[tp["assessment_day"] > 0].sort_values(["patient_id", "assessment_day"], kind="stable")
    if follow.empty:
        return out
    codes, _ = pd.factorize(follow["patient_id"], sort=True)
    n_patients = codes.max() + 1
    position = follow.groupby("patient_id").cumcount().to_numpy()
    overall = follow["overall_response"].to_numpy(object)
    partial = follow["partial_sum_mm"].to_numpy(float)
    target_pd = follow["target_progression"].to_numpy(bool)
    nt_pd = follow["non_target_progression"].to_numpy(bool)
    new_count = follow["new_count"].to_numpy(int)
    new_sum = follow["new_sum_mm"].to_numpy(float)
    new_uneq = follow["new_unequivocal"].to_numpy(bool)
    rows = follow.index.to_numpy()

    in_upd = np.zeros(n_patients, bool)
    confirmed = np.zeros(n_patients, bool)
    cat_target = np.zeros(n_patients, bool)
    cat_nt = np.zeros(n_patients, bool)
    cat_new = np.zeros(n_patients, bool)
    ref_sum = np.full(n_patients, np.nan)
    ref_new_sum = np.zeros(n_patients)
    ref_new_count = np.zeros(n_patients, int)
    labels = np.empty(len(follow), object)

    for k in range(position.max() + 1):
        idx = np.flatnonzero(position == k)
        p = codes[idx]
        progression = target_pd[idx] | nt_pd[idx] | (new_count[idx] > 0)
        evaluable = overall[idx] != "NE"
        # Confirmation of an open iUPD.
        grew_target = cat_target[p] & (partial[idx] - ref_sum[p] >= 5 - EPS)
        grew_nt = cat_nt[p] & nt_pd[idx]
        grew_new = cat_new[p] & (
            (new_sum[idx] - ref_new_sum[p] >= 5 - EPS) | (new_count[idx] > ref_new_count[p]) | new_uneq[idx]
        )
        other_category = (
            (~cat_target[p] & target_pd[idx]) | (~cat_nt[p] & nt_pd[idx]) | (~cat_new[p] & (new_count[idx] > 0))
        )
        confirm = in_upd[p] & ~confirmed[p] & (grew_target | grew_nt | grew_new | other_category)
        reset = in_upd[p] & ~confirmed[p] & ~confirm & ~progression & evaluable
        stays = in_upd[p] & ~confirmed[p] & ~confirm & ~reset
        starts = ~in_upd[p] & ~confirmed[p] & (overall[idx] == "PD")
        was_confirmed = confirmed[p]

        label = np.array(["i" + str(v) for v in overall[idx]], dtype=object)
        label[starts | stays] = "iUPD"
        label[confirm | was_confirmed] = "iCPD"
        labels[idx] = label

        # State updates.
        confirmed[p[confirm]] = True
        in_upd[p[reset]] = False
        s = p[starts]
        in_upd[s] = True
        cat_target[s] = target_pd[idx][starts]
        cat_nt[s] = nt_pd[idx][starts]
        cat_new[s] = new_count[idx][starts] > 0
        ref_sum[s] = partial[idx][starts]
        ref_new_sum[s] = new_sum[idx][starts]
        ref_new_count[s] = new_count[idx][starts]

    out.loc[rows] = labels
    return out


def best_irecist_response(
    timepoints: pd.DataFrame,
    *,
    confirmation: bool = True,
    min_sd_days: float = 42,
    confirmation_days: float = 28,
    max_ne_between: int = 1,
) -> pd.Series:
    """iBOR (Seymour et al. 2017): best of iCR, iPR, iSD/iNON-CR/NON-PD before iCPD, else iCPD, iUPD or iNE.

    Responses after an iUPD that was reset count (so pseudoprogression followed by a
    confirmed PR gives iPR); CR/PR confirmation and SD duration follow RECIST 1.1.
    ``timepoints`` needs an ``irecist_response`` column (:func:`irecist_responses`).
    """
    return best_response(
        timepoints,
        "irecist_response",
        confirmation=confirmation,
        min_sd_days=min_sd_days,
        confirmation_days=confirmation_days,
        max_ne_between=max_ne_between,
        prefix="i",
    )
