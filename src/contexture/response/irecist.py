"""iRECIST: immune-modified RECIST time-point responses and best overall response.

Reference: Seymour L, Bogaerts J, Perrone A, et al. iRECIST: guidelines for response
criteria for use in trials testing immunotherapeutics. Lancet Oncol 2017;18:e143-e152
(Table 2: assignment of time-point response; Table 3: best overall response), and the
iRECIST questions and clarifications of the EORTC RECIST working group
(recist.eortc.org/irecist, "FAQ" below).

Starting from the RECIST 1.1 components of :func:`contexture.response.recist.timepoint_responses`:

* Until the first RECIST 1.1 progression the responses are RECIST's with an ``i`` prefix
  (iCR, iPR, iSD, iNON-CR/NON-PD, iNE). Reappearance after CR is RECIST PD and so iUPD.
* The first progression is **iUPD** (unconfirmed). The categories that progressed are
  remembered with their values at iUPD (target sum; new-lesion target sum).
* **New lesions** (Seymour 2017, "new lesions"): at the iUPD, the new lesions present are
  split into up to 5 new-lesion targets (NLT; at most 2 per organ, all lymph nodes one
  organ; measurable as at baseline: >= 10 mm, nodes >= 15 mm short axis; the largest
  first) and new-lesion non-targets (NLNT, the rest). A reader's own split is kept: kind
  ``new_target`` / ``new_non_target`` in the measurement table; rows of kind ``new`` are
  split by the rule in the places left. The NLT sum is never added to the target sum.
  ``new_target_sum_mm`` is the NLT sum at the iUPD and at each assessment of its episode
  (empty when an NLT is not measured; the measured part is then a lower bound).
* **Confirmation window** (Seymour 2017; FAQ "Can imaging be used to confirm progression,
  even when done less than four weeks after the scans that showed iUPD"): the next
  assessment at least ``confirmation_min_days`` (28) after the first iUPD of the episode
  confirms or resets it. A scan earlier than that is recorded (iUPD) but neither confirms
  nor resets. A scan later than ``confirmation_max_days`` (56) after the previous
  assessment of the episode is still used (the schedule is the trial's; waiting longer
  cannot make growth disappear), and ``irecist_basis`` says it was late.
* At a scan in (or after) the window:

  - **iCPD** (confirmed; final) when, Table 2, a category that was iUPD grows further --
    target sum >= 5 mm above its iUPD value (a lower bound when targets are not
    measured); NLT sum >= 5 mm above its iUPD value; an NLNT or a non-target lesion
    recorded ``unequivocal_progression`` (the table has no non-target size: sites record
    that status at the confirmation scan for any further increase, which need not be
    unequivocal by RECIST 1.1, FAQ); a further new lesion (one not present at the iUPD) --
    or when a category that was not iUPD now meets RECIST 1.1 progression (FAQ: "'new'
    progression in other disease categories ... can of course also confirm").
    Increases add up over the episode: the reference is the first iUPD (FAQ, "sequential
    increases are additive").
  - **reset** to iCR/iPR/iSD/iNON-CR/NON-PD when the assessment no longer shows
    progression (target sum below the PD threshold against the nadir, no non-target
    progression, no new lesion present); a later progression is a new iUPD with a new
    new-lesion selection.
  - otherwise iUPD again (an NE scan leaves iUPD open).

The FAQ's exception (an unscheduled scan before 4 weeks, for a new symptom, showing a
further new lesion) is not modelled: the table does not say why a scan was done.
The nadir is RECIST's (smallest evaluable sum before the assessment, baseline included).
The patient loop is replaced by a loop over assessment number (at most a few dozen),
vectorized across patients.
"""

from __future__ import annotations

__all__ = [
    "IRECIST_COLUMNS",
    "best_irecist_response",
    "irecist_responses",
    "irecist_timepoints",
    "new_lesion_course",
    "new_lesion_roles",
]

import numpy as np
import pandas as pd

from contexture.response.recist import EPS, NEW_KINDS, _prepare, best_response, select_targets

CONFIRMATION_MIN_DAYS = 28.0
CONFIRMATION_MAX_DAYS = 56.0
IRECIST_COLUMNS = ["new_target_sum_mm", "irecist_response", "irecist_basis"]


