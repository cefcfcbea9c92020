# Clinical stage: validate the patient table and derive PFS/OS in days and months.


rule clinical:
    input:
        clinical=clinical_input,
        validated=validation_marker,
    output:
        clinical="results/{cohort}/clinical/clinical.tsv",
    log:
        "results/{cohort}/logs/clinical.log",
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/core.yaml"
    script:
        "../scripts/clinical.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort, "clinical", "results/{cohort}/clinical/clinical.tsv"
    )
)
