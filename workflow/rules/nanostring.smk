# NanoString nCounter stage: RCC files -> raw counts, lane QC, normalized expression, QC
# figures (contexture.io.rcc, contexture.nanostring.normalization; docs/nanostring.md). Simulated
# cohorts get their RCC files from simulate_nanostring. A cohort with several runs (CodeSets) is
# still one job: each run is normalized within itself and the tables carry a `run` column.


include: "functions/nanostring.smk"


rule simulate_nanostring:
    input:
        latent_patients="results/{cohort}/raw/truth/patients.tsv",
    output:
        rcc=directory("results/{cohort}/raw/nanostring/rcc"),
        samples="results/{cohort}/raw/nanostring/samples.tsv",
        lanes="results/{cohort}/raw/nanostring/lanes_truth.tsv",
        truth="results/{cohort}/raw/nanostring/truth.yaml",
    log:
        "results/{cohort}/logs/simulate_nanostring.log",
    benchmark:
        "results/{cohort}/benchmarks/simulate_nanostring.tsv"
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/nanostring.yaml"
    params:
        seed=lambda wc: cohort_config(wc.cohort)["simulate"]["seed"],
    script:
        "../scripts/nanostring_simulate.py"


rule nanostring:
    input:
        unpack(nanostring_inputs),
        validated=validation_marker,
    output:
        raw_counts="results/{cohort}/nanostring/raw_counts.tsv",
        lanes=report(
            "results/{cohort}/nanostring/lanes.tsv",
            caption="../report/lanes.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("lanes.tsv"),
        ),
        normalized="results/{cohort}/nanostring/normalized.tsv",
        samples="results/{cohort}/nanostring/samples.tsv",
    log:
        "results/{cohort}/logs/nanostring.log",
    benchmark:
        "results/{cohort}/benchmarks/nanostring.tsv"
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/nanostring.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        runs=lambda wc: nanostring_run_list(wc.cohort),
        qc=lambda wc: nanostring_option(wc.cohort, "qc"),
        exclude_failed=lambda wc: nanostring_option(wc.cohort, "exclude_failed"),
        housekeeping=lambda wc: nanostring_option(wc.cohort, "housekeeping"),
        method=lambda wc: nanostring_option(wc.cohort, "normalization")["method"],
        background=lambda wc: nanostring_option(wc.cohort, "normalization")[
            "background"
        ],
        background_mode=lambda wc: nanostring_option(wc.cohort, "normalization")[
            "background_mode"
        ],
        ruv_k=lambda wc: nanostring_option(wc.cohort, "normalization")["ruv_k"],
    script:
        "../scripts/nanostring.py"


rule nanostring_qc_figures:
    input:
        raw_counts="results/{cohort}/nanostring/raw_counts.tsv",
        lanes="results/{cohort}/nanostring/lanes.tsv",
        normalized="results/{cohort}/nanostring/normalized.tsv",
    output:
        binding_density=report(
            "results/{cohort}/figures/nanostring_binding_density.png",
            caption="../report/nanostring_binding_density.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("nanostring_binding_density.png"),
        ),
        imaging=report(
            "results/{cohort}/figures/nanostring_imaging.png",
            caption="../report/nanostring_imaging.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("nanostring_imaging.png"),
        ),
        linearity=report(
            "results/{cohort}/figures/nanostring_positive_control_linearity.png",
            caption="../report/nanostring_positive_control_linearity.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("nanostring_positive_control_linearity.png"),
        ),
        factors=report(
            "results/{cohort}/figures/nanostring_normalization_factors.png",
            caption="../report/nanostring_normalization_factors.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("nanostring_normalization_factors.png"),
        ),
        rle=report(
            "results/{cohort}/figures/nanostring_relative_log_expression.png",
            caption="../report/nanostring_relative_log_expression.rst",
            category="NanoString",
            subcategory="{cohort}",
            labels=report_labels("nanostring_relative_log_expression.png"),
        ),
    log:
        "results/{cohort}/logs/nanostring_qc_figures.log",
    conda:
        "../../envs/nanostring.yaml"
    params:
        qc=lambda wc: nanostring_option(wc.cohort, "qc"),
        method=lambda wc: nanostring_option(wc.cohort, "normalization")["method"],
    script:
        "../scripts/nanostring_figures.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "nanostring",
        "results/{cohort}/nanostring/raw_counts.tsv",
        "results/{cohort}/nanostring/lanes.tsv",
        "results/{cohort}/nanostring/normalized.tsv",
        "results/{cohort}/nanostring/samples.tsv",
        "results/{cohort}/figures/nanostring_binding_density.png",
        "results/{cohort}/figures/nanostring_imaging.png",
        "results/{cohort}/figures/nanostring_positive_control_linearity.png",
        "results/{cohort}/figures/nanostring_normalization_factors.png",
        "results/{cohort}/figures/nanostring_relative_log_expression.png",
    )
)
