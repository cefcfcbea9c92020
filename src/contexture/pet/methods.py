"""Methods paragraph of the pet stage: quantification, mixed models, biodistribution.

Numbers come from the run: the half-life each scan was decay-corrected with
(``pet/scans.tsv``, column ``half_life_s``, written by :func:`contexture.pet.quantify.quantify_scans`;
the ``pet.half_life_hours`` option is only the fallback of images that do not state it),
the SUVpeak sphere (``pet.peak_volume_ml``), the lean body mass formula of SUL
(``pet.lean_body_mass``) with the scans that had height and sex (``lbm_kg``), the uptake
windows (``pet.uptake_window_hours``), the flagged lesions (``qc_flag``), the irradiated-lesion rule
(``pet_analysis.exclude_irradiated``), the analyses present in ``tables/pet_models.tsv``,
and the biodistribution tables with their ``pet.biodistribution.ci_level``.
"""

from __future__ import annotations

__all__ = [
    "biodistribution_paragraph",
    "half_life_text",
    "mask_forms_sentence",
    "methods_paragraph",
    "nuclide_label",
    "nuclide_name",
    "uptake_paragraph",
]

import math
import re
from pathlib import Path

import pandas as pd

from contexture.io import read_result_table
from contexture.pet.masks import RTSTRUCT_IN_PLANE_MM
from contexture.pet.suv import HALF_LIFE_S

SECONDS_PER_HOUR = 3600.0
# Lesion measures a VOI table may export beside SUVmax (column -> name in the text).
VOI_MEASURES = {"suvmean": "SUVmean", "suvpeak": "SUVpeak", "volume_ml": "volume"}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _optional(path: Path) -> pd.DataFrame | None:
    return read_result_table(path) if path.is_file() else None


def nuclide_name(half_life_s: float) -> str | None:
    """'89Zr' for the half-life of :data:`contexture.pet.suv.HALF_LIFE_S` ``Zr89``; None if unlisted."""
    for key, value in HALF_LIFE_S.items():
        if math.isclose(value, half_life_s, rel_tol=1e-9):
            letters, mass = re.fullmatch(r"([A-Za-z]+)(\d+)", key).groups()
            return f"{mass}{letters}"
    return None


def nuclide_label(key: str) -> str:
    """'89Zr' for the key 'Zr89'."""
    letters, mass = re.fullmatch(r"([A-Za-z]+)(\d+)", key).groups()
    return f"{mass}{letters}"


def half_life_text(half_lives_s) -> str:
    """The half-lives used, in hours, each with its nuclide where known: '78.41 h for 89Zr'."""
    parts = []
    for value in sorted(set(float(v) for v in half_lives_s)):
        name = nuclide_name(value)
        parts.append(f"{value / SECONDS_PER_HOUR:g} h" + (f" for {name}" if name else ""))
    return ", ".join(parts)


def _count(models: pd.DataFrame, analysis: str, term: str) -> int | None:
    row = models[(models["analysis"] == analysis) & (models["term"] == term)]
    return int(row["estimate"].iloc[0]) if len(row) else None


def _phenotype_clauses(models: pd.DataFrame) -> list[str]:
    """The CD8 IHC phenotype design, with its counts from ``tables/pet_models.tsv``."""
    clauses = []
    measurements = _count(models, "ihc_phenotype", "n_measurements")
    if measurements is not None:
        lesions = _count(models, "ihc_phenotype", "n_lesions")
        patients = _count(models, "ihc_phenotype", "n_patients")
        nested = models.loc[models["analysis"] == "ihc_phenotype", "method"].astype(str).str.contains("patient:lesion")
        clauses.append(
            f"uptake by CD8 IHC phenotype (desert vs stromal or inflamed) was compared on the {lesions} biopsied "
            f"lesions of {patients} patients, each lesion's SUVmax at the time of its biopsy paired with that "
            f"slide's phenotype ({measurements} lesion measurements at baseline and on treatment"
            + (", with a random intercept per lesion as well" if nested.any() else "")
            + ")"
        )
    projected = _count(models, "ihc_phenotype_patient_projected", "n_measurements")
    if projected is not None:
        patients = _count(models, "ihc_phenotype_patient_projected", "n_patients")
        clauses.append(
            "uptake by CD8 IHC phenotype was compared with each patient's phenotype projected onto all their "
            f"baseline lesions ({projected} lesions of {patients} patients; patient-level option, not the "
            "biopsied lesions)"
        )
    return clauses


