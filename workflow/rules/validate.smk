# Central input validation of real cohorts (contexture.inputs; docs/validation.md): every
# modality's tables and files checked together before any analysis, all problems reported
# at once. Each stage's first rule takes `validated=validation_marker` as an input, so the
# params hold only what the checks read (the input paths and the validation options,
# contexture.inputs.validation_config): an analysis option edited reruns its own stage,
# not the validation and every stage after it.


include: "functions/validate.smk"


rule validate_inputs:
    input:
        validation_inputs,
    output:
        table="results/{cohort}/validation/inputs.tsv",
        # What the stages need, parsed once here (contexture.io.rcc.write_rcc_set).
        parsed=directory("results/{cohort}/validation/parsed"),
    log:
        "results/{cohort}/logs/validate_inputs.log",
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/core.yaml"
    params:
        cohort=lambda wc: validation_config(cohort_config(wc.cohort)),
    script:
        "../scripts/validate_inputs.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: (
        [] if is_simulated(cohort) else [f"results/{cohort}/validation/inputs.tsv"]
    )
)
