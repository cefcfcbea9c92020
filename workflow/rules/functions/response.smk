# Input functions and helpers of the response stage; response.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
def recist_input(wildcards):
    """The RECIST measurement table: the simulator's, or the cohort's `recist` path."""
    if is_simulated(wildcards.cohort):
        return f"{raw_dir(wildcards.cohort)}/recist/recist.tsv"
    return cohort_config(wildcards.cohort)["recist"]


def response_inputs(wildcards):
    """RECIST table, plus the clinical table (last-dose day, follow-up) when there is one."""
    inputs = {"recist": recist_input(wildcards)}
    if has_modality(wildcards.cohort, "clinical"):
        inputs["clinical"] = f"results/{wildcards.cohort}/clinical/clinical.tsv"
    return inputs


def response_options(cohort):
    return cohort_config(cohort).get("response", {})


def recist_options(cohort):
    """The response options the RECIST assessment reads: the section without the
    classifier's and the toxicity analysis' own (their rules take those), so editing
    either does not rerun the assessment."""
    return {
        key: value
        for key, value in response_options(cohort).items()
        if key not in ("classifier", "toxicity")
    }
