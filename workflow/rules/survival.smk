# Survival stage: Kaplan-Meier, log-rank, Cox and median follow-up from the patient
# table, computed as R's survival package does (contexture.survival.analysis; docs/survival.md).


rule survival:
    input:
        patients="results/{cohort}/tables/patients.tsv",
    output:
        km=report(
            "results/{cohort}/tables/survival_km.tsv",
            caption="../report/survival_km.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_km.tsv"),
        ),
        logrank=report(
            "results/{cohort}/tables/survival_logrank.tsv",
            caption="../report/survival_logrank.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_logrank.tsv"),
        ),
        cox=report(
            "results/{cohort}/tables/survival_cox.tsv",
            caption="../report/survival_cox.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_cox.tsv"),
        ),
        followup="results/{cohort}/tables/survival_followup.tsv",
        curves="results/{cohort}/survival/km_curves.tsv",
    log:
        "results/{cohort}/logs/survival.log",
    benchmark:
        "results/{cohort}/benchmarks/survival.tsv"
    # The chain to the patient table, and the longest jobs after it, run first
    # (Snakemake's greedy scheduler takes the highest priority among ready jobs).
    priority: 1
    conda:
        "../../envs/survival.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        options=lambda wc: cohort_config(wc.cohort)["survival"],
    script:
        "../scripts/survival_analysis.py"


rule survival_figures:
    input:
        km="results/{cohort}/tables/survival_km.tsv",
        logrank="results/{cohort}/tables/survival_logrank.tsv",
        cox="results/{cohort}/tables/survival_cox.tsv",
        curves="results/{cohort}/survival/km_curves.tsv",
    output:
        km_pfs=report(
            "results/{cohort}/figures/survival_km_pfs.png",
            caption="../report/survival_km_pfs.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_km_pfs.png"),
        ),
        km_os=report(
            "results/{cohort}/figures/survival_km_os.png",
            caption="../report/survival_km_os.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_km_os.png"),
        ),
        forest=report(
            "results/{cohort}/figures/survival_cox_forest.png",
            caption="../report/survival_cox_forest.rst",
            category="Survival",
            subcategory="{cohort}",
            labels=report_labels("survival_cox_forest.png"),
        ),
    log:
        "results/{cohort}/logs/survival_figures.log",
    benchmark:
        "results/{cohort}/benchmarks/survival_figures.tsv"
    # The chain to the patient table, and the longest jobs after it, run first
    # (Snakemake's greedy scheduler takes the highest priority among ready jobs).
    priority: 1
    conda:
        "../../envs/survival.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        labels=lambda wc: figure_labels(wc.cohort),
    script:
        "../scripts/survival_figures.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "clinical",
        "results/{cohort}/tables/survival_km.tsv",
        "results/{cohort}/tables/survival_logrank.tsv",
        "results/{cohort}/tables/survival_cox.tsv",
        "results/{cohort}/tables/survival_followup.tsv",
        "results/{cohort}/figures/survival_km_pfs.png",
        "results/{cohort}/figures/survival_km_os.png",
        "results/{cohort}/figures/survival_cox_forest.png",
    )
)
