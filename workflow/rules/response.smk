# Response stage: RECIST 1.1 time-point and best overall responses, iRECIST, SITC
# resistance, ORR/DCR with exact CIs, waterfall/spider/swimmer plots (contexture.response),
# and the baseline-feature response classifier on tables/patients.tsv.


include: "functions/response.smk"


# Demo cohorts: the RECIST measurement table implied by the latent truth.
rule simulate_recist:
    input:
        latent_patients="results/{cohort}/raw/truth/patients.tsv",
        latent_lesions="results/{cohort}/raw/truth/lesions.tsv",
    output:
        recist="results/{cohort}/raw/recist/recist.tsv",
        expected="results/{cohort}/raw/truth/recist_expected.tsv",
    log:
        "results/{cohort}/logs/simulate_recist.log",
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/response.yaml"
    params:
        seed=lambda wc: cohort_config(wc.cohort)["simulate"]["seed"],
    script:
        "../scripts/response_simulate.py"


rule recist:
    input:
        unpack(response_inputs),
        validated=validation_marker,
    output:
        timepoints=report(
            "results/{cohort}/tables/recist_timepoints.tsv",
            caption="../report/recist_timepoints.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("recist_timepoints.tsv"),
        ),
        features="results/{cohort}/response/patient_features.tsv",
        # RECIST 1.1 s4.2 target-selection warnings (header only when there are none).
        selection="results/{cohort}/response/recist_selection_warnings.tsv",
        rates=report(
            "results/{cohort}/tables/response_rates.tsv",
            caption="../report/response_rates.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("response_rates.tsv"),
        ),
    log:
        "results/{cohort}/logs/recist.log",
    benchmark:
        "results/{cohort}/benchmarks/recist.tsv"
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/response.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        options=lambda wc: recist_options(wc.cohort),
    script:
        "../scripts/response_recist.py"


rule response_figures:
    input:
        unpack(response_inputs),
        timepoints="results/{cohort}/tables/recist_timepoints.tsv",
        features="results/{cohort}/response/patient_features.tsv",
    output:
        waterfall=report(
            "results/{cohort}/figures/best_percent_change_waterfall.png",
            caption="../report/best_percent_change_waterfall.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("best_percent_change_waterfall.png"),
        ),
        spider=report(
            "results/{cohort}/figures/target_sum_change_spider.png",
            caption="../report/target_sum_change_spider.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("target_sum_change_spider.png"),
        ),
        swimmer=report(
            "results/{cohort}/figures/response_swimmer.png",
            caption="../report/response_swimmer.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("response_swimmer.png"),
        ),
    log:
        "results/{cohort}/logs/response_figures.log",
    conda:
        "../../envs/response.yaml"
    params:
        labels=lambda wc: figure_labels(wc.cohort),
    script:
        "../scripts/response_figures.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "recist",
        "results/{cohort}/tables/recist_timepoints.tsv",
        "results/{cohort}/tables/response_rates.tsv",
        "results/{cohort}/figures/best_percent_change_waterfall.png",
        "results/{cohort}/figures/target_sum_change_spider.png",
        "results/{cohort}/figures/response_swimmer.png",
    )
)
PATIENT_FEATURE_PROVIDERS.append(
    lambda cohort: (
        [("response", f"results/{cohort}/response/patient_features.tsv")]
        if has_modality(cohort, "recist")
        else []
    )
)


# Baseline-feature response classifier; reads the assembled patient table (other stages'
# biomarkers), so it runs after `patients`. Writes a 'skipped' row when it cannot fit.
rule response_classifier:
    input:
        patients="results/{cohort}/tables/patients.tsv",
    output:
        table=report(
            "results/{cohort}/tables/classifier.tsv",
            caption="../report/classifier.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("classifier.tsv"),
        ),
        roc=report(
            "results/{cohort}/figures/response_classifier_roc.png",
            caption="../report/response_classifier_roc.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("response_classifier_roc.png"),
        ),
    log:
        "results/{cohort}/logs/response_classifier.log",
    benchmark:
        "results/{cohort}/benchmarks/response_classifier.tsv"
    # The chain to the patient table, and the longest jobs after it, run first
    # (Snakemake's greedy scheduler takes the highest priority among ready jobs).
    priority: 1
    conda:
        "../../envs/response.yaml"
    # Bootstrap and permutation replicates refitted across processes (contexture.parallel);
    # every random draw is made first, so the table does not depend on the count. One
    # thread per 1,000 patients, at most 8 (common.smk): the 300 default replicates cost
    # ~8.5 CPU-s per 1,000 patients, too little to hold a second core for (docs/scale.md).
    threads: threads_by_table_rows("patients", 1000)
    resources:
        mem_mb=lambda wildcards, threads: 1000 + 500 * threads,
        runtime=30,
    params:
        options=lambda wc: response_options(wc.cohort)["classifier"],
        seed=lambda wc: cohort_config(wc.cohort).get("simulate", {}).get("seed", 0),
    script:
        "../scripts/response_classifier.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "recist",
        "results/{cohort}/tables/classifier.tsv",
        "results/{cohort}/figures/response_classifier_roc.png",
    )
)
