"""Methods paragraphs per stage, filled from the config and the run's own outputs.

Each function takes the cohort's results folder and its config section and returns a
paragraph (Markdown) or ``""`` when the stage did not run. Numbers (patients, lanes
excluded, models fitted) are read from the outputs, so the text always matches the run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contexture import DAYS_PER_MONTH
from contexture.io import read_table


def _read(path: Path) -> pd.DataFrame | None:
    """``results/{cohort}/<folder>/<name>.tsv`` through its schema ``results/<folder>/<name>``."""
    return read_table(path, f"results/{path.parent.name}/{path.stem}") if path.is_file() else None


def clinical_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Patients and follow-up definitions."""
    patients = _read(cohort_dir / "tables" / "patients.tsv")
    if patients is None:
        return ""
    n = len(patients)
    text = [f"## Patients and follow-up\n\nThe analysis included {n} patients."]
    if patients["os_months"].notna().any():
        text.append(
            "Progression-free survival (PFS) was measured from the start of treatment to "
            "progression or death, whichever came first, and overall survival (OS) to death; "
            "patients without an event were censored at their last follow-up. Durations in days "
            f"were converted to months by dividing by {DAYS_PER_MONTH} (365.25 / 12)."
        )
    return " ".join(text)


def nanostring_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """RCC reading, lane QC and normalization."""
    lanes = _read(cohort_dir / "nanostring" / "lanes.tsv")
    if lanes is None:
        return ""
    options = cohort_config.get("nanostring", {})
    failed = lanes.loc[~lanes["qc_pass"], "sample_id"].tolist()
    excluded = lanes.loc[~lanes["included"], "sample_id"].tolist()
    method = (
        options.get("normalization", {}).get("method", "nsolver")
        if isinstance(options.get("normalization"), dict)
        else "nsolver"
    )
    return (
        "## Gene expression (NanoString nCounter)\n\n"
        f"{len(lanes)} RCC files were read (probes matched by code class, name and accession) and checked "
        "lane by lane against the nCounter QC rules (NanoString MAN-C0011; nSolver 4.0 User Manual): "
        "imaging (FOV counted/FOV count ≥ 0.75), binding density, positive-control linearity "
        "(R² ≥ 0.95), limit of detection (POS_E above the mean + 2 SD of negative controls), "
        "housekeeping geometric mean, and positive and housekeeping scaling factors. "
        f"{len(failed)} lane(s) failed QC"
        + (f" ({', '.join(map(str, failed))})" if failed else "")
        + f" and {len(excluded)} were excluded from analysis. Counts were normalized with the "
        + (
            "nSolver method (positive-control then housekeeping geometric-mean scaling, counts < 1 floored to 1) "
            if method == "nsolver"
            else f"{method} method "
        )
        + "and log2-transformed."
    )


def pet_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """PET quantification and the mixed models."""
    lesions = _read(cohort_dir / "tables" / "lesions.tsv")
    if lesions is None:
        return ""
    models = _read(cohort_dir / "tables" / "pet_models.tsv")
    baseline = lesions[lesions["timepoint"] == "baseline"]
    text = (
        "## CD8 PET\n\n"
        f"Uptake was quantified in {baseline['lesion_id'].nunique()} baseline lesions of "
        f"{baseline['patient_id'].nunique()} patients ({len(lesions)} lesion measurements in all) as body-weight "
        "SUV (QIBA SUV profile; injected activity decay-corrected to the scan's reference time with the "
        "radionuclide half-life, 78.41 h for 89Zr, using full injection and scan dates): SUVmax, SUVmean, "
        "SUVpeak (mean in a 1 cm³ sphere placed for maximum mean, PERCIST 1.0) and volume. Irradiated lesions "
        "were excluded from uptake analyses. Per-patient uptake is the geometric mean of lesion SUVmax."
    )
    if models is not None and not models.empty:
        text += (
            " Log SUVmax was analysed with linear mixed models with a random intercept per patient "
            "(REML; Wald tests for factors with three or more levels, likelihood-ratio tests under ML for "
            "two-level factors); heterogeneity is the intraclass correlation of the random-intercept model; "
            "change during treatment is the % change in geometric mean SUVmax per week, with its interaction "
            "with best overall response and a lesion-volume-adjusted sensitivity analysis."
        )
    return text


