# PET stage: demo images from the latent truth, then SUV quantification per lesion
# (contexture.pet.suv, contexture.pet.quantify; methods in docs/pet.md).


include: "functions/pet.smk"


rule simulate_pet:
    input:
        latent_patients="results/{cohort}/raw/truth/patients.tsv",
        latent_lesions="results/{cohort}/raw/truth/lesions.tsv",
    output:
        scans="results/{cohort}/raw/pet/scans.tsv",
        images=directory("results/{cohort}/raw/pet/images"),
    log:
        "results/{cohort}/logs/simulate_pet.log",
    benchmark:
        "results/{cohort}/benchmarks/simulate_pet.tsv"
    # The heavy chain to the patient table first: a job asking for several cores
    # starts only when they are all free, so it must not queue behind short jobs.
    priority: 2
    conda:
        "../../envs/pet.yaml"
    # Random numbers drawn first in one pass, then one scan per thread built and written in
    # its own process (contexture.parallel); the files do not depend on the count. One
    # thread per 100 patients, at most 8 (common.smk).
    threads: threads_by_simulated_patients(100)
    resources:
        # Each worker one 64x64x48 scan and its DICOM series (~0.3 GB resident).
        mem_mb=lambda wildcards, threads: 1000 + 500 * threads,
        runtime=30,
    params:
        seed=lambda wc: cohort_config(wc.cohort)["simulate"]["seed"],
        dose_finding_patients=lambda wc: pet_dose_finding_patients(wc.cohort),
    script:
        "../scripts/pet_simulate.py"


rule pet_quantify:
    input:
        unpack(pet_quantify_inputs),
        validated=validation_marker,
    output:
        lesions=report(
            "results/{cohort}/tables/lesions.tsv",
            caption="../report/lesions.rst",
            category="PET",
            subcategory="{cohort}",
            labels=report_labels("lesions.tsv"),
        ),
        reference_regions="results/{cohort}/pet/reference_regions.tsv",
        scans="results/{cohort}/pet/scans.tsv",
        features="results/{cohort}/pet/patient_features.tsv",
    log:
        "results/{cohort}/logs/pet_quantify.log",
    benchmark:
        "results/{cohort}/benchmarks/pet_quantify.tsv"
    # The heavy chain to the patient table first: a job asking for several cores
    # starts only when they are all free, so it must not queue behind short jobs.
    priority: 2
    conda:
        "../../envs/pet.yaml"
    # One scan per thread at a time, each in its own process (contexture.parallel); the
    # tables do not depend on the count. One thread per 50 MB of images, at most 8
    # (common.smk); capped by --cores; set-threads in a profile changes it.
    threads: threads_by_input_megabytes(50)
    resources:
        # The parent holds the tables; each worker one volume (~0.6 GB at 200x200x300, docs/scale.md).
        mem_mb=lambda wildcards, threads: 2000 + 1000 * threads,
        runtime=120,
    params:
        half_life_hours=lambda wc: pet_options(wc.cohort)["half_life_hours"],
        peak_volume_ml=lambda wc: pet_options(wc.cohort)["peak_volume_ml"],
        fov_tolerance_voxels=lambda wc: pet_options(wc.cohort)["fov_tolerance_voxels"],
        lean_body_mass=lambda wc: pet_options(wc.cohort)["lean_body_mass"],
        adopt_pet_grid_for_unoriented_masks=lambda wc: pet_options(wc.cohort)[
            "adopt_pet_grid_for_unoriented_masks"
        ],
        uptake_window_hours=lambda wc: pet_options(wc.cohort)["uptake_window_hours"],
        image_voxels=lambda wc: cohort_limits(wc.cohort)["image_voxels"],
        voi_columns=lambda wc: pet_options(wc.cohort).get("columns", {}),
    script:
        "../scripts/pet_quantify.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "pet",
        "results/{cohort}/tables/lesions.tsv",
        "results/{cohort}/pet/reference_regions.tsv",
        "results/{cohort}/pet/patient_features.tsv",
    )
)
PATIENT_FEATURE_PROVIDERS.append(
    lambda cohort: (
        [("pet", f"results/{cohort}/pet/patient_features.tsv")]
        if has_modality(cohort, "pet")
        else []
    )
)


# Statistical analyses of the study: mixed models on log SUVmax (contexture.pet.models).
rule pet_models:
    input:
        unpack(pet_models_inputs),
    output:
        table=report(
            "results/{cohort}/tables/pet_models.tsv",
            caption="../report/pet_models.rst",
            category="PET",
            subcategory="{cohort}",
            labels=report_labels("pet_models.tsv"),
        ),
    log:
        "results/{cohort}/logs/pet_models.log",
    benchmark:
        "results/{cohort}/benchmarks/pet_models.tsv"
    conda:
        "../../envs/pet.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        options=lambda wc: cohort_config(wc.cohort)["pet_analysis"],
    script:
        "../scripts/pet_models.py"


# One rule per PET figure, so that a figure whose grouping column the cohort lacks (dMMR,
# IHC phenotype, best response) is neither made nor listed (pet_figures_available).
# Rule names: <figure>_figure.
for pet_figure in PET_MODEL_FIGURES:

    rule:
        name:
            f"{pet_figure}_figure"
        input:
            unpack(pet_models_inputs),
        output:
            png=report(
                f"results/{{cohort}}/figures/{pet_figure}.png",
                caption=f"../report/{pet_figure}.rst",
                category="PET",
                subcategory="{cohort}",
                labels=report_labels(f"{pet_figure}.png"),
            ),
        log:
            f"results/{{cohort}}/logs/{pet_figure}_figure.log",
        conda:
            "../../envs/pet.yaml"
        params:
            figure=pet_figure,
            options=lambda wc: cohort_config(wc.cohort)["pet_analysis"],
            labels=lambda wc: figure_labels(wc.cohort),
        script:
            "../scripts/pet_figure.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: when_modality(
        cohort,
        "pet",
        "results/{cohort}/tables/pet_models.tsv",
        *[
            f"results/{{cohort}}/figures/{name}.png"
            for name in pet_figures_available(cohort)
        ],
    )
)


# Biodistribution and dose finding (89ZED88082A part A) from the reference regions of
# scans with days_post_injection (contexture.pet.biodistribution; docs/pet.md).
rule pet_biodistribution:
    input:
        reference_regions="results/{cohort}/pet/reference_regions.tsv",
    output:
        table="results/{cohort}/tables/pet_biodistribution.tsv",
        comparison="results/{cohort}/tables/pet_dose_comparison.tsv",
        figure="results/{cohort}/figures/pet_biodistribution.png",
    log:
        "results/{cohort}/logs/pet_biodistribution.log",
    conda:
        "../../envs/pet.yaml"
    params:
        options=lambda wc: pet_options(wc.cohort).get("biodistribution", {}),
    script:
        "../scripts/pet_biodistribution.py"


OUTPUT_PROVIDERS.append(
    lambda cohort: (
        [
            f"results/{cohort}/tables/pet_biodistribution.tsv",
            f"results/{cohort}/tables/pet_dose_comparison.tsv",
            f"results/{cohort}/figures/pet_biodistribution.png",
        ]
        if pet_has_dose_finding(cohort)
        else []
    )
)