def new_lesion_roles(measurements: pd.DataFrame) -> pd.DataFrame:
    """NLT / NLNT role of each new lesion present at each assessment, as if an iUPD started there.

    Columns ``patient_id``, ``start_day``, ``lesion_id``, ``role`` (``target`` or
    ``non_target``). Rows of kind ``new_target`` / ``new_non_target`` keep the reader's
    role (a marked NLT takes its place first); ``new`` rows are chosen by
    :func:`contexture.response.recist.select_targets` (<= 5, <= 2 per organ, measurable,
    the largest first).
    """
    table = _prepare(measurements)
    rows = table[(table["assessment_day"] > 0) & table["kind"].isin(NEW_KINDS)]
    rows = rows[rows["status"].isin(["present", "unequivocal_progression"]).fillna(False).astype(bool)]
    rows = rows.rename(columns={"assessment_day": "start_day"}).reset_index(drop=True)
    candidates = rows[rows["kind"] != "new_non_target"].assign(chosen=lambda r: r["kind"] == "new_target")
    chosen = select_targets(candidates, ["patient_id", "start_day"])
    role = pd.Series("non_target", index=rows.index, dtype=object)
    role[chosen.index[chosen.to_numpy()]] = "target"
    return rows.assign(role=role)[["patient_id", "start_day", "lesion_id", "role"]]


def new_lesion_course(measurements: pd.DataFrame, timepoints: pd.DataFrame) -> pd.DataFrame:
    """For every candidate iUPD day ``start_day`` and every assessment ``assessment_day`` from it on:

    ``nlt_sum_mm`` (sum of the NLT diameters; absent = 0 mm), ``nlt_missing`` (NLT not
    measured), ``nlnt_progression`` (an NLNT recorded ``unequivocal_progression``) and
    ``further_new`` (new lesions present that were not present at ``start_day``).
    """
    roles = new_lesion_roles(measurements)
    columns = [
        "patient_id",
        "start_day",
        "assessment_day",
        "nlt_sum_mm",
        "nlt_missing",
        "nlnt_progression",
        "further_new",
    ]
    if roles.empty:
        return pd.DataFrame(columns=columns)
    table = _prepare(measurements)
    new_rows = table[(table["assessment_day"] > 0) & table["kind"].isin(NEW_KINDS)]
    new_rows = new_rows[["patient_id", "assessment_day", "lesion_id", "diameter_mm", "status"]]
    days = timepoints.loc[timepoints["assessment_day"] > 0, ["patient_id", "assessment_day"]].drop_duplicates()
    starts = roles[["patient_id", "start_day"]].drop_duplicates()
    pairs = starts.merge(days, on="patient_id")
    pairs = pairs[pairs["assessment_day"] >= pairs["start_day"]]

    cells = pairs.merge(roles, on=["patient_id", "start_day"]).merge(
        new_rows, on=["patient_id", "assessment_day", "lesion_id"], how="left"
    )
    absent = cells["status"].eq("absent").fillna(False).astype(bool)
    diameter = cells["diameter_mm"].where(cells["diameter_mm"].notna() | ~absent, 0.0)
    is_target = cells["role"] == "target"
    cells = cells.assign(
        nlt_mm=diameter.where(is_target, 0.0).fillna(0.0),
        nlt_missing=is_target & diameter.isna(),
        nlnt_progression=~is_target & cells["status"].eq("unequivocal_progression").fillna(False).astype(bool),
    )
    course = (
        cells.groupby(["patient_id", "start_day", "assessment_day"], sort=False)
        .agg(
            nlt_sum_mm=("nlt_mm", "sum"),
            nlt_missing=("nlt_missing", "sum"),
            nlnt_progression=("nlnt_progression", "any"),
            n_targets=("nlt_missing", "size"),
        )
        .reset_index()
    )
    has_target = roles[roles["role"] == "target"].groupby(["patient_id", "start_day"]).size()
    course = course.merge(has_target.rename("n_nlt").reset_index(), on=["patient_id", "start_day"], how="left")
    course["n_nlt"] = course["n_nlt"].fillna(0).astype(int)

    present = new_rows[new_rows["status"].isin(["present", "unequivocal_progression"]).fillna(False).astype(bool)]
    later = pairs.merge(present[["patient_id", "assessment_day", "lesion_id"]], on=["patient_id", "assessment_day"])
    known = roles[["patient_id", "start_day", "lesion_id"]].assign(known=True)
    later = later.merge(known, on=["patient_id", "start_day", "lesion_id"], how="left")
    further = (
        later[later["known"].isna()].groupby(["patient_id", "start_day", "assessment_day"]).size().rename("further_new")
    )
    course = course.merge(further.reset_index(), on=["patient_id", "start_day", "assessment_day"], how="left")
    course["further_new"] = course["further_new"].fillna(0).astype(int)
    course["nlt_sum_mm"] = course["nlt_sum_mm"].where(course["n_nlt"] > 0)
    return course[columns]


