# Input functions and helpers of the pet stage; pet.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
from contexture.errors import ContextureError
from contexture.inputs import input_limits, sheet_files
from contexture.modalities import BY_NAME

# The PET models' figures and the patients.tsv column each groups by (None: always made).
PET_MODEL_FIGURES = {
    "pet_lesion_overview": None,
    "pet_suvmax_by_site": None,
    "pet_suvmax_by_dmmr": "dmmr",
    "pet_suvmax_by_ihc_phenotype": "ihc_phenotype",
    "pet_change_per_week_by_response": "bor",
}


def pet_figures_available(cohort):
    """The PET figures a cohort's inputs allow: those whose grouping column exists."""
    return [
        name
        for name, column in PET_MODEL_FIGURES.items()
        if column is None or patient_column_available(cohort, column)
    ]


def pet_options(cohort):
    """The cohort's pet section with schema defaults (simulated cohorts may omit it)."""
    return cohort_config(cohort).get("pet") or {}


def cohort_limits(cohort):
    """The cohort's `limits` section with its defaults (contexture.inputs.input_limits)."""
    return input_limits(cohort_config(cohort).get("limits"))


def pet_image_files(scans_path):
    """Images, masks and labels named by a real cohort's scans table (for rerun triggers;
    the columns are the scans table's `path_columns` in contexture.modalities).

    Parsing problems are left to the rule, which reports them with file, row and column.
    """
    return sheet_files(scans_path, BY_NAME["pet"].path_columns("scans"))


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

    from contexture.io.voi_columns import rename_voi_columns

    section = pet_options(cohort)
    path = section.get("voi_table") or section["scans"]
    try:
        table = read_input_table(path)
        if "voi_table" in section:
            table = rename_voi_columns(table, section.get("columns"), file=path)
    except ContextureError:
        return False  # the pet_quantify rule reports unreadable tables
    column = table.get("days_post_injection")
    return column is not None and bool(column.notna().any())


def pet_models_inputs(wildcards):
    """Lesions and patients; the IHC slides table too when the cohort has IHC, whose
    lesion_id places each biopsy on its PET lesion (the lesion-level phenotype model).
    """
    cohort = wildcards.cohort
    inputs = {
        "lesions": f"results/{cohort}/tables/lesions.tsv",
        "patients": f"results/{cohort}/tables/patients.tsv",
    }
    if has_modality(cohort, "ihc"):
        inputs["slides"] = f"results/{cohort}/tables/ihc_slides.tsv"
    return inputs
