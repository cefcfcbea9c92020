# Publishing: data availability, the provenance manifest, the methods text and the
# citable bundle of a cohort.


include: "functions/report.smk"


rule data_availability:
    input:
        unpack(availability_inputs),
    output:
        table=report(
            "results/{cohort}/tables/data_availability.tsv",
            caption="../report/data_availability.rst",
            category="Cohort",
            subcategory="{cohort}",
            labels=report_labels("data_availability.tsv"),
        ),
        figure=report(
            "results/{cohort}/figures/cohort_overview.png",
            caption="../report/cohort_overview.rst",
            category="Cohort",
            subcategory="{cohort}",
            labels=report_labels("cohort_overview.png"),
        ),
    log:
        "results/{cohort}/logs/data_availability.log",
    conda:
        "../../envs/core.yaml"
    params:
        on_unknown_patient=lambda wc: config["cohorts"][wc.cohort]["on_unknown_patient"],
    script:
        "../scripts/data_availability.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: [
        f"results/{cohort}/tables/data_availability.tsv",
        f"results/{cohort}/figures/cohort_overview.png",
    ]
)


rule bundle:
    input:
        outputs=lambda wc: cohort_outputs(wc.cohort),
    output:
        bundle=directory("results/{cohort}/bundle"),
        archive="results/{cohort}/{cohort}_bundle.zip",
    log:
        "results/{cohort}/logs/bundle.log",
    conda:
        "../../envs/core.yaml"
    params:
        cohort_config=lambda wc: cohort_config(wc.cohort),
        inputs=lambda wc: manifest_inputs(wc.cohort),
        repository=workflow.basedir,
    script:
        "../scripts/bundle.py"
