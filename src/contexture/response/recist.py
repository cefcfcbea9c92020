"""RECIST 1.1: time-point responses and best overall response from lesion measurements.

Reference: Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation
criteria in solid tumours: revised RECIST guideline (version 1.1). Eur J Cancer
2009;45:228-247. Section numbers below are the paper's.

Input is the long measurement table of ``src/contexture/schemas/tables/recist.schema.yaml``
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
* New lesions have kind ``new`` (iRECIST derives their target/non-target role), or
  ``new_target`` / ``new_non_target`` when the reader chose the role (iRECIST, Seymour
  et al. 2017, "new lesions"). For RECIST 1.1 the three are the same: a new-lesion row
  with status ``present`` or ``unequivocal_progression`` is a new lesion (section 4.3.5;
  equivocal new lesions should not be entered until they are unequivocal), ``absent`` is
  none, and an empty status is *not evaluated*, as for non-targets: it makes the
  assessment NE unless progression is shown otherwise (it is never PD by itself).
* Nadir (section 4.3.1, PD): the smallest evaluable target sum *before* the assessment,
  baseline included; ``pct_from_nadir`` is relative to it.
* Reappearance after CR (RECIST 1.1 FAQ, EORTC RECIST working group, "Does a new lesion
  always result in PD?"; Schwartz et al., Eur J Cancer 2016;62:132-137): when the
  patient's latest evaluable time-point response was an overall CR, the reappearance of
  any lesion is PD -- a non-nodal target measured above 0 mm, a nodal target back to
  >= 10 mm short axis, or a non-target recorded ``present`` or ``unequivocal_progression``
  -- whatever its size. The state persists while the lesion stays (so iRECIST keeps the
  iUPD open); otherwise the usual sum rules apply (after a PR a reappearing lesion only
  adds to the sum).
* Target selection (section 4.2) is not enforced here: :func:`target_selection_warnings`
  lists the baseline lesions that break it.
"""

from __future__ import annotations

__all__ = [
    "EPS",
    "NEW_KINDS",
    "TIMEPOINT_COLUMNS",
    "best_overall_response",
    "best_percent_change",
    "best_response",
    "check_measurements",
    "convert_units",
    "first_progression_day",
    "header_unit_problems",
    "is_target_progression",
    "new_lesion_summary",
    "non_target_summary",
    "organ_key",
    "overall_basis",
    "overall_response",
    "response_rates",
    "scale_diameters",
    "select_targets",
    "selection_problems",
    "target_lesion_summary",
    "target_selection_warnings",
    "timepoint_responses",
    "unit_problems",
]

import numpy as np
import pandas as pd

from contexture.errors import Problem

RESPONSES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
NEW_KINDS = ("new", "new_target", "new_non_target")
# Measurability (section 3.1.1): non-nodal lesions >= 10 mm, lymph nodes >= 15 mm short axis
# (10-15 mm nodes are pathological but non-measurable: non-targets); at most 5 targets, 2
# per organ (section 4.2). iRECIST uses the same rules for new-lesion targets.
MIN_TARGET_MM, MIN_NODAL_TARGET_MM, MAX_TARGETS, MAX_TARGETS_PER_ORGAN = 10.0, 15.0, 5, 2
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
    "new_not_evaluated",
    "overall_response",
    "overall_basis",
]

