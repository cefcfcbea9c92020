# Validation of the config, the {cohort} wildcard, and the input functions every stage
# uses. Stages register what they produce in OUTPUT_PROVIDERS (targets of `rule all`)
# and PATIENT_FEATURE_PROVIDERS (tables joined into tables/patients.tsv), so adding a
# stage never edits another stage's file.
from contexture.config import INPUT_KEYS, cohort_modalities, validate_config
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


# --- signatures ---
import os

SIGNATURES_EXPRESSION = "results/{cohort}/nanostring/normalized.tsv"


def signatures_config(cohort):
    return cohort_config(cohort)["signatures"]


def expression_available(cohort):
    """Whether the signature analyses can run: the cohort has NanoString data and some
    rule (the nanostring stage) produces its normalized matrix. Until that stage is
    included, the signature outputs are not requested, so the rest still runs."""
    if not has_modality(cohort, "nanostring"):
        return False
    expression = SIGNATURES_EXPRESSION.format(cohort=cohort)
    return any(rule.is_producer(expression) for rule in workflow.rules)


def signature_resource(path):
    """A resource path of the signatures section: absolute or relative to the working
    directory if it exists there, otherwise relative to the contexture repository."""
    from contexture.signatures import REPOSITORY_DIR

    if os.path.isabs(path) or os.path.exists(path):
        return path
    return str(REPOSITORY_DIR / path)


def signature_files(cohort):
    """The signature files named in signatures.use (shipped names or .yaml paths)."""
    from contexture.signatures import signature_path

    return [
        signature_resource(str(signature_path(name)))
        for name in signatures_config(cohort)["use"]
    ]
