# Validation of the config, the {cohort} wildcard, and the input functions every stage
# uses. Stages register what they produce in OUTPUT_PROVIDERS (targets of `rule all`)
# and PATIENT_FEATURE_PROVIDERS (tables joined into tables/patients.tsv), so adding a
# stage never edits another stage's file.
from contexture.config import (
    INPUT_KEYS,
    check_results_folder,
    cohort_modalities,
    read_config_files,
    validate_config,
)
from contexture.errors import ContextureError
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


def patients_inputs(wildcards):
    """Inputs of the patient table: clinical table (if any) and stage feature tables."""
    inputs = {
        "features": [path for _, path in patient_feature_tables(wildcards.cohort)]
    }
    if has_modality(wildcards.cohort, "clinical"):
        inputs["clinical"] = f"results/{wildcards.cohort}/clinical/clinical.tsv"
    return inputs


def availability_inputs(wildcards):
    """The stage tables that say which patient has which modality at which timepoint."""
    cohort = wildcards.cohort
    tables = {
        "clinical": "clinical/clinical.tsv",
        "recist": "tables/recist_timepoints.tsv",
        "pet": "tables/lesions.tsv",
        "nanostring": "nanostring/samples.tsv",
        "ihc": "tables/ihc_slides.tsv",
    }
    return {
        modality: f"results/{cohort}/{path}"
        for modality, path in tables.items()
        if has_modality(cohort, modality)
    }


def cohort_outputs(cohort):
    """Every table and figure a cohort's inputs allow (the bundle's contents)."""
    return [path for provider in OUTPUT_PROVIDERS for path in provider(cohort)]


def manifest_inputs(cohort):
    """The input files (and folders, globs) of a cohort, for the manifest's checksums."""
    if is_simulated(cohort):
        return [raw_dir(cohort)]
    cohort_cfg = cohort_config(cohort)
    paths = []
    for modality, keys in INPUT_KEYS.items():
        value = cohort_cfg.get(modality)
        if keys is None and isinstance(value, str):
            paths.append(value)
        elif isinstance(value, dict):
            paths += [v for v in value.values() if isinstance(v, str)]
    return paths


def all_outputs():
    return [
        path
        for cohort in COHORTS
        for path in cohort_outputs(cohort) + [f"results/{cohort}/{cohort}_bundle.zip"]
    ]


# --- nanostring ---
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


# --- ihc ---
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


# --- pet ---
def pet_options(cohort):
    """The cohort's pet section with schema defaults (simulated cohorts may omit it)."""
    return cohort_config(cohort).get("pet") or {}


def pet_image_files(scans_path):
    """Images, masks and labels named by a real cohort's scans table (for rerun triggers).

    Parsing problems are left to the rule, which reports them with file, row and column.
    """
    import os

    from contexture.io import read_input_table

    try:
        table = read_input_table(scans_path)
    except ContextureError:
        return []
    base = os.path.dirname(scans_path)
    files = []
    for column in ("image", "mask", "labels"):
        if column in table.columns:
            for value in table[column].dropna():
                path = value if os.path.isabs(value) else os.path.join(base, value)
                if os.path.exists(path):
                    files.append(path)
    return sorted(set(files))


def pet_quantify_inputs(wildcards):
    cohort = wildcards.cohort
    inputs = {}
    if has_modality(cohort, "clinical"):
        inputs["clinical"] = f"results/{cohort}/clinical/clinical.tsv"
    if is_simulated(cohort):
        inputs["scans"] = f"{raw_dir(cohort)}/pet/scans.tsv"
        inputs["images"] = f"{raw_dir(cohort)}/pet/images"
        return inputs
    section = pet_options(cohort)
    if "voi_table" in section:
        inputs["voi_table"] = section["voi_table"]
    else:
        inputs["scans"] = section["scans"]
        inputs["image_files"] = pet_image_files(section["scans"])
    return inputs


# --- response ---
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


# --- pet_models ---
PET_MODEL_FIGURES = [
    "pet_lesion_overview",
    "pet_suvmax_by_site",
    "pet_suvmax_by_dmmr",
    "pet_suvmax_by_ihc_phenotype",
    "pet_change_per_week_by_response",
]

# --- signatures ---
import os

SIGNATURES_EXPRESSION = "results/{cohort}/nanostring/normalized.tsv"


def signatures_config(cohort):
    return cohort_config(cohort)["signatures"]


def expression_available(cohort):
    """Whether the signature analyses can run: the cohort has NanoString data."""
    return has_modality(cohort, "nanostring")


def signature_resource(path):
    """A resource path of the signatures section: absolute or relative to the working
    directory if it exists there, otherwise relative to the contexture repository."""
    from contexture.signatures.scores import REPOSITORY_DIR

    if os.path.isabs(path) or os.path.exists(path):
        return path
    return str(REPOSITORY_DIR / path)


def signature_files(cohort):
    """The signature files named in signatures.use (shipped names or .yaml paths)."""
    from contexture.signatures.scores import signature_path

    return [
        signature_resource(str(signature_path(name)))
        for name in signatures_config(cohort)["use"]
    ]


# --- report ---
def report_labels(name):
    """Labels of the result file ``name`` in the HTML report (``result`` and ``summary``:
    n, test, p), read from the cohort's tables when the report is built; the captions in
    workflow/report/ print the summary (contexture.report.captions, docs/report.md)."""
    from contexture.report.captions import result_labels

    return lambda wildcards: result_labels(f"results/{wildcards.cohort}", name)


# --- pet_biodistribution ---
def pet_dose_finding_patients(cohort):
    """Simulated cohorts: how many dose-finding patients the PET simulator adds."""
    section = pet_options(cohort).get("simulate_dose_finding") or {}
    return int(section.get("patients", 0))


def pet_has_dose_finding(cohort):
    """Whether a cohort's PET scans (or VOI rows) carry days_post_injection."""
    if not has_modality(cohort, "pet"):
        return False
    if is_simulated(cohort):
        return pet_dose_finding_patients(cohort) > 0
    from contexture.io import read_input_table

    section = pet_options(cohort)
    try:
        table = read_input_table(section.get("voi_table") or section["scans"])
    except ContextureError:
        return False  # the pet_quantify rule reports unreadable tables
    column = table.get("days_post_injection")
    return column is not None and bool(column.notna().any())


# --- validate ---
from contexture.errors import InputError
from contexture.inputs import check_declared_paths, input_files


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
