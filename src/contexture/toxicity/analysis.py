"""Immune-related adverse events (irAEs) against baseline biomarkers, and organ uptake change.

The axi-cel study (ZUMA-1 tumour immune contexture) compared baseline biomarkers between
patients with and without severe (grade >= 3) toxicity, e.g. regulatory T cells and
neurotoxicity, by Mann-Whitney tests and by Fisher exact tests on biomarker high/low groups.
This module does the same for any graded toxicity column of the patient table.

Biomarkers vs severe toxicity (:func:`biomarker_tests`)
    For each toxicity column (a CTCAE grade, e.g. ``irae_grade_max``) patients with a
    grade are split into *severe* (grade >= ``severe_grade``, default 3, CTCAE v5.0
    "severe or medically significant") and *other*. For each numeric baseline biomarker:

    * **Mann-Whitney U / Wilcoxon rank-sum**, two-sided, as R's ``wilcox.test(severe,
      other, conf.int = TRUE)``: the statistic is R's ``W`` (the U of the severe group),
      the p value exact when both groups have fewer than 50 patients and there are no
      ties, otherwise the normal approximation with continuity and tie correction;
      ``estimate`` is the Hodges-Lehmann shift (severe - other) with R's 95% CI (exact
      order statistics, or the asymptotic root search). All computed by
      :func:`contexture.stats.rank_tests.rank_sum_test`, whose docstring gives the rules.
    * **Fisher exact test**, two-sided, on the 2 x 2 table biomarker high/low x
      severe/other, as R's ``fisher.test`` (:func:`contexture.stats.rank_tests.fisher_test`):
      ``estimate`` and its CI are the conditional maximum-likelihood odds ratio and its
      exact CI; the ``statistic`` column holds the sample odds ratio ad / bc (severe odds
      in high over low). High = above the cut (the median by default, or another
      quantile, R type 7), computed over the patients analysed for that toxicity column,
      as the survival stage's median split ("high = above").

    Benjamini-Hochberg q values (:func:`contexture.stats.rank_tests.benjamini_hochberg`,
    R ``p.adjust(method = "BH")``) within each test family: all Mann-Whitney tests, all
    Fisher tests, all organ uptake tests.

    A toxicity column absent from the table, or with fewer than ``MIN_PER_GROUP`` severe
    or other patients, gives no rows (logged); so does a biomarker that is absent,
    non-numeric or has fewer than ``MIN_PER_GROUP`` values in either group.

Organ uptake change (:func:`organ_uptake_change`, :func:`organ_uptake_tests`)
    Where PET reference regions (``pet/reference_regions.tsv``) include an organ of
    interest (``organs``: irAE organ -> region names, e.g. ``thyroid: [thyroid]``), the
    per-patient % change of the region's SUVmean from baseline to the first on-treatment
    scan, 100 (on - base) / base, is compared between patients whose ``organ_column``
    names that organ and the others, by the same Mann-Whitney test. Several matching
    regions are pooled by voxel-weighted mean SUVmean (the mean over their union). The
    organ column is free text; it may list several organs separated by ``;``, ``,`` or
    ``|``, matched case-insensitively to the organ's name or its region names. An empty
    organ column means no irAE in an organ of interest.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "CONF_LEVEL",
    "MIN_PER_GROUP",
    "biomarker_tests",
    "organ_uptake_change",
    "organ_uptake_tests",
    "toxicity_analysis",
]

import logging
import re

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.stats.rank_tests import benjamini_hochberg, fisher_test, rank_sum_test

log = logging.getLogger(__name__)

COLUMNS = [
    "toxicity",
    "biomarker",
    "test",
    "statistic",
    "estimate",
    "ci_low",
    "ci_high",
    "p",
    "q",
    "n_severe",
    "n_other",
    "method",
]
CHANGE_COLUMNS = [
    "organ",
    "patient_id",
    "irae",
    "suvmean_baseline",
    "suvmean_on_treatment",
    "on_treatment_scan_day",
    "pct_change",
]
PLOT_COLUMNS = ["toxicity", "biomarker", "patient_id", "grade", "severe", "value", "high"]
MIN_PER_GROUP = 2
CONF_LEVEL = 0.95  # level of every interval of the toxicity table (no config option)
DEFAULT_BIOMARKERS = ["pet_geomean_suvmax_baseline", "immunosign_score", "cd8_density_tumor", "immunoscore_percentile"]


# ---------------------------------------------------------------------------------------
# Mann-Whitney / Wilcoxon rank-sum, as R's wilcox.test(x, y, conf.int = TRUE)
# ---------------------------------------------------------------------------------------
def _shift_test(x, y, conf_level: float) -> dict:
    """R's ``wilcox.test(x, y, conf.int = TRUE)`` (:func:`contexture.stats.rank_tests.rank_sum_test`)
    as a row: ``statistic`` (W), ``p``, ``estimate`` (Hodges-Lehmann x - y), ``ci_low``,
    ``ci_high`` and ``method`` (which p and CI were used).
    """
    test = rank_sum_test(x, y, conf_int=True, conf_level=conf_level)
    if test.exact:
        method = (
            "Wilcoxon rank-sum (Mann-Whitney), two-sided, exact p (R wilcox.test); "
            "estimate = Hodges-Lehmann shift severe - other with exact CI"
        )
    else:
        method = (
            "Wilcoxon rank-sum (Mann-Whitney), two-sided, normal approximation with continuity"
            + (" and tie" if test.ties else "")
            + " correction (R wilcox.test); estimate = Hodges-Lehmann shift severe - other, "
            "asymptotic CI"
        )
    return {
        "statistic": test.statistic,
        "p": test.p,
        "estimate": test.estimate,
        "ci_low": test.ci_low,
        "ci_high": test.ci_high,
        "method": method,
    }


# ---------------------------------------------------------------------------------------
# Biomarkers vs severe toxicity
# ---------------------------------------------------------------------------------------
def _grades(patients: pd.DataFrame, column: str) -> pd.Series:
    """The toxicity column as numbers; a non-empty value that is not a number is an error."""
    raw = patients[column]
    grades = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & raw.astype(str).str.strip().ne("") & grades.isna()
    if bad.any():
        rows = [f"{patients['patient_id'].iloc[i]}: {raw.iloc[i]!r}" for i in np.flatnonzero(bad.to_numpy())[:10]]
        raise InputError(f"toxicity column '{column}' of the patient table must hold grades (numbers); got {rows}")
    return grades


def _split_label(split) -> tuple[float, str]:
    if split == "median":
        return 0.5, "median"
    quantile = float(split)
    return quantile, f"{quantile:g} quantile"


def biomarker_tests(
    patients: pd.DataFrame,
    columns: list[str],
    biomarkers: list[str],
    *,
    severe_grade: float = 3,
    high_low_split="median",
    conf_level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mann-Whitney and Fisher tests of each biomarker between severe and other patients.

    Returns ``(rows, plot_data)``: the test rows (``COLUMNS`` without ``q``, which
    :func:`toxicity_analysis` adds) and the per-patient values behind the figure.
    """
    quantile, split_name = _split_label(high_low_split)
    rows, plot = [], []
    present = [c for c in columns if c in patients.columns]
    for column in columns:
        if column not in patients.columns:
            log.info("toxicity column '%s' is not in the patient table: skipped", column)
    for column in present:
        grades = _grades(patients, column)
        graded = grades.notna()
        severe = grades >= severe_grade
        n_severe, n_other = int((severe & graded).sum()), int((~severe & graded).sum())
        if n_severe < MIN_PER_GROUP or n_other < MIN_PER_GROUP:
            log.info(
                "toxicity '%s': %d patient(s) with grade >= %g and %d below; at least %d in each are needed: skipped",
                column,
                n_severe,
                severe_grade,
                n_other,
                MIN_PER_GROUP,
            )
            continue
        log.info("toxicity '%s': %d severe (grade >= %g), %d other", column, n_severe, severe_grade, n_other)
        for biomarker in biomarkers:
            if biomarker not in patients.columns:
                log.info("biomarker '%s' is not in the patient table: skipped", biomarker)
                continue
            raw = patients[biomarker]
            if raw.dtype == bool or raw.dtype == object and raw.dropna().isin([True, False]).all():
                log.info("biomarker '%s' is not numeric: skipped", biomarker)
                continue
            values = pd.to_numeric(raw, errors="coerce")
            use = graded & values.notna()
            x = values[use & severe].to_numpy(float)
            y = values[use & ~severe].to_numpy(float)
            if len(x) < MIN_PER_GROUP or len(y) < MIN_PER_GROUP:
                log.info(
                    "toxicity '%s', biomarker '%s': %d severe and %d other with a value: skipped",
                    column,
                    biomarker,
                    len(x),
                    len(y),
                )
                continue
            base = {"toxicity": column, "biomarker": biomarker, "n_severe": len(x), "n_other": len(y)}
            mw = _shift_test(x, y, conf_level)
            rows.append({**base, "test": "mann_whitney", **{k: mw[k] for k in COLUMNS if k in mw}})

            cut = float(np.quantile(values[use].to_numpy(float), quantile))
            high = values > cut
            table = [
                [int((use & high & severe).sum()), int((use & high & ~severe).sum())],
                [int((use & ~high & severe).sum()), int((use & ~high & ~severe).sum())],
            ]
            if (use & high).sum() == 0 or (use & ~high).sum() == 0:
                log.info(
                    "toxicity '%s', biomarker '%s': no high/low split at %g: Fisher test skipped",
                    column,
                    biomarker,
                    cut,
                )
            else:
                fisher = fisher_test(table, conf_level)
                method = (
                    f"Fisher exact test, two-sided (R fisher.test); high = above the {split_name} {cut:.6g}; "
                    f"table [[high severe, high other], [low severe, low other]] = {table}; "
                    "estimate = conditional MLE odds ratio with exact CI; statistic = sample odds ratio"
                )
                rows.append({**base, "test": "fisher_exact", **fisher, "method": method})
            for pid, value, grade, sev, hi in zip(
                patients.loc[use, "patient_id"], values[use], grades[use], severe[use], high[use], strict=True
            ):
                plot.append(
                    {
                        "toxicity": column,
                        "biomarker": biomarker,
                        "patient_id": str(pid),
                        "grade": grade,
                        "severe": bool(sev),
                        "value": value,
                        "high": bool(hi),
                    }
                )
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "q"]), pd.DataFrame(plot, columns=PLOT_COLUMNS)


