# Validation of the config, the {cohort} wildcard, the cohort helpers every stage uses,
# and the registries. Stages register what they produce in OUTPUT_PROVIDERS (targets of
# `rule all`) and PATIENT_FEATURE_PROVIDERS (tables joined into tables/patients.tsv), so
# adding a stage never edits another stage's file. Each stage's own input functions live in
# workflow/rules/functions/<stage>.smk, which its .smk includes before its rules.
import os
from pathlib import Path

from contexture.config import (
    check_results_folder,
    cohort_modalities,
    read_config_files,
    validate_config,
)
from contexture.errors import ContextureError
from contexture.parallel import input_megabytes, table_rows, threads_for_work
from contexture.signatures.scores import check_signature_names


def stop_on_user_error(what, check, *args):
    """Run a parse-time check; a ContextureError stops the run as one paragraph.

    Checks run here, not in input functions: Snakemake wraps an input function's
    error in InputFunctionException with a traceback, a top-level WorkflowError not.
    """
    try:
        return check(*args)
    except ContextureError as error:
        raise WorkflowError(
            f"contexture error in {what} ({type(error).__name__}):\n{error}"
        ) from None


def conda_jobs_import_this_source():
    """Under --software-deployment-method conda, put this workflow's own src/ first on the
    jobs' PYTHONPATH: the envs (envs/*.yaml) hold the third-party dependencies only, and a
    job then runs the package code this workflow was parsed with, never a stale copy
    installed into an env (docs: README "Software environments")."""
    from snakemake.settings.types import DeploymentMethod

    source = Path(str(workflow.current_basedir)).parents[1] / "src"
    uses_conda = (
        DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    )
    if uses_conda and (source / "contexture" / "__init__.py").is_file():
        # Not an input of the workflow (no `envvars:`): set here for the jobs it starts.
        environment = os.environ
        variable = "PYTHONPATH"
        paths = [str(source), *filter(None, [environment.get(variable)])]
        environment[variable] = os.pathsep.join(paths)


conda_jobs_import_this_source()

CONFIG_FILES = f"the config {' '.join(map(str, workflow.configfiles)) or '(--config)'}"
stop_on_user_error(CONFIG_FILES, read_config_files, workflow.configfiles)
stop_on_user_error(CONFIG_FILES, validate_config, config)
stop_on_user_error(CONFIG_FILES, check_signature_names, config["cohorts"])

COHORTS = sorted(config["cohorts"])
stop_on_user_error("the results folder", check_results_folder, "results", COHORTS)


wildcard_constraints:
    cohort="|".join(COHORTS),


# Each provider takes a cohort name and returns a list of output paths.
OUTPUT_PROVIDERS = []
# Each provider takes a cohort name and returns a list of (stage, path) pairs.
PATIENT_FEATURE_PROVIDERS = []


def cohort_config(cohort):
    return config["cohorts"][cohort]


def is_simulated(cohort):
    return "simulate" in cohort_config(cohort)


def has_modality(cohort, modality):
    return modality in cohort_modalities(cohort_config(cohort))


# Threads of the heavy rules, sized to their work (contexture.parallel.threads_for_work):
# Snakemake evaluates these when it schedules the job, after its inputs exist, so the
# sizes are the real ones. A small job runs on one core beside other jobs instead of
# holding a second core it barely uses; `--set-threads rule=n` (or `set-threads:` in a
# profile) overrides. The work per thread of each rule is in docs/scale.md.
def threads_by_input_megabytes(megabytes_per_thread):
    """A `threads:` callable: one thread per this many MB of the job's input files."""
    return lambda wildcards, input: threads_for_work(
        input_megabytes(input), megabytes_per_thread
    )


def threads_by_table_rows(name, rows_per_thread):
    """A `threads:` callable: one thread per this many rows of input table `name`."""
    return lambda wildcards, input: threads_for_work(
        table_rows(input[name]), rows_per_thread
    )


def threads_by_simulated_patients(patients_per_thread):
    """A `threads:` callable of the simulators: one thread per this many patients."""
    return lambda wildcards: threads_for_work(
        cohort_config(wildcards.cohort)["simulate"]["patients"], patients_per_thread
    )


def figure_labels(cohort):
    """The cohort's display names for figures (``labels:``; the package adds its defaults)."""
    return dict(cohort_config(cohort).get("labels") or {})


# The stage that gives patients.tsv a column some figures group by, when the clinical
# table does not have it (a figure whose grouping column no input gives is not made).
PATIENT_COLUMN_MODALITY = {
    "bor": "recist",
    "responder": "recist",
    "ihc_phenotype": "ihc",
    "dmmr": None,
}
# Grouping columns the simulator's clinical table always has.
SIMULATED_CLINICAL_COLUMNS = ("dmmr",)


def clinical_has_column(cohort, column):
    """Whether the cohort's clinical table has ``column`` (its header only is read)."""
    if not has_modality(cohort, "clinical"):
        return False
    if is_simulated(cohort):
        return column in SIMULATED_CLINICAL_COLUMNS
    from contexture.errors import ContextureError
    from contexture.io import read_input_table

    try:
        return column in read_input_table(cohort_config(cohort)["clinical"]).columns
    except (ContextureError, OSError):
        return False  # validate_inputs reports an unreadable clinical table


def patient_column_available(cohort, column):
    """Whether some input of the cohort gives patients.tsv the column ``column``."""
    modality = PATIENT_COLUMN_MODALITY.get(column)
    if modality is not None and has_modality(cohort, modality):
        return True
    return clinical_has_column(cohort, column)


def raw_dir(cohort):
    """Where the simulator writes a simulated cohort's raw files."""
    return f"results/{cohort}/raw"


def clinical_input(wildcards):
    if is_simulated(wildcards.cohort):
        return f"{raw_dir(wildcards.cohort)}/clinical.tsv"
    return cohort_config(wildcards.cohort)["clinical"]


def patient_feature_tables(cohort):
    return [pair for provider in PATIENT_FEATURE_PROVIDERS for pair in provider(cohort)]


def when_modality(cohort, modality, *paths):
    """``paths`` (formatted with the cohort) if the cohort has ``modality``, else []."""
    if not has_modality(cohort, modality):
        return []
    return [path.format(cohort=cohort) for path in paths]


def cohort_outputs(cohort):
    """Every table and figure a cohort's inputs allow (the bundle's contents)."""
    return [path for provider in OUTPUT_PROVIDERS for path in provider(cohort)]


def all_outputs():
    return [
        path
        for cohort in COHORTS
        for path in cohort_outputs(cohort) + [f"results/{cohort}/{cohort}_bundle.zip"]
    ]


# Every stage's `report(...)` outputs call this while their .smk is included, so it is
# defined here rather than in report.smk (which is included last: it collects them all).
def report_labels(name):
    """Labels of the result file ``name`` in the HTML report (``result`` and ``summary``:
    n, test, p), read from the cohort's tables when the report is built; the captions in
    workflow/report/ print the summary (contexture.report.captions, docs/report.md)."""
    from contexture.report.captions import result_labels

    return lambda wildcards: result_labels(f"results/{wildcards.cohort}", name)
