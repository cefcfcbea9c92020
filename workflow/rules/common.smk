# Validation of the config, the {cohort} wildcard, and the input functions every stage
# uses. Stages register what they produce in OUTPUT_PROVIDERS (targets of `rule all`)
# and PATIENT_FEATURE_PROVIDERS (tables joined into tables/patients.tsv), so adding a
# stage never edits another stage's file.
from contexture.config import cohort_modalities, validate_config
from contexture.errors import ConfigError

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"contexture: {error}") from None


COHORTS = sorted(config["cohorts"])


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


def all_outputs():
    return [
        path
        for cohort in COHORTS
        for provider in OUTPUT_PROVIDERS
        for path in provider(cohort)
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
    except Exception:
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