# ---------------------------------------------------------------------------------------
# Organ uptake change in patients with an irAE in that organ
# ---------------------------------------------------------------------------------------
def _organ_tokens(value) -> set[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return set()
    return {token.strip().lower() for token in re.split(r"[;,|]", str(value)) if token.strip()}


def organ_uptake_change(
    references: pd.DataFrame, patients: pd.DataFrame, organs: dict[str, list[str]], organ_column: str
) -> pd.DataFrame:
    """Per patient and organ of interest: SUVmean at baseline and first on-treatment scan, % change.

    ``references`` is ``pet/reference_regions.tsv`` (``patient_id``, ``timepoint``,
    ``scan_day``, ``region``, ``suvmean``, optionally ``voxels``). Patients need both
    timepoints and a positive baseline SUVmean. ``irae`` is true when the patient's
    ``organ_column`` names the organ (or one of its region names).
    """
    if references is None or references.empty or organ_column not in patients.columns or not organs:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    refs = references.copy()
    refs["patient_id"] = refs["patient_id"].astype(str)
    refs["region_key"] = refs["region"].astype(str).str.strip().str.lower()
    if "voxels" not in refs.columns:
        refs["voxels"] = 1.0
    tokens = {
        str(pid): _organ_tokens(value)
        for pid, value in zip(patients["patient_id"], patients[organ_column], strict=True)
    }
    rows = []
    for organ in sorted(organs):
        names = {str(name).strip().lower() for name in organs[organ]}
        matched = refs[refs["region_key"].isin(names) & refs["suvmean"].notna()]
        if matched.empty:
            log.info("organ '%s': no reference region named %s: no uptake change", organ, sorted(names))
            continue
        aliases = names | {organ.strip().lower()}
        for pid, scans in matched.groupby("patient_id", sort=True):
            if pid not in tokens:
                continue
            pooled = {}
            for timepoint in ("baseline", "on_treatment"):
                at = scans[scans["timepoint"] == timepoint]
                if at.empty:
                    break
                first_day = at["scan_day"].min() if "scan_day" in at.columns else None
                if first_day is not None and pd.notna(first_day):
                    at = at[at["scan_day"] == first_day]
                weights = at["voxels"].astype(float).to_numpy()
                pooled[timepoint] = (float(np.average(at["suvmean"].astype(float), weights=weights)), first_day)
            if len(pooled) < 2 or not pooled["baseline"][0] > 0:
                continue
            base, on = pooled["baseline"][0], pooled["on_treatment"][0]
            rows.append(
                {
                    "organ": organ,
                    "patient_id": pid,
                    "irae": bool(tokens[pid] & aliases),
                    "suvmean_baseline": base,
                    "suvmean_on_treatment": on,
                    "on_treatment_scan_day": pooled["on_treatment"][1],
                    "pct_change": 100.0 * (on - base) / base,
                }
            )
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def organ_uptake_tests(changes: pd.DataFrame, organ_column: str, conf_level: float = 0.95) -> pd.DataFrame:
    """Mann-Whitney test of the SUVmean % change, irAE in the organ vs not, per organ."""
    rows = []
    for organ, group in changes.groupby("organ", sort=True):
        x = group.loc[group["irae"].astype(bool), "pct_change"].to_numpy(float)
        y = group.loc[~group["irae"].astype(bool), "pct_change"].to_numpy(float)
        if len(x) < MIN_PER_GROUP or len(y) < MIN_PER_GROUP:
            log.info("organ '%s': %d patient(s) with an irAE there and %d without: skipped", organ, len(x), len(y))
            continue
        mw = _shift_test(x, y, conf_level)
        method = mw["method"].replace("severe - other", "irAE - no irAE") + (
            f"; % change of reference-region SUVmean, baseline to first on-treatment scan; median irAE "
            f"{np.median(x):.4g}, no irAE {np.median(y):.4g}"
        )
        rows.append(
            {
                "toxicity": f"{organ_column}:{organ}",
                "biomarker": "suvmean_pct_change",
                "test": "uptake_change_mann_whitney",
                **{k: mw[k] for k in ("statistic", "estimate", "ci_low", "ci_high", "p")},
                "n_severe": len(x),
                "n_other": len(y),
                "method": method,
            }
        )
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "q"])


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------
def toxicity_analysis(
    patients: pd.DataFrame, references: pd.DataFrame | None = None, options: dict | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return ``(table, plot_data, organ_changes)`` for the ``response.toxicity`` options.

    ``table`` has ``COLUMNS`` (empty, header only, when nothing could be tested), rows
    sorted by test family, toxicity and biomarker; ``q`` is BH within each ``test``.
    """
    options = dict(options or {})
    columns = list(options.get("columns", ["irae_grade_max"]))
    biomarkers = list(options.get("biomarkers", DEFAULT_BIOMARKERS))
    patients = patients.copy()
    patients["patient_id"] = patients["patient_id"].astype(str)
    tests, plot = biomarker_tests(
        patients,
        columns,
        biomarkers,
        severe_grade=options.get("severe_grade", 3),
        high_low_split=options.get("high_low_split", "median"),
        conf_level=CONF_LEVEL,
    )
    organ_column = options.get("organ_column", "irae_organ")
    changes = organ_uptake_change(references, patients, options.get("organs", {}), organ_column)
    organ_rows = organ_uptake_tests(changes, organ_column, CONF_LEVEL)
    frames = [frame for frame in (tests, organ_rows) if not frame.empty]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c for c in COLUMNS if c != "q"])
    table["q"] = np.nan
    for _, index in table.groupby("test", sort=False).groups.items():
        table.loc[index, "q"] = benjamini_hochberg(table.loc[index, "p"])
    if table.empty:
        log.info("no toxicity test could be run: writing a header-only table")
    return table[COLUMNS], plot, changes
