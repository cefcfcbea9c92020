# Input functions and helpers of the nanostring stage; nanostring.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
def nanostring_option(cohort, key):
    """An option of the cohort's nanostring section (schema defaults already filled)."""
    return cohort_config(cohort).get("nanostring", {}).get(key)


def nanostring_inputs(wildcards):
    """The simulator's RCC folder and sheet, or for a real cohort the RCC files as
    validate_inputs parsed them (validation/parsed, which changes whenever an RCC file,
    the sheet or the RLF does) and the sample sheet if declared."""
    cohort = wildcards.cohort
    if is_simulated(cohort):
        raw = f"{raw_dir(cohort)}/nanostring"
        return {"rcc": [f"{raw}/rcc"], "samples": f"{raw}/samples.tsv"}
    section = cohort_config(cohort)["nanostring"]
    inputs = {"parsed": f"results/{cohort}/validation/parsed"}
    if "samples" in section:
        inputs["samples"] = section["samples"]
    return inputs
