# PET statistical analyses: mixed models on log SUVmax (contexture.pet.models), figures.


rule pet_models:
    input:
        lesions="results/{cohort}/tables/lesions.tsv",
        patients="results/{cohort}/tables/patients.tsv",
    output:
        table=report(
            "results/{cohort}/tables/pet_models.tsv",
            caption="../report/pet_models.rst",
            category="Tables",
            subcategory="{cohort}",
        ),
        figures=expand(
            "results/{{cohort}}/figures/{name}.png",
            name=PET_MODEL_FIGURES,
        ),
    log:
        "results/{cohort}/logs/pet_models.log",
    benchmark:
        "results/{cohort}/benchmarks/pet_models.tsv"
    conda:
        "../../envs/pet_models.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        options=lambda wc: cohort_config(wc.cohort)["pet_analysis"],
    script:
        "../scripts/pet_models.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: (
        when_modality(cohort, "pet", "results/{cohort}/tables/pet_models.tsv")
        if lesions_table_producer_exists(cohort)
        else []
    )
)
