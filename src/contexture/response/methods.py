"""Methods paragraph of the response stage: RECIST 1.1, iRECIST, SITC resistance, rates.

The confirmation rule, the iRECIST confirmation window (``irecist``), the SITC definition
and its thresholds (``resistance``) and the units are the run's ``response`` section (schema
defaults filled in); the confidence level of the rates is the ``ci_level`` column of
``tables/response_rates.tsv``. The classifier's cross-validation scheme is the run's
``response.classifier`` section, with the folds actually used read from the ``cv_auc``
row of ``tables/classifier.tsv`` (fewer when a class is smaller than ``folds``).
"""

from __future__ import annotations

__all__ = ["methods_paragraph"]

import re
from pathlib import Path

from contexture.io import read_result_table


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Response and resistance (``""`` when ``tables/response_rates.tsv`` is absent)."""
    path = Path(cohort_dir) / "tables" / "response_rates.tsv"
    if not path.is_file():
        return ""
    rates = read_result_table(path)
    options = cohort_config["response"]
    if options["confirmation"]:
        confirmation = f"with confirmation of CR/PR (≥ {options['confirmation_days']:g} days)"
    else:
        confirmation = "without confirmation of CR/PR"
    levels = ", ".join(f"{level:.0%}" for level in sorted(rates["ci_level"].dropna().unique()))
    window = options["irecist"]
    sitc = options["resistance"]
    if sitc["definition"] == "kluger2020":
        secondary = (
            f"secondary resistance as confirmed progression after CR, PR or SD of ≥ {sitc['long_sd_days']:g} days "
            f"with ≥ {sitc['secondary_min_exposure_days']:g} days of exposure (Kluger et al. 2020)"
        )
    else:
        secondary = (
            "secondary resistance as confirmed progression after CR or PR, or after SD of "
            f"≥ {sitc['long_sd_days']:g} days (the seed study's Box 1, SITC)"
        )
    units = " Diameters recorded in centimetres were converted to millimetres." if options["units"] == "cm" else ""
    text = (
        "## Response and resistance\n\n"
        f"Tumour response was classified by RECIST 1.1 (Eisenhauer et al. 2009) {confirmation}, "
        "and by iRECIST (Seymour et al. 2017); the reappearance of any lesion after a complete response "
        "counted as progression (RECIST 1.1 FAQ). In iRECIST, new lesions were split into up to five new-lesion targets "
        "(two per organ) and non-targets, and unconfirmed progression (iUPD) was confirmed (iCPD) or reset at "
        f"the next assessment ≥ {window['confirmation_min_days']:g} days after it (recommended within "
        f"{window['confirmation_max_days']:g} days; earlier scans neither confirmed nor reset). "
        "Resistance followed the SITC definitions: progression counted only when confirmed by a scan "
        f"≥ {sitc['confirmation_days']:g} days later or by iCPD; primary resistance as confirmed progression after "
        f"≥ {sitc['primary_min_exposure_days']:g} days of exposure without response or durable SD, "
        f"{secondary}, and resistance after stopping as progression within {sitc['after_stopping_days']:g} days "
        f"of the last dose.{units} Objective response and disease control rates are given with exact "
        f"Clopper–Pearson {levels + ' ' if levels else ''}confidence intervals."
    ) + _classifier_text(Path(cohort_dir), options["classifier"])
    return text


def _classifier_text(cohort_dir: Path, options: dict) -> str:
    """The classifier's validation scheme ("" when it did not run or was skipped)."""
    path = cohort_dir / "tables" / "classifier.tsv"
    if not path.is_file():
        return ""
    table = read_result_table(path)
    auc = table[table["analysis"] == "cv_auc"]
    if auc.empty:
        return ""
    row = auc.iloc[0]
    used = re.search(r"stratified (\d+)-fold", str(row["method"]))
    folds = int(used.group(1)) if used else options["folds"]
    reduced = f" (reduced from {options['folds']}: a class had fewer patients)" if folds != options["folds"] else ""
    return (
        " Response was predicted from baseline features by L2-penalized logistic regression "
        f"(C = {options['penalty_c']:g}; median imputation and standardization re-fitted in each training fold), "
        f"validated by {options['repeats']} repeats of stratified {folds}-fold cross-validation{reduced}; "
        f"the AUC is the mean of the per-repeat AUCs, its {_level(row)} confidence interval the mean ± z × the SD "
        f"of that mean over {options['bootstrap']} stratified bootstrap resamples on which the whole "
        "cross-validation was redone, and its p-value from "
        f"{options['permutations']} permutations of the outcome (each redoing the whole cross-validation). "
        "Calibration intercept and slope (logistic recalibration) and the Brier score are means over repeats."
    )


def _level(row) -> str:
    match = re.search(r"(\d+)% CI", str(row["method"]))
    return f"{match.group(1)}%" if match else "95%"
