"""RECIST 1.1: time-point responses and best overall response from lesion measurements.

Reference: Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation
criteria in solid tumours: revised RECIST guideline (version 1.1). Eur J Cancer
2009;45:228-247. Section numbers below are the paper's.

Input is the long measurement table of ``workflow/schemas/tables/recist.schema.yaml``
(one row per lesion per assessment), typed by :func:`contexture.io.validation.read_validated_table`
and checked across rows by :func:`check_measurements`. Everything is computed per
assessment with grouped, vectorized pandas operations (no loop over patients), so a
10,000-patient trial takes seconds.

Conventions (written down because the guideline leaves them to the protocol):

* Baseline is every row with ``assessment_day <= 0``; its day in the output is the
  patient's latest baseline day. Each later day with at least one row is one assessment.
* A target lesion without a row at an assessment, or with an empty ``diameter_mm``,
  is not evaluated. A target with ``status = absent`` and no diameter counts as 0 mm.
* A non-target lesion without a row or with an empty ``status`` is not evaluated.
* A ``new`` row whose status is anything but ``absent`` is a new lesion (section 4.3.5;
  equivocal new lesions should not be entered until they are unequivocal).
* Nadir (section 4.3.1, PD): the smallest evaluable target sum *before* the assessment,
  baseline included; ``pct_from_nadir`` is relative to it.
* After a CR of non-nodal targets the nadir is 0 mm, so reappearance is PD once the sum
  is 5 mm or more (the 20% part is then always met); smaller reappearances are PR/SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.errors import Problem

RESPONSES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
# Numerical slack for threshold comparisons of sums of decimal millimetres.
EPS = 1e-9

TIMEPOINT_COLUMNS = [
    "patient_id",
    "assessment_day",
    "target_sum_mm",
    "pct_from_baseline",
    "nadir_mm",
    "pct_from_nadir",
    "targets_not_evaluated",
    "target_response",
    "non_target_response",
    "new_lesions",
    "overall_response",
]


# --------------------------------------------------------------------------------------
# Cross-row validation
# --------------------------------------------------------------------------------------
def _prepare(measurements: pd.DataFrame) -> pd.DataFrame:
    """Add the 1-based data ``row`` and fill optional columns with their defaults."""
    table = measurements.reset_index(drop=True).copy()
    if "row" not in table.columns:
        table["row"] = np.arange(1, len(table) + 1)
    for column in ("organ", "status"):
        if column not in table.columns:
            table[column] = pd.Series(pd.NA, index=table.index, dtype="string")
    if "lymph_node" not in table.columns:
        table["lymph_node"] = False
    table["lymph_node"] = table["lymph_node"].astype("boolean").fillna(False).astype(bool)
    table["patient_id"] = table["patient_id"].astype(str)
    table["lesion_id"] = table["lesion_id"].astype(str)
    table["kind"] = table["kind"].astype(str)
    table["status"] = table["status"].astype("string")
    table["assessment_day"] = table["assessment_day"].astype(float)
    table["diameter_mm"] = table["diameter_mm"].astype(float)
    return table


def check_measurements(measurements: pd.DataFrame, file: str = "RECIST table") -> list[Problem]:
    """Cross-row checks the row schema cannot express; returns every problem found.

    * every patient has a baseline assessment (``assessment_day <= 0``);
    * no lesion is ``new`` at baseline, and no lesion has two baseline records;
    * every target lesion has a baseline diameter (section 4.2: targets are measured at baseline);
    * a target (non-target) lesion after baseline was a target (non-target) lesion at
      baseline: lesions first seen later are ``new`` (section 4.3.5);
    * ``lymph_node`` is the same in every row of a lesion.
    """
    table = _prepare(measurements)
    problems: list[Problem] = []
    is_base = table["assessment_day"] <= 0

    first_rows = table.groupby("patient_id", sort=True)["row"].min()
    has_base = table[is_base].groupby("patient_id").size()
    for patient, row in first_rows[~first_rows.index.isin(has_base.index)].items():
        problems.append(
            Problem(
                file,
                int(row),
                "assessment_day",
                table.loc[row - 1, "assessment_day"],
                f"a baseline assessment (assessment_day <= 0) for patient '{patient}'",
            )
        )
    base = table[is_base]
    for _, r in base[base["kind"] == "new"].iterrows():
        problems.append(Problem(file, int(r["row"]), "kind", "new", "'target' or 'non_target' at baseline"))
    twice = base.duplicated(["patient_id", "lesion_id"], keep="first")
    for _, r in base[twice].iterrows():
        problems.append(
            Problem(
                file, int(r["row"]), "lesion_id", r["lesion_id"], "one baseline record per lesion (this one repeats)"
            )
        )
    unmeasured = base[(base["kind"] == "target") & base["diameter_mm"].isna()]
    for _, r in unmeasured.iterrows():
        problems.append(
            Problem(
                file, int(r["row"]), "diameter_mm", None, "a baseline diameter for every target lesion (section 4.2)"
            )
        )
    for kind in ("target", "non_target"):
        known = base.loc[base["kind"] == kind, ["patient_id", "lesion_id"]].drop_duplicates()
        # Patients without any baseline are reported once, above.
        later = table[~is_base & (table["kind"] == kind) & table["patient_id"].isin(has_base.index)]
        merged = later.merge(known, on=["patient_id", "lesion_id"], how="left", indicator=True)
        for _, r in merged[merged["_merge"] == "left_only"].iterrows():
            problems.append(
                Problem(
                    file,
                    int(r["row"]),
                    "lesion_id",
                    r["lesion_id"],
                    f"a {kind} lesion recorded as {kind} at baseline for patient '{r['patient_id']}' "
                    "(lesions first seen after baseline have kind 'new')",
                )
            )
    node_kinds = table.groupby(["patient_id", "lesion_id"])["lymph_node"].transform("nunique")
    inconsistent = table[node_kinds > 1]
    for _, r in inconsistent.drop_duplicates(["patient_id", "lesion_id"], keep="last").iterrows():
        problems.append(
            Problem(
                file, int(r["row"]), "lymph_node", r["lymph_node"], "the same lymph_node value in every row of a lesion"
            )
        )
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))


# --------------------------------------------------------------------------------------
# Time-point responses
# --------------------------------------------------------------------------------------
def _assessments(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Baseline rows, follow-up rows and the follow-up assessment grid (patient_id, assessment_day)."""
    base = table[table["assessment_day"] <= 0]
    follow = table[table["assessment_day"] > 0]
    grid = follow[["patient_id", "assessment_day"]].drop_duplicates()
    return base, follow, grid


