# Input functions and helpers of the validate stage; validate.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
from contexture.errors import InputError
from contexture.inputs import check_declared_paths, input_files, validation_config


def validation_marker(wildcards):
    """The validation step's output for real cohorts ([] for simulated ones)."""
    if is_simulated(wildcards.cohort):
        return []
    return f"results/{wildcards.cohort}/validation/inputs.tsv"


def validation_inputs(wildcards):
    return input_files(cohort_config(wildcards.cohort))


try:
    check_declared_paths(config["cohorts"])
except InputError as error:
    raise WorkflowError(f"contexture: {error}") from None