def _models_sentence(models: pd.DataFrame) -> str:
    """What the mixed models did, from the analyses present in ``tables/pet_models.tsv``."""
    analyses = set(models["analysis"])
    clauses = [
        "Log SUVmax was analysed with linear mixed models with a random intercept per patient, fitted by "
        "REML; confidence intervals and tests of fixed effects used t distributions with Satterthwaite degrees "
        "of freedom (as lmerTest), factors with three or more levels were tested with F tests with Satterthwaite "
        "denominator degrees of freedom, and two-level factors with likelihood-ratio tests of maximum-likelihood "
        "fits (one test per factor; the ratio's interval from the REML fit)"
    ]
    clauses += _phenotype_clauses(models)
    if "icc" in analyses:
        clauses.append("heterogeneity is the intraclass correlation of the random-intercept model")
    if "change_per_week" in analyses:
        change = models[models["analysis"] == "change_per_week"]
        extras = []
        if change["term"].astype(str).str.startswith("interaction_ratio").any():
            extras.append("its interaction with best overall response")
        if "change_per_week_volume_adjusted" in analyses:
            extras.append("a lesion-volume-adjusted sensitivity analysis")
        clauses.append(
            "change during treatment is the % change in geometric mean SUVmax per week"
            + (f", with {' and '.join(extras)}" if extras else "")
        )
    return " " + "; ".join(clauses) + "."


def _irradiated_sentence(baseline_lesions: pd.DataFrame, exclude: bool, modelled: bool) -> str:
    """What the run did with irradiated lesions, with the count of flagged baseline lesions.

    The per-patient geometric mean always leaves them out (:func:`contexture.pet.features.patient_features`);
    the models and figures (when ``modelled``) follow ``pet_analysis.exclude_irradiated``.
    """
    flags = baseline_lesions["irradiated"] if "irradiated" in baseline_lesions.columns else pd.Series(dtype=bool)
    irradiated = int(flags.astype("boolean").fillna(False).sum())
    if irradiated == 0:
        return " No lesion was marked irradiated."
    counted = f" Irradiated lesions ({irradiated} of {len(baseline_lesions)} baseline lesions) were excluded from"
    if not modelled:
        return counted + " the per-patient geometric mean."
    if exclude:
        return counted + " the uptake analyses (per-patient geometric means, mixed models and figures)."
    return counted + " the per-patient geometric mean but kept in the mixed models and figures."


def mask_forms_sentence(scans: pd.DataFrame) -> str:
    """Which mask forms the scans used and how each was placed (``pet/scans.tsv`` ``mask_format``)."""
    if "mask_format" not in scans.columns:
        return ""
    counts = scans["mask_format"].dropna().astype(str).value_counts()
    forms = {
        "nifti": "NIfTI label maps (resampled to the PET grid by nearest neighbour)",
        "rtstruct": (
            "DICOM RTSTRUCT contours (filled on the PET grid by the even-odd rule with scikit-image; volume from "
            f"a rasterisation at up to {RTSTRUCT_IN_PLANE_MM:g} mm in-plane)"
        ),
        "seg": "DICOM SEG segmentations (read with highdicom, resampled to the PET grid by nearest neighbour)",
    }
    parts = [
        f"{forms[form]} for {int(counts[form])} scan{'s' if counts[form] != 1 else ''}"
        for form in forms
        if form in counts
    ]
    return (" Regions were " + "; ".join(parts) + ".") if parts else ""


LBM_CITATIONS = {
    "janmahasatian": (
        "Janmahasatian et al. 2005: 9270 W / (6680 + 216 BMI) for men, 9270 W / (8780 + 244 BMI) for women, "
        "W in kg, BMI in kg/m²"
    ),
    "james": "James 1976: 1.10 W - 128 (W/H)² for men, 1.07 W - 148 (W/H)² for women, W in kg, H in cm",
}


