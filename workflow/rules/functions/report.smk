# Input functions and helpers of the report stage; report.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
from contexture.inputs import declared_paths
from contexture.modalities import MODALITIES


def availability_inputs(wildcards):
    """The stage tables that say which patient has which modality at which timepoint
    (each modality's `availability` table in contexture.modalities)."""
    cohort = wildcards.cohort
    return {
        modality.name: f"results/{cohort}/{modality.availability}"
        for modality in MODALITIES
        if has_modality(cohort, modality.name)
    }


def manifest_inputs(cohort):
    """The input files (and folders, globs) of a cohort, for the manifest's checksums:
    every input path the cohort declares (contexture.inputs.declared_paths)."""
    if is_simulated(cohort):
        return [raw_dir(cohort)]
    return [path for _, path in declared_paths(cohort_config(cohort))]
