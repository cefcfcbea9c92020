# CD8 IHC stage: QuPath exports (or a density table) -> per-slide densities, immune
# phenotype, Immunoscore, spatial measures; patient features; SUVmax correlation when
# the cohort has PET. Methods: docs/ihc.md and contexture.ihc.


include: "functions/ihc.smk"


rule simulate_ihc:
    input:
        patients="results/{cohort}/raw/truth/patients.tsv",
        lesions="results/{cohort}/raw/truth/lesions.tsv",
    output:
        raw=directory("results/{cohort}/raw/ihc"),
    log:
        "results/{cohort}/logs/simulate_ihc.log",
    benchmark:
        "results/{cohort}/benchmarks/simulate_ihc.tsv"
    # The heavy chain to the patient table first: a job asking for several cores
    # starts only when they are all free, so it must not queue behind short jobs.
    priority: 2
    conda:
        "../../envs/ihc.yaml"
    # One slide per thread (each its own random stream), in its own process; the files do
    # not depend on the count. One thread per 100 patients, at most 8 (common.smk).
    threads: threads_by_simulated_patients(100)
    resources:
        # Each worker one slide's cells (~0.2 GB resident).
        mem_mb=lambda wildcards, threads: 1000 + 500 * threads,
        runtime=30,
    params:
        seed=lambda wc: cohort_config(wc.cohort)["simulate"]["seed"],
    script:
        "../scripts/ihc_simulate.py"


rule ihc:
    input:
        unpack(ihc_inputs),
        validated=validation_marker,
    output:
        slides=report(
            "results/{cohort}/tables/ihc_slides.tsv",
            caption="../report/ihc_slides.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_slides.tsv"),
        ),
        features="results/{cohort}/ihc/patient_features.tsv",
        paired="results/{cohort}/tables/ihc_paired_change.tsv",
        paired_test="results/{cohort}/tables/ihc_paired_change_test.tsv",
        density_figure=report(
            "results/{cohort}/figures/ihc_cd8_density_by_phenotype.png",
            caption="../report/ihc_cd8_density_by_phenotype.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_cd8_density_by_phenotype.png"),
        ),
        immunoscore_figure=report(
            "results/{cohort}/figures/ihc_immunoscore_distribution.png",
            caption="../report/ihc_immunoscore_distribution.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_immunoscore_distribution.png"),
        ),
        cell_map=report(
            "results/{cohort}/figures/ihc_cell_map.png",
            caption="../report/ihc_cell_map.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_cell_map.png"),
        ),
    log:
        "results/{cohort}/logs/ihc.log",
    benchmark:
        "results/{cohort}/benchmarks/ihc.tsv"
    # The heavy chain to the patient table first: a job asking for several cores
    # starts only when they are all free, so it must not queue behind short jobs.
    priority: 2
    conda:
        "../../envs/ihc.yaml"
    # One slide (block of serial sections) per thread at a time, each in its own process
    # (contexture.parallel); the tables do not depend on the count. One thread per 20 MB of
    # exports, at most 8 (common.smk); capped by --cores.
    threads: threads_by_input_megabytes(20)
    resources:
        # Each worker holds one slide's cells (~0.6 GB at 1,000,000 cells, docs/scale.md).
        mem_mb=lambda wildcards, threads: 2000 + 1000 * threads,
        runtime=60,
    params:
        options=lambda wc: ihc_options(wc.cohort),
    script:
        "../scripts/ihc_slides.py"


rule ihc_pet_correlation:
    input:
        slides="results/{cohort}/tables/ihc_slides.tsv",
        lesions="results/{cohort}/tables/lesions.tsv",
    output:
        table=report(
            "results/{cohort}/tables/ihc_pet_correlation.tsv",
            caption="../report/ihc_pet_correlation.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_pet_correlation.tsv"),
        ),
        figure=report(
            "results/{cohort}/figures/ihc_suvmax_vs_cd8_density.png",
            caption="../report/ihc_suvmax_vs_cd8_density.rst",
            category="IHC",
            subcategory="{cohort}",
            labels=report_labels("ihc_suvmax_vs_cd8_density.png"),
        ),
    log:
        "results/{cohort}/logs/ihc_pet_correlation.log",
    conda:
        "../../envs/ihc.yaml"
    params:
        densities=["cd8_density_tumor", "cd8_density_overall"],
        options=lambda wc: ihc_options(wc.cohort).get("pet_correlation", {}),
        exclude_irradiated=lambda wc: cohort_config(wc.cohort)["pet_analysis"][
            "exclude_irradiated"
        ],
        seed=lambda wc: cohort_config(wc.cohort).get("simulate", {}).get("seed", 0),
        labels=lambda wc: figure_labels(wc.cohort),
    script:
        "../scripts/ihc_pet_correlation.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "ihc",
        "results/{cohort}/tables/ihc_slides.tsv",
        "results/{cohort}/tables/ihc_paired_change.tsv",
        "results/{cohort}/figures/ihc_cd8_density_by_phenotype.png",
        "results/{cohort}/figures/ihc_immunoscore_distribution.png",
        "results/{cohort}/figures/ihc_cell_map.png",
    )
)
OUTPUT_PROVIDERS.append(ihc_pet_correlation_outputs)
PATIENT_FEATURE_PROVIDERS.append(
    lambda cohort: (
        [("ihc", f"results/{cohort}/ihc/patient_features.tsv")]
        if has_modality(cohort, "ihc")
        else []
    )
)
