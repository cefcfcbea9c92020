# Toxicity stage: immune-related adverse events (irAE) against baseline biomarkers, and
# reference-region uptake change in organs with an irAE (contexture.toxicity.analysis).
# Options come from the cohort's `response.toxicity` section (response_options, response.smk).


# irAE grade (severe vs not) against baseline biomarkers; header-only table when too few events.
rule response_toxicity:
    input:
        patients="results/{cohort}/tables/patients.tsv",
        references=lambda wc: when_modality(
            wc.cohort, "pet", "results/{cohort}/pet/reference_regions.tsv"
        ),
    output:
        table=report(
            "results/{cohort}/tables/toxicity.tsv",
            caption="../report/toxicity.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("toxicity.tsv"),
        ),
        organ_changes="results/{cohort}/response/toxicity_organ_uptake_change.tsv",
        figure=report(
            "results/{cohort}/figures/toxicity_biomarkers.png",
            caption="../report/toxicity_biomarkers.rst",
            category="Response",
            subcategory="{cohort}",
            labels=report_labels("toxicity_biomarkers.png"),
        ),
    log:
        "results/{cohort}/logs/response_toxicity.log",
    benchmark:
        "results/{cohort}/benchmarks/response_toxicity.tsv"
    # One of the longest jobs after the patient table (~1.6 s in the demo). Among equal
    # priorities the greedy scheduler starts the largest inputs first, which put this
    # small-input job last: it ran alone while the bundle waited for it (docs/scale.md).
    priority: 1
    conda:
        "../../envs/response.yaml"
    params:
        options=lambda wc: response_options(wc.cohort)["toxicity"],
        labels=lambda wc: figure_labels(wc.cohort),
    script:
        "../scripts/response_toxicity.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "clinical",
        "results/{cohort}/tables/toxicity.tsv",
        "results/{cohort}/figures/toxicity_biomarkers.png",
    )
)