def _sul_and_qc_sentences(lesions: pd.DataFrame, scans: pd.DataFrame, options: dict) -> str:
    """SUL, the geometry option and the plausibility flags, from the run's tables and options."""
    text = ""
    if "lbm_kg" in scans.columns and scans["lbm_kg"].notna().any():
        with_sul = int(scans["lbm_kg"].notna().sum())
        formula = options["lean_body_mass"]
        text += (
            f" Lean-body-mass SUV (SUL = SUVbw × LBM / W, PERCIST 1.0; LBM by {LBM_CITATIONS[formula]}) was "
            f"computed where height and sex were known ({with_sul} of {len(scans)} scans)."
        )
    if "mask_grid_adopted" in scans.columns and scans["mask_grid_adopted"].fillna(False).astype(bool).any():
        adopted = int(scans["mask_grid_adopted"].fillna(False).astype(bool).sum())
        text += (
            f" Label masks without world space ({adopted} scans) were placed voxel for voxel on the PET grid "
            "(pet.adopt_pet_grid_for_unoriented_masks)."
        )
    windows = options.get("uptake_window_hours") or {}
    used = set(scans["radionuclide"].dropna()) if "radionuclide" in scans.columns else set()
    shown = {k: v for k, v in sorted(windows.items()) if k in used}
    if shown and "uptake_in_window" in scans.columns:
        window_text = ", ".join(f"{nuclide_label(k)} {lo:g}-{hi:g} h" for k, (lo, hi) in shown.items())
        outside = int((scans["uptake_in_window"].astype("boolean") == False).sum())  # noqa: E712 (nullable)
        text += (
            f" Uptake times were checked against the expected window ({window_text} after injection); "
            f"{outside} scan{'s' if outside != 1 else ''} fell outside."
        )
    if "qc_flag" in lesions.columns:
        flagged = int(lesions["qc_flag"].notna().sum())
        text += (
            " Lesion measurements with SUVmax zero or at or below the scan's blood-pool or background "
            f"reference SUVmean, or from a scan outside its uptake window, were flagged ({flagged} of "
            f"{len(lesions)}) and kept in the analyses."
        )
    return text


