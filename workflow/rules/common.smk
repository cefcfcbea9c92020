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


# --- pet_models ---
PET_MODEL_FIGURES = [
    "pet_lesion_overview",
    "pet_suvmax_by_site",
    "pet_suvmax_by_dmmr",
    "pet_suvmax_by_ihc_phenotype",
    "pet_change_per_week_by_response",
]


def lesions_table_producer_exists(cohort):
    """True if a rule (the pet stage) makes results/{cohort}/tables/lesions.tsv."""
    path = f"results/{cohort}/tables/lesions.tsv"
    return any(
        candidate.name != "pet_models" and candidate.is_producer(path)
        for candidate in workflow.rules
    )
