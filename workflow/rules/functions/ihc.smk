# Input functions and helpers of the ihc stage; ihc.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
import os

from contexture.errors import ContextureError
from contexture.ihc.slides import slide_files


def ihc_inputs(wildcards):
    """Slide sheet and every export it names (or the density table), and the reference."""
    cohort = wildcards.cohort
    section = cohort_config(cohort).get("ihc", {})
    inputs = {}
    if is_simulated(cohort):
        inputs["raw"] = f"{raw_dir(cohort)}/ihc"
    elif "slides" in section:
        inputs["slides"] = section["slides"]
        try:
            inputs["files"] = [
                f for f in slide_files(section["slides"]) if os.path.isfile(f)
            ]
        except ContextureError:
            inputs["files"] = (
                []
            )  # the rule's script reports the sheet's problems in full
    else:
        inputs["densities"] = section["densities"]
    if "reference" in section.get("immunoscore", {}):
        inputs["reference"] = section["immunoscore"]["reference"]
    return inputs


def ihc_options(cohort):
    """The cohort's ihc options (schema defaults filled), without the input paths."""
    section = cohort_config(cohort).get("ihc", {})
    return {k: v for k, v in section.items() if k not in ("slides", "densities")}


def ihc_pet_correlation_outputs(cohort):
    """IHC-PET correlation outputs, for cohorts with both modalities."""
    if not (has_modality(cohort, "ihc") and has_modality(cohort, "pet")):
        return []
    return [
        f"results/{cohort}/tables/ihc_pet_correlation.tsv",
        f"results/{cohort}/figures/ihc_suvmax_vs_cd8_density.png",
    ]