def irecist_timepoints(
    timepoints: pd.DataFrame,
    measurements: pd.DataFrame | None = None,
    *,
    confirmation_min_days: float = CONFIRMATION_MIN_DAYS,
    confirmation_max_days: float = CONFIRMATION_MAX_DAYS,
) -> pd.DataFrame:
    """``new_target_sum_mm``, ``irecist_response`` and ``irecist_basis`` for every row of ``timepoints``.

    ``measurements`` is the table ``timepoints`` came from (for the new-lesion split);
    without it no lesion is an NLT and new lesions confirm only by a further new lesion or
    NLNT progression. Empty at baseline (``irecist_basis`` = ``baseline``).
    """
    tp = timepoints.reset_index(drop=True)
    out = pd.DataFrame({"new_target_sum_mm": np.nan, "irecist_response": pd.NA, "irecist_basis": pd.NA}, index=tp.index)
    out = out.astype({"irecist_response": object, "irecist_basis": object})
    out.loc[tp["assessment_day"] <= 0, "irecist_basis"] = "baseline"
    follow = tp[tp["assessment_day"] > 0].sort_values(["patient_id", "assessment_day"], kind="stable")
    if follow.empty:
        return out
    if measurements is not None:
        course = new_lesion_course(measurements, tp)
    else:
        course = pd.DataFrame(columns=["patient_id", "start_day", "assessment_day"])
    course = course.set_index(["patient_id", "start_day", "assessment_day"])

    codes, _ = pd.factorize(follow["patient_id"], sort=True)
    n_patients = codes.max() + 1
    position = follow.groupby("patient_id").cumcount().to_numpy()
    patient_ids = follow["patient_id"].to_numpy(object)
    day = follow["assessment_day"].to_numpy(float)
    overall = follow["overall_response"].to_numpy(object)
    basis = follow["overall_basis"].to_numpy(object) if "overall_basis" in follow else np.full(len(follow), "", object)
    partial = follow["partial_sum_mm"].to_numpy(float)
    target_pd = follow["target_progression"].to_numpy(bool)
    nt_pd = follow["non_target_progression"].to_numpy(bool)
    new_count = follow["new_count"].to_numpy(int)
    rows = follow.index.to_numpy()

    in_upd = np.zeros(n_patients, bool)
    confirmed = np.zeros(n_patients, bool)
    cat_target = np.zeros(n_patients, bool)
    cat_nt = np.zeros(n_patients, bool)
    cat_new = np.zeros(n_patients, bool)
    ref_sum = np.full(n_patients, np.nan)
    ref_nlt = np.full(n_patients, np.nan)
    start_day = np.full(n_patients, np.nan)
    last_day = np.full(n_patients, np.nan)
    labels = np.empty(len(follow), object)
    reasons = np.empty(len(follow), object)
    nlt_out = np.full(len(follow), np.nan)

    def lookup(idx, start):
        """NLT sum, NLT missing, NLNT progression and further new lesions at rows ``idx``."""
        if course.empty:
            none = np.zeros(len(idx), bool)
            return np.full(len(idx), np.nan), none, none, none
        found = course.reindex(pd.MultiIndex.from_arrays([patient_ids[idx], start, day[idx]]))
        return (
            found["nlt_sum_mm"].to_numpy(float),
            np.nan_to_num(found["nlt_missing"].to_numpy(float)) > 0,
            np.nan_to_num(found["nlnt_progression"].to_numpy(float)) > 0,
            np.nan_to_num(found["further_new"].to_numpy(float)) > 0,
        )

    for k in range(position.max() + 1):
        idx = np.flatnonzero(position == k)
        p = codes[idx]
        progression = target_pd[idx] | nt_pd[idx] | (new_count[idx] > 0)
        evaluable = overall[idx] != "NE"
        open_ = in_upd[p] & ~confirmed[p]
        since = day[idx] - start_day[p]
        early = open_ & (since < confirmation_min_days - EPS)
        late = open_ & ~early & (day[idx] - last_day[p] > confirmation_max_days + EPS)
        nlt_sum, nlt_missing, nlnt_prog, further = lookup(idx, start_day[p])
        # Growth of the categories that were iUPD (Table 2), against the episode's first iUPD.
        target_growth = partial[idx] - ref_sum[p]
        nlt_growth = nlt_sum - ref_nlt[p]
        grew_target = cat_target[p] & (target_growth >= 5 - EPS)
        grew_nt = cat_nt[p] & nt_pd[idx]
        grew_nlt = cat_new[p] & (nlt_growth >= 5 - EPS)
        grew_nlnt = cat_new[p] & nlnt_prog
        grew_further = cat_new[p] & further
        newly_target = ~cat_target[p] & target_pd[idx]
        newly_nt = ~cat_nt[p] & nt_pd[idx]
        newly_new = ~cat_new[p] & (new_count[idx] > 0)
        any_growth = grew_target | grew_nt | grew_nlt | grew_nlnt | grew_further | newly_target | newly_nt | newly_new
        confirm = open_ & ~early & any_growth
        reset = open_ & ~early & ~confirm & ~progression & evaluable
        stays = open_ & ~confirm & ~reset
        starts = ~in_upd[p] & ~confirmed[p] & (overall[idx] == "PD")
        was_confirmed = confirmed[p]

        label = np.array(["i" + str(v) for v in overall[idx]], dtype=object)
        label[starts | stays] = "iUPD"
        label[confirm | was_confirmed] = "iCPD"
        labels[idx] = label

        here = basis[idx]
        gaps = day[idx] - last_day[p]
        why = np.array([f"as RECIST 1.1: {b}" for b in here], dtype=object)
        for j in np.flatnonzero(was_confirmed | starts | open_):
            if was_confirmed[j]:
                why[j] = "iCPD confirmed earlier (final)"
            elif starts[j]:
                why[j] = f"iUPD: first RECIST 1.1 progression ({here[j]})"
            elif early[j]:
                why[j] = (
                    f"iUPD: scan {since[j]:g} days after the iUPD, under {confirmation_min_days:g}: "
                    "neither confirms nor resets (iRECIST FAQ)"
                )
            elif confirm[j]:
                parts = []
                if grew_target[j]:
                    parts.append(f"target sum +{target_growth[j]:g} mm over the iUPD (>= 5 mm)")
                if grew_nlt[j]:
                    parts.append(f"new-lesion target sum +{nlt_growth[j]:g} mm over the iUPD (>= 5 mm)")
                if grew_nlnt[j]:
                    parts.append("new-lesion non-target progression")
                if grew_further[j]:
                    parts.append("a further new lesion")
                if grew_nt[j]:
                    parts.append("further non-target progression")
                for flag, name in ((newly_target, "target"), (newly_nt, "non-target"), (newly_new, "new-lesion")):
                    if flag[j]:
                        parts.append(f"progression newly in {name} disease")
                why[j] = "iCPD: " + "; ".join(parts) + " (Seymour 2017, Table 2)"
            elif reset[j]:
                why[j] = f"iUPD reset, no progression: {here[j]}"
            elif stays[j]:
                why[j] = (
                    "iUPD stays: not evaluable"
                    if not evaluable[j]
                    else "iUPD stays: progression without further growth (Table 2)"
                )
            if late[j] and (confirm[j] or reset[j] or stays[j]):
                why[j] += f"; scan {gaps[j]:g} days after the previous one, later than {confirmation_max_days:g} (used)"
        reasons[idx] = why

        # State updates.
        confirmed[p[confirm]] = True
        in_upd[p[reset]] = False
        last_day[p[stays & ~early]] = day[idx][stays & ~early]
        s = p[starts]
        in_upd[s] = True
        cat_target[s] = target_pd[idx][starts]
        cat_nt[s] = nt_pd[idx][starts]
        cat_new[s] = new_count[idx][starts] > 0
        ref_sum[s] = partial[idx][starts]
        start_day[s] = day[idx][starts]
        last_day[s] = day[idx][starts]
        start_nlt, start_missing, _, _ = lookup(idx[starts], day[idx][starts])
        ref_nlt[s] = start_nlt
        # NLT sum of the episode (starting row included; empty when an NLT is not measured).
        in_episode = starts | (open_ & ~reset) | (confirm)
        episode_sum = np.where(starts, 0.0, nlt_sum)
        episode_missing = np.where(starts, False, nlt_missing)
        if starts.any():
            episode_sum[starts] = start_nlt
            episode_missing[starts] = start_missing
        shown = in_episode & cat_new[p] & ~episode_missing
        nlt_out[idx] = np.where(shown, episode_sum, np.nan)

    out.loc[rows, "irecist_response"] = labels
    out.loc[rows, "irecist_basis"] = reasons
    out.loc[rows, "new_target_sum_mm"] = nlt_out
    return out


def irecist_responses(timepoints: pd.DataFrame, measurements: pd.DataFrame | None = None, **window) -> pd.Series:
    """iRECIST time-point response for every row of ``timepoints`` (empty at baseline)."""
    return irecist_timepoints(timepoints, measurements, **window)["irecist_response"]


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