# Why each time-point response was given (column ``overall_basis``), with the rule's source.
BASIS = {
    "target_pd": "target sum >= 1.2 x nadir and >= nadir + 5 mm (RECIST 1.1 s4.3.1)",
    "reappearance": "lesion reappeared after an overall CR (RECIST 1.1 FAQ; Schwartz 2016)",
    "non_target_pd": "unequivocal non-target progression (s4.3.3)",
    "new": "new lesion (s4.3.5)",
    "target_ne": "target lesion not evaluated (s4.4.2, Table 1)",
    "non_target_ne": "non-target lesion not evaluated (Table 2)",
    "new_ne": "new-lesion status not evaluated (empty)",
    "CR": "all non-nodal targets 0 mm, nodes < 10 mm, non-targets absent (s4.3.1, Table 1)",
    "CR_nt": "all non-target lesions absent, no target disease (Table 2)",
    "PR_cr": "target CR with non-target disease remaining (Table 1)",
    "PR": "target sum <= 0.7 x baseline (s4.3.1)",
    "SD": "neither PR nor PD (s4.3.1)",
    "NON-CR/NON-PD": "non-target disease persists without progression (Table 2)",
}


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
    for _, r in base[base["kind"].isin(NEW_KINDS)].iterrows():
        problems.append(Problem(file, int(r["row"]), "kind", r["kind"], "'target' or 'non_target' at baseline"))
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
    # A new lesion keeps its role: 'new_target' at one assessment and 'new_non_target' (or
    # 'new') at another would make the iRECIST new-lesion sums change meaning between scans.
    new_rows = table[table["kind"].isin(NEW_KINDS)]
    new_kinds = new_rows.groupby(["patient_id", "lesion_id"])["kind"].transform("nunique")
    for _, r in new_rows[new_kinds > 1].drop_duplicates(["patient_id", "lesion_id"], keep="last").iterrows():
        problems.append(
            Problem(
                file,
                int(r["row"]),
                "kind",
                r["kind"],
                "the same kind (new, new_target or new_non_target) in every row of a new lesion",
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


def organ_key(organ: pd.Series, lymph_node: pd.Series) -> pd.Series:
    """The organ a lesion counts in for the 2-per-organ rule: every lymph node is one organ
    (RECIST 1.1 FAQ, "Nodes are considered to be one organ"); other organs by their
    ``organ`` text, case and surrounding space ignored; empty when unknown."""
    text = organ.astype("string").str.strip().str.lower()
    return text.mask(lymph_node.astype(bool), "lymph_node")


def select_targets(candidates: pd.DataFrame, group: list[str]) -> pd.Series:
    """Boolean per row of ``candidates``: chosen as a target, the largest first.

    Section 4.2 (and iRECIST for new-lesion targets): measurable lesions only (non-nodal
    ``diameter_mm`` >= 10 mm, nodal short axis >= 15 mm), at most 5 per ``group`` (a
    patient, or a patient's iUPD), at most 2 per organ (:func:`organ_key`; lesions of
    unknown organ are each their own organ). Rows with ``chosen`` already True (the reader's
    own marks) take their places first. Ties keep the input order (stable sort).
    """
    frame = candidates.assign(_order=np.arange(len(candidates)))
    node = frame["lymph_node"].astype(bool)
    measurable = frame["diameter_mm"] >= np.where(node, MIN_NODAL_TARGET_MM, MIN_TARGET_MM) - EPS
    organ = organ_key(frame["organ"], node)
    organ = organ.fillna("?" + frame["lesion_id"].astype(str))
    marked = frame["chosen"].astype(bool) if "chosen" in frame else pd.Series(False, index=frame.index)
    frame = frame.assign(_organ=organ, _measurable=measurable & ~marked, _marked=marked)
    ranked = frame.sort_values(["_marked", "diameter_mm"], ascending=[False, False], kind="stable")
    ranked = ranked[ranked["_marked"] | ranked["_measurable"]]
    per_organ = ranked.groupby(group + ["_organ"], sort=False).cumcount()
    ranked = ranked[ranked["_marked"] | (per_organ < MAX_TARGETS_PER_ORGAN)]
    per_group = ranked.groupby(group, sort=False).cumcount()
    ranked = ranked[ranked["_marked"] | (per_group < MAX_TARGETS)]
    chosen = pd.Series(False, index=frame.index)
    chosen[ranked.index] = True
    return chosen


def target_selection_warnings(measurements: pd.DataFrame) -> pd.DataFrame:
    """Baseline target lesions that break RECIST 1.1 section 4.2, one row per patient and rule.

    Columns ``patient_id``, ``rule``, ``lesion_ids`` (comma-separated) and ``detail``:

    * ``max_5_targets``: more than 5 target lesions;
    * ``max_2_per_organ``: more than 2 targets in one organ (all lymph nodes are one organ);
    * ``non_nodal_min_10mm``: a non-nodal target under 10 mm (section 3.1.1, measurable);
    * ``nodal_min_15mm``: a nodal target under 15 mm short axis (10-15 mm nodes are
      pathological but non-target; < 10 mm nodes are normal).

    Selection is the reader's; the measurements are scored as given, so these are warnings
    unless ``response.strict_selection`` makes them errors.
    """
    table = _prepare(measurements)
    base = table[(table["assessment_day"] <= 0) & (table["kind"] == "target")]
    base = base.drop_duplicates(["patient_id", "lesion_id"])
    rows = []

    def add(patient, rule, lesions, detail):
        rows.append({"patient_id": patient, "rule": rule, "lesion_ids": ",".join(lesions), "detail": detail})

    organ = organ_key(base["organ"], base["lymph_node"])
    for patient, group in base.assign(_organ=organ).groupby("patient_id", sort=True):
        if len(group) > MAX_TARGETS:
            add(patient, "max_5_targets", group["lesion_id"], f"{len(group)} target lesions; at most 5 (s4.2)")
        for name, lesions in group.dropna(subset=["_organ"]).groupby("_organ", sort=True):
            if len(lesions) > MAX_TARGETS_PER_ORGAN:
                add(
                    patient,
                    "max_2_per_organ",
                    lesions["lesion_id"],
                    f"{len(lesions)} target lesions in {name}; at most 2 per organ (s4.2)",
                )
        small = group[~group["lymph_node"] & (group["diameter_mm"] < MIN_TARGET_MM - EPS)]
        if len(small):
            sizes = ", ".join(f"{d:g}" for d in small["diameter_mm"])
            add(
                patient,
                "non_nodal_min_10mm",
                small["lesion_id"],
                f"non-nodal target(s) of {sizes} mm; measurable lesions are >= 10 mm (s3.1.1)",
            )
        nodes = group[group["lymph_node"] & (group["diameter_mm"] < MIN_NODAL_TARGET_MM - EPS)]
        if len(nodes):
            sizes = ", ".join(f"{d:g}" for d in nodes["diameter_mm"])
            add(
                patient,
                "nodal_min_15mm",
                nodes["lesion_id"],
                f"nodal target(s) of {sizes} mm short axis; nodal targets are >= 15 mm, "
                "10-15 mm nodes are non-targets (s3.1.1)",
            )
    return pd.DataFrame(rows, columns=["patient_id", "rule", "lesion_ids", "detail"])


def selection_problems(warnings: pd.DataFrame, file: str) -> list[Problem]:
    """The selection warnings as input problems (``response.strict_selection: true``)."""
    return [
        Problem(
            file,
            None,
            "lesion_id",
            r.lesion_ids,
            f"a target selection by RECIST 1.1 for patient '{r.patient_id}' ({r.detail})",
        )
        for r in warnings.itertuples(index=False)
    ]


# A cohort whose non-nodal baseline targets are mostly below the 10-mm measurability limit
# was almost certainly measured in centimetres (a reader selects targets >= 10 mm).
CM_SUSPECT_SHARE = 0.5


def unit_problems(measurements: pd.DataFrame, file: str) -> list[Problem]:
    """Refuse diameters that look like centimetres (most non-nodal baseline targets < 10 mm).

    Diameters are millimetres (``diameter_mm``); ``response.units: cm`` converts a table
    measured in centimetres (:func:`convert_units`). Cohort-level, so no row is named.
    """
    table = _prepare(measurements)
    base = table[(table["assessment_day"] <= 0) & (table["kind"] == "target") & ~table["lymph_node"]]
    values = base["diameter_mm"].dropna()
    if values.empty or (values < MIN_TARGET_MM - EPS).mean() <= CM_SUSPECT_SHARE:
        return []
    share = (values < MIN_TARGET_MM - EPS).mean()
    return [
        Problem(
            file,
            None,
            "diameter_mm",
            None,
            f"diameters in millimetres, but {share:.0%} of the {len(values)} non-nodal baseline targets are "
            f"under 10 mm (median {values.median():g}): they look like centimetres. Convert them to mm, or "
            "set response.units: cm to have them multiplied by 10",
        )
    ]


def header_unit_problems(columns, file: str, units: str = "mm") -> list[Problem]:
    """Refuse a diameter header in centimetres (``diameter_cm``, ``cm``) unless ``units`` is cm."""
    if units == "cm":
        return []
    suspects = [c for c in columns if str(c).strip().lower() in ("cm", "diameter_cm") or str(c).lower().endswith("_cm")]
    return [
        Problem(
            file,
            None,
            c,
            None,
            "diameters in millimetres in a 'diameter_mm' column; this header says centimetres. Rename it "
            "diameter_mm and convert to mm, or set response.units: cm to have it read as centimetres",
        )
        for c in suspects
    ]


def convert_units(text: pd.DataFrame, units: str = "mm") -> pd.DataFrame:
    """With ``units: cm``, read a ``diameter_cm`` (or ``cm``) column as ``diameter_mm`` (values x 10).

    Works on the table as read (text), before the row schema: the schema's ``diameter_mm``
    is then validated, and :func:`scale_diameters` multiplies it after typing.
    """
    if units != "cm":
        return text
    rename = {c: "diameter_mm" for c in text.columns if str(c).strip().lower() in ("cm", "diameter_cm")}
    return text.rename(columns=rename)


def scale_diameters(measurements: pd.DataFrame, units: str = "mm") -> pd.DataFrame:
    """Typed table in millimetres: ``diameter_mm`` x 10 when ``units`` is cm."""
    if units != "cm":
        return measurements
    return measurements.assign(diameter_mm=measurements["diameter_mm"].astype(float) * 10)


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
    cells["seen"] = ~cells["missing"] & ~cells["absent"]
    summary = (
        cells.groupby(["patient_id", "assessment_day"], sort=False)
        .agg(
            nt_progression=("progression", "any"),
            nt_missing=("missing", "any"),
            nt_all_absent=("absent", "all"),
            nt_seen=("seen", "any"),
        )
        .reset_index()
    )
    summary["non_target_response"] = np.select(
        [summary["nt_progression"], summary["nt_missing"], summary["nt_all_absent"]],
        ["PD", "NE", "CR"],
        "NON-CR/NON-PD",
    )
    return summary


def new_lesion_summary(follow: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Per follow-up assessment: new lesions present, not evaluated, their diameter sum (section 4.3.5).

    ``present`` or ``unequivocal_progression`` is a new lesion; ``absent`` is none; an
    empty status is not evaluated (``new_not_evaluated``), whatever the diameter.
    """
    rows = follow[follow["kind"].isin(NEW_KINDS)]
    status = rows["status"]
    present = status.isin(["present", "unequivocal_progression"]).fillna(False).astype(bool)
    new = rows.assign(
        present=present,
        not_evaluated=status.isna(),
        unequivocal=status.eq("unequivocal_progression").fillna(False).astype(bool),
        present_mm=rows["diameter_mm"].where(present),
    )
    summary = (
        new.groupby(["patient_id", "assessment_day"], sort=False)
        .agg(
            new_count=("present", "sum"),
            new_not_evaluated=("not_evaluated", "sum"),
            new_sum_mm=("present_mm", "sum"),
            new_unequivocal=("unequivocal", "any"),
        )
        .reset_index()
    )
    out = grid.merge(summary, on=["patient_id", "assessment_day"], how="left")
    out["new_count"] = out["new_count"].fillna(0).astype(int)
    out["new_not_evaluated"] = out["new_not_evaluated"].fillna(0).astype(int)
    out["new_sum_mm"] = out["new_sum_mm"].fillna(0.0)
    out["new_unequivocal"] = out["new_unequivocal"].astype("boolean").fillna(False).astype(bool)
    return out


def is_target_progression(sum_mm, nadir_mm) -> np.ndarray:
    """Section 4.3.1 PD: sum >= 1.2 x nadir AND sum - nadir >= 5 mm (nadir includes baseline)."""
    sum_mm = np.asarray(sum_mm, float)
    nadir_mm = np.asarray(nadir_mm, float)
    with np.errstate(invalid="ignore"):
        return (sum_mm - 1.2 * nadir_mm >= -EPS) & (sum_mm - nadir_mm >= 5 - EPS)


def overall_response(target, non_target, new_lesions, has_targets, new_not_evaluated=None) -> np.ndarray:
    """Time-point response from its components (section 4.4.1, Tables 1 and 2).

    Table 1 (target disease): PD if any component shows PD or a new lesion appears;
    target NE -> NE; target CR with non-target CR or absent -> CR; target CR with
    non-target NON-CR/NON-PD or NE -> PR; target PR -> PR; target SD -> SD.
    Table 2 (non-target disease only): PD if non-target PD or new lesion, else the
    non-target response (CR, NON-CR/NON-PD or NE).
    ``new_not_evaluated`` (a new-lesion row with an empty status): NE unless PD is shown,
    since a new lesion cannot be ruled out.
    """
    target = np.asarray(target, object)
    non_target = np.asarray(non_target, object)
    new_lesions = np.asarray(new_lesions, bool)
    has_targets = np.asarray(has_targets, bool)
    new_ne = np.zeros(target.shape, bool) if new_not_evaluated is None else np.asarray(new_not_evaluated, bool)
    progression = (target == "PD") | (non_target == "PD") | new_lesions
    nt_clear = (non_target == "CR") | pd.isna(non_target)
    with_targets = np.select(
        [progression, target == "NE", new_ne, (target == "CR") & nt_clear, target == "CR", target == "PR"],
        ["PD", "NE", "NE", "CR", "PR", "PR"],
        "SD",
    )
    without_targets = np.select(
        [progression, pd.isna(non_target), new_ne], ["PD", "NE", "NE"], np.where(pd.isna(non_target), "NE", non_target)
    )
    return np.where(has_targets, with_targets, without_targets).astype(object)


def overall_basis(tp: pd.DataFrame) -> np.ndarray:
    """The rule that decided each follow-up ``overall_response`` (text from :data:`BASIS`)."""
    reasons = []
    for flag, key in (
        (tp["target_reappeared"], "reappearance"),
        (tp["target_progression"] & ~tp["target_reappeared"], "target_pd"),
        (tp["non_target_reappeared"], "reappearance"),
        (tp["nt_progression"].astype("boolean").fillna(False).astype(bool), "non_target_pd"),
        (tp["new_count"] > 0, "new"),
    ):
        reasons.append(np.where(flag, BASIS[key], ""))
    pd_text = pd.Series(
        ["; ".join(dict.fromkeys(x for x in r if x)) for r in zip(*reasons, strict=True)], index=tp.index
    )
    overall = tp["overall_response"]
    has_targets = tp["has_targets"].astype(bool)
    other = np.select(
        [
            overall.eq("NE") & tp["target_response"].eq("NE"),
            overall.eq("NE") & tp["non_target_response"].isna() & tp["new_not_evaluated"].gt(0),
            overall.eq("NE") & tp["non_target_response"].eq("NE"),
            overall.eq("NE"),
            overall.eq("CR") & has_targets,
            overall.eq("CR"),
            overall.eq("PR") & tp["target_response"].eq("CR"),
            overall.eq("PR"),
            overall.eq("SD"),
            overall.eq("NON-CR/NON-PD"),
        ],
        [
            BASIS["target_ne"],
            BASIS["new_ne"],
            BASIS["non_target_ne"],
            BASIS["new_ne"],
            BASIS["CR"],
            BASIS["CR_nt"],
            BASIS["PR_cr"],
            BASIS["PR"],
            BASIS["SD"],
            BASIS["NON-CR/NON-PD"],
        ],
        "",
    )
    return np.where(overall.eq("PD"), pd_text, other).astype(object)


def _reappearance_after_cr(tp: pd.DataFrame, overall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(target, non-target) reappearance after an overall CR, per row of ``tp`` (sorted by patient, day).

    The RECIST 1.1 FAQ: a lesion that disappears and reappears is PD when the patient was
    in overall CR at the previous assessment (NE assessments skipped). The CR state lasts
    while the reappeared lesion stays, so iRECIST keeps its iUPD open; another response
    ends it. A loop over assessment number, vectorized across patients.
    """
    codes, _ = pd.factorize(tp["patient_id"], sort=True)
    position = tp.groupby("patient_id", sort=False).cumcount().to_numpy()
    target_seen = (
        tp["non_nodal_left"].astype("boolean").fillna(False) | tp["node_ge10"].astype("boolean").fillna(False)
    ).to_numpy(bool)
    nt_seen = tp["nt_seen"].astype("boolean").fillna(False).to_numpy(bool)
    in_cr = np.zeros(codes.max() + 1 if len(codes) else 0, bool)
    target_out = np.zeros(len(tp), bool)
    nt_out = np.zeros(len(tp), bool)
    for k in range(position.max() + 1 if len(position) else 0):
        idx = np.flatnonzero(position == k)
        p = codes[idx]
        t = in_cr[p] & target_seen[idx]
        n = in_cr[p] & nt_seen[idx]
        target_out[idx], nt_out[idx] = t, n
        ne = overall[idx] == "NE"
        in_cr[p] = (overall[idx] == "CR") | t | n | (ne & in_cr[p])
    return target_out, nt_out


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
    sum_progression = is_target_progression(tp["partial_sum_mm"], tp["nadir_mm"]) & tp["has_targets"]
    cr = complete & ~tp["non_nodal_left"].astype(bool) & ~tp["node_ge10"].astype(bool)
    pr = complete & (tp["target_sum_mm"] - 0.7 * tp["baseline_sum_mm"] <= EPS)

    def target_response(progression):
        return np.where(
            tp["has_targets"],
            np.select([progression, ~complete, cr, pr], ["PD", "NE", "CR", "PR"], "SD"),
            None,
        )

    tp["non_target_response"] = tp["non_target_response"].where(tp["patient_id"].isin(has_nt.index[has_nt]))
    tp["new_lesions"] = tp["new_count"] > 0
    # First without the reappearance rule (it needs the previous response), then with it.
    before = overall_response(
        target_response(sum_progression),
        tp["non_target_response"],
        tp["new_lesions"],
        tp["has_targets"],
        tp["new_not_evaluated"] > 0,
    )
    target_back, non_target_back = _reappearance_after_cr(tp, before)
    tp["target_reappeared"] = target_back & tp["has_targets"].to_numpy(bool)
    tp["non_target_reappeared"] = non_target_back & tp["non_target_response"].notna().to_numpy()
    tp["target_progression"] = sum_progression | tp["target_reappeared"]
    tp["target_response"] = target_response(tp["target_progression"])
    tp["non_target_progression"] = (
        tp["nt_progression"].astype("boolean").fillna(False).astype(bool) | tp["non_target_reappeared"]
    )
    tp["non_target_response"] = tp["non_target_response"].mask(tp["non_target_reappeared"], "PD")
    tp["overall_response"] = overall_response(
        tp["target_response"],
        tp["non_target_response"],
        tp["new_lesions"],
        tp["has_targets"],
        tp["new_not_evaluated"] > 0,
    )
    tp["overall_basis"] = overall_basis(tp)
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
    baseline_rows["new_not_evaluated"] = 0
    baseline_rows["new_sum_mm"] = 0.0
    baseline_rows["overall_basis"] = "baseline"
    extra = [
        "partial_sum_mm",
        "target_progression",
        "target_reappeared",
        "non_target_progression",
        "non_target_reappeared",
        "new_count",
        "new_sum_mm",
        "new_unequivocal",
        "has_targets",
    ]
    follow_rows = tp[TIMEPOINT_COLUMNS + [c for c in extra if c not in TIMEPOINT_COLUMNS]]
    out = pd.concat([baseline_rows.reindex(columns=follow_rows.columns), follow_rows], ignore_index=True)
    out["targets_not_evaluated"] = out["targets_not_evaluated"].fillna(0).astype(int)
    flags = ("target_progression", "target_reappeared", "non_target_progression", "non_target_reappeared")
    for column in flags + ("new_unequivocal", "new_lesions", "has_targets"):
        out[column] = out[column].astype("boolean").fillna(False).astype(bool)
    out["new_count"] = out["new_count"].fillna(0).astype(int)
    out["new_not_evaluated"] = out["new_not_evaluated"].fillna(0).astype(int)
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
