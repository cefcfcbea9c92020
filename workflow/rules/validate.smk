# Central input validation of real cohorts (contexture.inputs; docs/validation.md): every
# modality's tables and files checked together before any analysis, all problems reported
# at once. Each stage's first rule takes `validated=validation_marker` as an input.


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
    conda:
        "../../envs/core.yaml"
    params:
        cohort=lambda wc: cohort_config(wc.cohort),
    script:
        "../scripts/validate_inputs.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: (
        [] if is_simulated(cohort) else [f"results/{cohort}/validation/inputs.tsv"]
    )
)
