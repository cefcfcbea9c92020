# The patient table (outputs contract): clinical table + every stage's patient features.


include: "functions/patients.smk"


rule patients:
    input:
        unpack(patients_inputs),
    output:
        patients=report(
            "results/{cohort}/tables/patients.tsv",
            caption="../report/patients.rst",
            category="Cohort",
            subcategory="{cohort}",
            labels=report_labels("patients.tsv"),
        ),
    log:
        "results/{cohort}/logs/patients.log",
    # The chain to the patient table, and the longest jobs after it, run first
    # (Snakemake's greedy scheduler takes the highest priority among ready jobs).
    priority: 1
    conda:
        "../../envs/core.yaml"
    params:
        stages=lambda wc: [stage for stage, _ in patient_feature_tables(wc.cohort)],
    script:
        "../scripts/patients.py"


OUTPUT_PROVIDERS.append(lambda cohort: [f"results/{cohort}/tables/patients.tsv"])