def target_lesion_summary(base: pd.DataFrame, follow: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Per follow-up assessment: sum of measured targets, count not evaluated, CR flags.

    Section 4.3.1/4.3.2: CR needs every non-nodal target to have disappeared and every
    nodal target's short axis < 10 mm, so a CR sum may be above 0 mm.
    """
    targets = base.loc[base["kind"] == "target", ["patient_id", "lesion_id", "lymph_node"]]
    measured = follow.loc[
        follow["kind"] == "target", ["patient_id", "assessment_day", "lesion_id", "diameter_mm", "status"]
    ]
    cells = grid.merge(targets, on="patient_id").merge(
        measured, on=["patient_id", "assessment_day", "lesion_id"], how="left"
    )
    absent = cells["status"].eq("absent").fillna(False).astype(bool)
    diameter = cells["diameter_mm"].where(cells["diameter_mm"].notna() | ~absent, 0.0)
    cells = cells.assign(
        diameter=diameter,
        missing=diameter.isna(),
        non_nodal_left=~cells["lymph_node"] & (diameter > 0),
        node_ge10=cells["lymph_node"] & (diameter >= 10 - EPS),
    )
    return (
        cells.groupby(["patient_id", "assessment_day"], sort=False)
        .agg(
            partial_sum=("diameter", "sum"),
            targets_not_evaluated=("missing", "sum"),
            non_nodal_left=("non_nodal_left", "any"),
            node_ge10=("node_ge10", "any"),
        )
        .reset_index()
    )


def non_target_summary(base: pd.DataFrame, follow: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Per follow-up assessment, section 4.3.3: CR / NON-CR/NON-PD / PD / NE of non-target disease."""
    lesions = base.loc[base["kind"] == "non_target", ["patient_id", "lesion_id"]]
    seen = follow.loc[follow["kind"] == "non_target", ["patient_id", "assessment_day", "lesion_id", "status"]]
    cells = grid.merge(lesions, on="patient_id").merge(
        seen, on=["patient_id", "assessment_day", "lesion_id"], how="left"
    )
    cells = cells.assign(
        progression=cells["status"].eq("unequivocal_progression").fillna(False).astype(bool),
        missing=cells["status"].isna(),
        absent=cells["status"].eq("absent").fillna(False).astype(bool),
    )
    summary = (
        cells.groupby(["patient_id", "assessment_day"], sort=False)
        .agg(nt_progression=("progression", "any"), nt_missing=("missing", "any"), nt_all_absent=("absent", "all"))
        .reset_index()
    )
    summary["non_target_response"] = np.select(
        [summary["nt_progression"], summary["nt_missing"], summary["nt_all_absent"]],
        ["PD", "NE", "CR"],
        "NON-CR/NON-PD",
    )
    return summary


def new_lesion_summary(follow: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Per follow-up assessment: number, diameter sum and unequivocal growth of new lesions (section 4.3.5)."""
    new = follow[(follow["kind"] == "new") & ~follow["status"].eq("absent").fillna(False).astype(bool)]
    new = new.assign(unequivocal=new["status"].eq("unequivocal_progression").fillna(False).astype(bool))
    summary = (
        new.groupby(["patient_id", "assessment_day"], sort=False)
        .agg(
            new_count=("lesion_id", "size"),
            new_sum_mm=("diameter_mm", "sum"),
            new_unequivocal=("unequivocal", "any"),
        )
        .reset_index()
    )
    out = grid.merge(summary, on=["patient_id", "assessment_day"], how="left")
    out["new_count"] = out["new_count"].fillna(0).astype(int)
    out["new_sum_mm"] = out["new_sum_mm"].fillna(0.0)
    out["new_unequivocal"] = out["new_unequivocal"].astype("boolean").fillna(False).astype(bool)
    return out


def is_target_progression(sum_mm, nadir_mm) -> np.ndarray:
    """Section 4.3.1 PD: sum >= 1.2 x nadir AND sum - nadir >= 5 mm (nadir includes baseline)."""
    sum_mm = np.asarray(sum_mm, float)
    nadir_mm = np.asarray(nadir_mm, float)
    with np.errstate(invalid="ignore"):
        return (sum_mm - 1.2 * nadir_mm >= -EPS) & (sum_mm - nadir_mm >= 5 - EPS)


def overall_response(target, non_target, new_lesions, has_targets) -> np.ndarray:
    """Time-point response from its components (section 4.4.1, Tables 1 and 2).

    Table 1 (target disease): PD if any component shows PD or a new lesion appears;
    target NE -> NE; target CR with non-target CR or absent -> CR; target CR with
    non-target NON-CR/NON-PD or NE -> PR; target PR -> PR; target SD -> SD.
    Table 2 (non-target disease only): PD if non-target PD or new lesion, else the
    non-target response (CR, NON-CR/NON-PD or NE).
    """
    target = np.asarray(target, object)
    non_target = np.asarray(non_target, object)
    new_lesions = np.asarray(new_lesions, bool)
    has_targets = np.asarray(has_targets, bool)
    progression = (target == "PD") | (non_target == "PD") | new_lesions
    nt_clear = (non_target == "CR") | pd.isna(non_target)
    with_targets = np.select(
        [progression, target == "NE", (target == "CR") & nt_clear, target == "CR", target == "PR"],
        ["PD", "NE", "CR", "PR", "PR"],
        "SD",
    )
    without_targets = np.where(progression, "PD", np.where(pd.isna(non_target), "NE", non_target))
    return np.where(has_targets, with_targets, without_targets).astype(object)


def timepoint_responses(measurements: pd.DataFrame) -> pd.DataFrame:
    """One row per patient and assessment (baseline included) with sums and responses.

    Columns: ``TIMEPOINT_COLUMNS`` plus helper columns used by iRECIST
    (``partial_sum_mm``, ``target_progression``, ``non_target_progression``,
    ``new_count``, ``new_sum_mm``, ``new_unequivocal``, ``has_targets``). Baseline rows
    have the baseline sum and empty responses. Percentages are 100 x (sum - ref) / ref;
    ``pct_from_nadir`` is empty when the nadir is 0 mm.
    """
    table = _prepare(measurements)
    base, follow, grid = _assessments(table)
    base_targets = base[base["kind"] == "target"]
    baseline_sum = base_targets.groupby("patient_id")["diameter_mm"].sum()
    has_nt = base[base["kind"] == "non_target"].groupby("patient_id").size() > 0
    patients = pd.Index(sorted(base["patient_id"].unique()), name="patient_id")

    t = target_lesion_summary(base, follow, grid)
    nt = non_target_summary(base, follow, grid)
    new = new_lesion_summary(follow, grid)
    tp = (
        grid.merge(t, on=["patient_id", "assessment_day"], how="left")
        .merge(nt, on=["patient_id", "assessment_day"], how="left")
        .merge(new, on=["patient_id", "assessment_day"], how="left")
        .sort_values(["patient_id", "assessment_day"], kind="stable")
        .reset_index(drop=True)
    )
    tp["has_targets"] = tp["patient_id"].isin(baseline_sum.index[baseline_sum.notna()])
    tp["baseline_sum_mm"] = tp["patient_id"].map(baseline_sum)
    complete = tp["targets_not_evaluated"] == 0
    tp["target_sum_mm"] = tp["partial_sum"].where(complete & tp["has_targets"])
    # Nadir before this assessment: running minimum of evaluable sums, shifted, and baseline.
    running = tp["target_sum_mm"].fillna(np.inf).groupby(tp["patient_id"]).cummin()
    previous = running.groupby(tp["patient_id"]).shift(1).fillna(np.inf)
    tp["nadir_mm"] = np.minimum(previous, tp["baseline_sum_mm"]).where(tp["has_targets"])
    tp["partial_sum_mm"] = tp["partial_sum"].where(tp["has_targets"])
    tp["target_progression"] = is_target_progression(tp["partial_sum_mm"], tp["nadir_mm"]) & tp["has_targets"]
    cr = complete & ~tp["non_nodal_left"].astype(bool) & ~tp["node_ge10"].astype(bool)
    pr = complete & (tp["target_sum_mm"] - 0.7 * tp["baseline_sum_mm"] <= EPS)
    tp["target_response"] = np.where(
        tp["has_targets"],
        np.select([tp["target_progression"], ~complete, cr, pr], ["PD", "NE", "CR", "PR"], "SD"),
        None,
    )
    tp["non_target_progression"] = tp["nt_progression"].astype("boolean").fillna(False).astype(bool)
    tp["non_target_response"] = tp["non_target_response"].where(tp["patient_id"].isin(has_nt.index[has_nt]))
    tp["new_lesions"] = tp["new_count"] > 0
    tp["overall_response"] = overall_response(
        tp["target_response"], tp["non_target_response"], tp["new_lesions"], tp["has_targets"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        tp["pct_from_baseline"] = 100 * (tp["target_sum_mm"] - tp["baseline_sum_mm"]) / tp["baseline_sum_mm"]
        tp["pct_from_nadir"] = (100 * (tp["target_sum_mm"] - tp["nadir_mm"]) / tp["nadir_mm"]).where(tp["nadir_mm"] > 0)

    baseline_rows = pd.DataFrame(
        {
            "patient_id": patients,
            "assessment_day": base.groupby("patient_id")["assessment_day"].max().reindex(patients).to_numpy(),
            "target_sum_mm": baseline_sum.reindex(patients).to_numpy(),
            "has_targets": baseline_sum.reindex(patients).notna().to_numpy(),
        }
    )
    baseline_rows["pct_from_baseline"] = np.where(baseline_rows["has_targets"], 0.0, np.nan)
    baseline_rows["targets_not_evaluated"] = 0
    baseline_rows["new_lesions"] = False
    baseline_rows["new_count"] = 0
    baseline_rows["new_sum_mm"] = 0.0
    extra = [
        "partial_sum_mm",
        "target_progression",
        "non_target_progression",
        "new_count",
        "new_sum_mm",
        "new_unequivocal",
        "has_targets",
    ]
    follow_rows = tp[TIMEPOINT_COLUMNS + [c for c in extra if c not in TIMEPOINT_COLUMNS]]
    out = pd.concat([baseline_rows.reindex(columns=follow_rows.columns), follow_rows], ignore_index=True)
    out["targets_not_evaluated"] = out["targets_not_evaluated"].fillna(0).astype(int)
    for column in ("target_progression", "non_target_progression", "new_unequivocal", "new_lesions", "has_targets"):
        out[column] = out[column].astype("boolean").fillna(False).astype(bool)
    out["new_count"] = out["new_count"].fillna(0).astype(int)
    return out.sort_values(["patient_id", "assessment_day"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Best overall response
# --------------------------------------------------------------------------------------
# Categories used by the generic best-response algorithm: RECIST labels, and iRECIST
# labels without their 'i' prefix ('UPD' = unconfirmed progression, 'CPD' = confirmed).
_STABLE = {"CR", "PR", "SD", "NON-CR/NON-PD"}


def _confirmed(window: pd.DataFrame, first: set[str], second: set[str], allowed_between: set[str], days, max_ne):
    """Patients with a ``first`` response confirmed by a ``second`` one >= ``days`` later.

    Every assessment strictly between the two must be in ``allowed_between`` or NE, with
    at most ``max_ne`` NE (RECIST 1.1 section 4.6.1; the admiralonco rule for NE).
    Vectorized over patients by a self-join of the candidate assessments.
    """
    w = window
    bad = (~w["category"].isin(allowed_between | {"NE"})).astype(int)
    ne = (w["category"] == "NE").astype(int)
    w = w.assign(cum_bad=bad.groupby(w["patient_id"]).cumsum(), cum_ne=ne.groupby(w["patient_id"]).cumsum())
    left = w.loc[w["category"].isin(first), ["patient_id", "assessment_day", "cum_bad", "cum_ne"]]
    right = w.loc[w["category"].isin(second), ["patient_id", "assessment_day", "cum_bad", "cum_ne", "category"]]
    pairs = left.merge(right, on="patient_id", suffixes=("_1", "_2"))
    pairs = pairs[pairs["assessment_day_2"] - pairs["assessment_day_1"] >= days - EPS]
    # Counts strictly between: cumulative at the second minus its own, minus cumulative at the first.
    own_bad = (~pairs["category"].isin(allowed_between | {"NE"})).astype(int)
    bad_between = pairs["cum_bad_2"] - own_bad - pairs["cum_bad_1"]
    ne_between = pairs["cum_ne_2"] - (pairs["category"] == "NE").astype(int) - pairs["cum_ne_1"]
    ok = pairs[(bad_between == 0) & (ne_between <= max_ne)]
    return set(ok["patient_id"])


def best_response(
    timepoints: pd.DataFrame,
    response_column: str,
    *,
    confirmation: bool = True,
    min_sd_days: float = 42,
    confirmation_days: float = 28,
    max_ne_between: int = 1,
    prefix: str = "",
) -> pd.Series:
    """Best overall response per patient (RECIST 1.1 section 4.4.3 and Table 3).

    Only assessments up to the first (confirmed) progression count; assessments are
    follow-up rows (``assessment_day > 0``) of ``timepoints``. With ``prefix='i'`` the
    labels are iRECIST's (iCR, iPR, iSD, iUPD, iCPD, ...; Seymour et al. 2017): iUPD does
    not end the window, iCPD does.

    * CR: with confirmation, a CR confirmed by a CR >= ``confirmation_days`` later with
      only CR or NE in between (section 4.6.1); without, any CR.
    * PR: with confirmation, a PR (or CR) confirmed by a PR or CR >= ``confirmation_days``
      later with only CR, PR or NE in between; without, any PR.
    * SD (NON-CR/NON-PD for non-target-only disease): any CR, PR, SD or NON-CR/NON-PD at
      or after ``min_sd_days`` from treatment start (section 4.4.3, SD minimum duration);
      an unconfirmed CR/PR so becomes SD when that duration is met.
    * otherwise PD if progression was documented (so early SD followed by PD is PD),
      else NE.
    """
    tp = timepoints[timepoints["assessment_day"] > 0]
    labels = tp[response_column].astype(object)
    category = labels.str.removeprefix(prefix) if prefix else labels
    frame = pd.DataFrame(
        {
            "patient_id": tp["patient_id"].to_numpy(),
            "assessment_day": tp["assessment_day"].to_numpy(),
            "category": category.to_numpy(),
        }
    ).sort_values(["patient_id", "assessment_day"], kind="stable")
    terminal = "CPD" if prefix else "PD"
    ended = (frame["category"] == terminal).astype(int).groupby(frame["patient_id"]).cumsum()
    before_end = ended - (frame["category"] == terminal).astype(int) == 0
    window = frame[before_end.to_numpy()].reset_index(drop=True)

    if confirmation:
        cr = _confirmed(window, {"CR"}, {"CR"}, {"CR"}, confirmation_days, max_ne_between)
        pr = _confirmed(window, {"PR", "CR"}, {"PR", "CR"}, {"CR", "PR"}, confirmation_days, max_ne_between)
    else:
        cr = set(window.loc[window["category"] == "CR", "patient_id"])
        pr = set(window.loc[window["category"] == "PR", "patient_id"])
    stable_rows = window[window["category"].isin(_STABLE) & (window["assessment_day"] >= min_sd_days - EPS)]
    stable = set(stable_rows["patient_id"])
    has_targets = (
        timepoints.groupby("patient_id")["has_targets"].any()
        if "has_targets" in timepoints
        else pd.Series(True, index=pd.Index(timepoints["patient_id"].unique()))
    )
    progression = set(window.loc[window["category"] == terminal, "patient_id"])
    unconfirmed = set(window.loc[window["category"] == "UPD", "patient_id"]) if prefix else set()

    patients = pd.Index(sorted(timepoints["patient_id"].unique()), name="patient_id")
    result = []
    for patient in patients:  # set look-ups only: O(patients)
        if patient in cr:
            value = "CR"
        elif patient in pr:
            value = "PR"
        elif patient in stable:
            value = "SD" if has_targets.get(patient, True) else "NON-CR/NON-PD"
        elif patient in progression:
            value = terminal
        elif patient in unconfirmed:
            value = "UPD"
        else:
            value = "NE"
        result.append(prefix + value)
    return pd.Series(result, index=patients, name="bor_irecist" if prefix else "bor")


def best_overall_response(
    timepoints: pd.DataFrame,
    *,
    confirmation: bool = True,
    min_sd_days: float = 42,
    confirmation_days: float = 28,
    max_ne_between: int = 1,
) -> pd.Series:
    """RECIST 1.1 best overall response (section 4.4.3, Table 3) from :func:`timepoint_responses`."""
    return best_response(
        timepoints,
        "overall_response",
        confirmation=confirmation,
        min_sd_days=min_sd_days,
        confirmation_days=confirmation_days,
        max_ne_between=max_ne_between,
    )


def first_progression_day(timepoints: pd.DataFrame, column: str = "overall_response", label: str = "PD") -> pd.Series:
    """Day of the first assessment with ``label`` per patient (NaN if none)."""
    follow = timepoints[timepoints["assessment_day"] > 0]
    days = follow.loc[follow[column] == label].groupby("patient_id")["assessment_day"].min()
    return days.reindex(pd.Index(sorted(timepoints["patient_id"].unique()), name="patient_id"))


def best_percent_change(timepoints: pd.DataFrame) -> pd.Series:
    """Best (most negative) % change of the target sum from baseline, up to the first PD.

    Assessments after the first RECIST progression are excluded (waterfall-plot convention);
    empty for non-target-only disease or without an evaluable follow-up sum.
    """
    follow = timepoints[timepoints["assessment_day"] > 0]
    first_pd = first_progression_day(timepoints)
    limit = follow["patient_id"].map(first_pd).fillna(np.inf)
    usable = follow[follow["assessment_day"] <= limit]
    best = usable.groupby("patient_id")["pct_from_baseline"].min()
    return best.reindex(pd.Index(sorted(timepoints["patient_id"].unique()), name="patient_id")).rename(
        "best_pct_change"
    )


# --------------------------------------------------------------------------------------
# Response rates
# --------------------------------------------------------------------------------------
RATE_DEFINITIONS = {
    "ORR": ("CR", "PR"),
    "DCR": ("CR", "PR", "SD", "NON-CR/NON-PD"),
}


def response_rates(bor: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """ORR, DCR and each best-response share with exact Clopper-Pearson confidence intervals.

    ``bor`` has columns ``bor`` (RECIST 1.1) and optionally ``bor_irecist``. The
    denominator is every patient with a baseline assessment (NE patients count as
    non-responders, as in RECIST 1.1 section 4.4.3 and FDA practice). ORR = CR + PR;
    DCR = CR + PR + SD + NON-CR/NON-PD (SD meeting its minimum duration). CIs from
    ``statsmodels.stats.proportion.proportion_confint(count, n, alpha, method="beta")``
    (R: ``binom.test(count, n)$conf.int``).
    """
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for criteria, column, prefix in (("RECIST 1.1", "bor", ""), ("iRECIST", "bor_irecist", "i")):
        if column not in bor.columns:
            continue
        values = bor[column].astype(str)
        n = len(values)
        endpoints = [(name, tuple(prefix + c for c in cats)) for name, cats in RATE_DEFINITIONS.items()]
        categories = [prefix + c for c in RESPONSES]
        if prefix:
            categories = [c for c in categories if c != "iPD"] + ["iUPD", "iCPD"]
        endpoints += [(f"BOR {c}", (c,)) for c in categories]
        for endpoint, included in endpoints:
            count = int(values.isin(included).sum())
            if n:
                low, high = proportion_confint(count, n, alpha=alpha, method="beta")
                rate = count / n
            else:
                low = high = rate = np.nan
            rows.append(
                {
                    "criteria": criteria,
                    "endpoint": endpoint,
                    "count": count,
                    "n": n,
                    "rate": rate,
                    "ci_low": low,
                    "ci_high": high,
                    "ci_level": 1 - alpha,
                    "ci_method": "Clopper-Pearson exact",
                }
            )
    return pd.DataFrame(rows)
