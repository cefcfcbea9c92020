# Input functions and helpers of the nanostring stage; nanostring.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
from contexture.errors import ConfigError
from contexture.nanostring.runs import FIRST_RUN, nanostring_runs


def nanostring_option(cohort, key):
    """An option of the cohort's nanostring section (schema defaults already filled)."""
    return cohort_config(cohort).get("nanostring", {}).get(key)


def nanostring_run_list(cohort):
    """The cohort's runs as the nanostring script reads them: [{name, samples}] in config
    order (contexture.nanostring.runs); a simulated cohort is one run with its sheet."""
    if is_simulated(cohort):
        return [
            {"name": FIRST_RUN, "samples": f"{raw_dir(cohort)}/nanostring/samples.tsv"}
        ]
    return [
        {"name": run["name"], "samples": run.get("samples")}
        for run in nanostring_runs(cohort_config(cohort)["nanostring"])
    ]


def nanostring_inputs(wildcards):
    """The simulator's RCC folder and sheet, or for a real cohort the RCC files as
    validate_inputs parsed them (validation/parsed, one set per run, which changes whenever
    an RCC file, a sheet or an RLF does) and each run's sample sheet if declared."""
    cohort = wildcards.cohort
    if is_simulated(cohort):
        raw = f"{raw_dir(cohort)}/nanostring"
        return {"rcc": [f"{raw}/rcc"], "samples": [f"{raw}/samples.tsv"]}
    sheets = [run["samples"] for run in nanostring_run_list(cohort) if run["samples"]]
    return {"parsed": f"results/{cohort}/validation/parsed", "samples": sheets}


# Run names and the two forms are checked when the workflow is parsed, so a repeated name
# stops the run before any job, naming the cohort.
for _name, _cohort in config["cohorts"].items():
    try:
        nanostring_runs(_cohort.get("nanostring"))
    except ConfigError as error:
        raise WorkflowError(f"contexture: cohorts.{_name}.{error}") from None
