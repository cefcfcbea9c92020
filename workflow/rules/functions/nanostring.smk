# Input functions and helpers of the nanostring stage; nanostring.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
from contexture.errors import ContextureError


def nanostring_option(cohort, key):
    """An option of the cohort's nanostring section (schema defaults already filled)."""
    return cohort_config(cohort).get("nanostring", {}).get(key)


def nanostring_inputs(wildcards):
    """RCC files (or the simulator's folder), and the sample sheet and RLF if declared."""
    cohort = wildcards.cohort
    if is_simulated(cohort):
        raw = f"{raw_dir(cohort)}/nanostring"
        return {"rcc": [f"{raw}/rcc"], "samples": f"{raw}/samples.tsv"}
    from contexture.io.rcc import find_rcc_files

    section = cohort_config(cohort)["nanostring"]
    try:
        files = [str(path) for path in find_rcc_files(section["rcc"])]
    except ContextureError as error:
        raise WorkflowError(
            f"contexture: cohorts.{cohort}.nanostring.rcc: {error}"
        ) from None
    inputs = {"rcc": files}
    for key in ("samples", "rlf"):
        if key in section:
            inputs[key] = section[key]
    return inputs