def uptake_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Lesion quantification and the mixed models (``""`` when ``tables/lesions.tsv`` is absent)."""
    cohort_dir = Path(cohort_dir)
    lesions = _optional(cohort_dir / "tables" / "lesions.tsv")
    if lesions is None:
        return ""
    scans = _optional(cohort_dir / "pet" / "scans.tsv")
    models = _optional(cohort_dir / "tables" / "pet_models.tsv")
    baseline = lesions[lesions["timepoint"] == "baseline"]
    # A lesion is (patient_id, lesion_id): reading software numbers lesions per patient (L1, L2, ...).
    baseline_lesions = baseline.drop_duplicates(["patient_id", "lesion_id"])
    counts = (
        f"{len(baseline_lesions)} baseline lesions of {baseline['patient_id'].nunique()} patients "
        f"({len(lesions)} lesion measurements in all)"
    )
    if scans is not None and "half_life_s" in scans.columns and scans["half_life_s"].notna().any():
        peak_ml = cohort_config["pet"]["peak_volume_ml"]
        text = (
            f"## CD8 PET\n\nUptake was quantified in {counts} as body-weight "
            "SUV (QIBA SUV profile; injected activity decay-corrected to the scan's reference time with the "
            f"radionuclide half-life, {half_life_text(scans['half_life_s'].dropna())}, using full injection and "
            "scan dates): SUVmax, SUVmean, "
            f"SUVpeak (mean in a {peak_ml:g} cm³ sphere placed for maximum mean, PERCIST 1.0) on the PET grid, "
            "and volume at the mask's own resolution."
        )
        text += mask_forms_sentence(scans)
    else:
        # Only what the table held: SUVs were not computed, so no half-life or SUVpeak sphere applies.
        exported = ["SUVmax"] + [
            name for column, name in VOI_MEASURES.items() if column in lesions.columns and lesions[column].notna().any()
        ]
        text = (
            f"## CD8 PET\n\nUptake of {counts} was read from a per-VOI statistics table exported from the "
            f"reading software ({_and(exported)} as exported; no SUV was recomputed from images)."
        )
    if scans is not None and "half_life_s" in scans.columns:
        text += _sul_and_qc_sentences(lesions, scans, cohort_config["pet"])
    modelled = models is not None and not models.empty
    text += _irradiated_sentence(baseline_lesions, cohort_config["pet_analysis"]["exclude_irradiated"], modelled)
    text += " Per-patient uptake is the geometric mean of lesion SUVmax."
    if modelled:
        text += _models_sentence(models)
    return text


def biodistribution_paragraph(table: pd.DataFrame | None, comparison: pd.DataFrame | None, ci_level: float) -> str:
    """Methods (and headline result) sentences for the biodistribution analysis (empty without data)."""
    if table is None or table.empty:
        return ""
    model = table[table["method"].str.startswith("model") & (table["statistic"] == "suvmean")]
    tissues = ", ".join(t.replace("_", " ") for t in dict.fromkeys(model["tissue"]))
    days = ", ".join(f"{d:g}" for d in sorted(model["day"].unique()))
    doses = sorted(table["dose_mg"].dropna().unique())
    n = int(model.groupby("tissue")["n_patients"].max().max()) if not model.empty else 0
    dose_text = f" at protein doses of {' and '.join(f'{d:g}' for d in doses)} mg" if len(doses) >= 2 else ""
    text = (
        f"Biodistribution was assessed in {n} patients imaged {days} days after tracer injection{dose_text}: "
        f"SUVmean and SUVmax of reference regions ({tissues}) were analysed per tissue with linear mixed models of "
        "log SUV with day after injection as a categorical factor"
        + (", adjusted for protein dose," if len(doses) >= 2 else "")
        + f" and a random intercept per patient (REML), reporting geometric means with {ci_level:.0%} confidence "
        "intervals from t distributions with Satterthwaite degrees of freedom (as lmerTest)"
    )
    if len(doses) >= 2:
        versus = f"{doses[-1]:g} vs {doses[0]:g} mg" if len(doses) == 2 else f"each dose vs {doses[0]:g} mg"
        text += (
            f"; uptake was compared between doses per day and over all days as the ratio of geometric means "
            f"({versus}) with Satterthwaite t-tests"
        )
        if len(doses) >= 3:
            text += ", dose overall with an F test with Satterthwaite denominator degrees of freedom"
        if comparison is not None and comparison["method"].astype(str).str.contains("interaction").any():
            text += (
                ", and a change of the dose ratio over days with an F test of the day-by-dose interaction "
                "(Satterthwaite denominator degrees of freedom)"
            )
    text += "."
    if comparison is not None and not comparison.empty:
        overall = comparison[
            comparison["day"].isna() & comparison["ratio"].notna() & (comparison["statistic"] == "suvmean")
        ]
        parts = [
            f"{r.tissue.replace('_', ' ')}{'' if len(doses) == 2 else f' {r.dose_mg:g} mg'} {r.ratio:.2f} "
            f"({ci_level:.0%} CI {r.ci_low:.2f}-{r.ci_high:.2f}; p = {r.p:.2g})"
            for r in overall.itertuples()
        ]
        if parts:
            text += f" SUVmean ratios {versus} over all days: " + ", ".join(parts) + "."
    return text


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """The pet stage's methods: uptake, then biodistribution (``""`` when neither ran)."""
    cohort_dir = Path(cohort_dir)
    biodistribution = biodistribution_paragraph(
        _optional(cohort_dir / "tables" / "pet_biodistribution.tsv"),
        _optional(cohort_dir / "tables" / "pet_dose_comparison.tsv"),
        cohort_config["pet"]["biodistribution"]["ci_level"],
    )
    return "\n\n".join(p for p in (uptake_paragraph(cohort_dir, cohort_config), biodistribution) if p)