def ihc_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """IHC densities, phenotypes and Immunoscore."""
    slides = _read(cohort_dir / "tables" / "ihc_slides.tsv")
    if slides is None:
        return ""
    counts = slides["ihc_phenotype"].value_counts()
    mix = ", ".join(f"{name} {count}" for name, count in counts.items())
    return (
        "## CD8 immunohistochemistry\n\n"
        f"{len(slides)} slides of {slides['patient_id'].nunique()} patients were analysed from cell detections and "
        "region annotations (QuPath exports): CD8+ and CD3+ cells per mm² in tumour core, invasive margin and "
        f"stroma; immune phenotype per slide (desert / stromal / inflamed; {mix}); Immunoscore from the mean "
        "percentile of CD3 and CD8 densities in core and margin (Low 0–25%, Intermediate 25–70%, High 70–100%; "
        "Pagès et al., Lancet 2018); nearest-neighbour distances of CD8+ cells to tumour cells (k-d tree). "
        "Association with PET uptake of paired lesions is Kendall's tau-b."
    )


def response_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """RECIST 1.1, iRECIST and SITC resistance."""
    rates = _read(cohort_dir / "tables" / "response_rates.tsv")
    if rates is None:
        return ""
    options = cohort_config.get("response", {})
    confirmation = "with" if options.get("confirmation", True) else "without"
    return (
        "## Response and resistance\n\n"
        f"Tumour response was classified by RECIST 1.1 (Eisenhauer et al. 2009) {confirmation} confirmation of "
        "CR/PR (≥ 28 days), and by iRECIST (Seymour et al. 2017); resistance categories follow the SITC "
        "definitions (Kluger et al. 2020). Objective response and disease control rates are given with exact "
        "Clopper–Pearson 95% confidence intervals."
    )


def survival_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Kaplan–Meier, log-rank and Cox."""
    cox = _read(cohort_dir / "tables" / "survival_cox.tsv")
    if cox is None:
        return ""
    conf_type = cohort_config.get("survival", {}).get("conf_type", "log")
    return (
        "## Survival analysis\n\n"
        f"Survival was estimated by Kaplan–Meier with Greenwood variance and '{conf_type}'-transformed 95% "
        "confidence intervals (the median's interval as in R's survfit), compared with the log-rank test, and "
        "modelled with Cox proportional hazards regression (Efron ties; Wald confidence intervals); continuous "
        "biomarkers are reported per standard deviation. Proportional hazards were checked with the scaled "
        "Schoenfeld residuals test (Grambsch & Therneau 1994, as R's cox.zph) and models with fewer than 10 events "
        "per variable are flagged (Peduzzi et al. 1996). Median follow-up is from the reverse Kaplan–Meier estimate."
    )


def signatures_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Immune gene signatures (contexture.signatures.scores writes its own paragraph)."""
    from contexture.signatures.scores import methods_paragraph

    return methods_paragraph(cohort_dir, cohort_config)


def biodistribution_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """PET biodistribution and dose finding (contexture.pet.biodistribution writes it)."""
    from contexture.pet.biodistribution import biodistribution_paragraph as paragraph

    table = _read(cohort_dir / "tables" / "pet_biodistribution.tsv")
    if table is None:
        return ""
    level = cohort_config.get("pet", {}).get("biodistribution", {}).get("ci_level", 0.95)
    return paragraph(table, _read(cohort_dir / "tables" / "pet_dose_comparison.tsv"), level)


def toxicity_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """irAE toxicity against baseline biomarkers (contexture.toxicity.analysis writes it)."""
    from contexture.toxicity.analysis import toxicity_paragraph as paragraph

    return paragraph(cohort_dir, cohort_config)


STAGES = (
    clinical_paragraph,
    nanostring_paragraph,
    signatures_paragraph,
    pet_paragraph,
    biodistribution_paragraph,
    ihc_paragraph,
    response_paragraph,
    toxicity_paragraph,
    survival_paragraph,
)


def paragraphs(cohort_dir: str | Path, cohort_config: dict) -> list[str]:
    """Every stage's methods paragraph for a cohort, in the order of the analysis."""
    cohort_dir = Path(cohort_dir)
    return [stage(cohort_dir, cohort_config) for stage in STAGES]
