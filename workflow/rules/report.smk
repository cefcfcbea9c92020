# Publishing: the provenance manifest, the methods text and the citable bundle of a cohort.


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
