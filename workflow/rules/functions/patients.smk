# Input functions and helpers of the patients stage; patients.smk includes this file before its
# rules (snakemake --lint wants rules and functions in separate files).
def patients_inputs(wildcards):
    """Inputs of the patient table: clinical table (if any) and stage feature tables."""
    inputs = {
        "features": [path for _, path in patient_feature_tables(wildcards.cohort)]
    }
    if has_modality(wildcards.cohort, "clinical"):
        inputs["clinical"] = f"results/{wildcards.cohort}/clinical/clinical.tsv"
    return inputs
