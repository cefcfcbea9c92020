# The demo cohort: raw files generated deterministically from a seed (contexture.simulate).
# This rule draws the latent patients and lesions and writes the clinical table; each
# modality's stage file adds a rule that writes that modality's raw files from the truth.


rule simulate_cohort:
    output:
        clinical="results/{cohort}/raw/clinical.tsv",
        latent_patients="results/{cohort}/raw/truth/patients.tsv",
        latent_lesions="results/{cohort}/raw/truth/lesions.tsv",
        truth="results/{cohort}/raw/truth.yaml",
    log:
        "results/{cohort}/logs/simulate_cohort.log",
    benchmark:
        "results/{cohort}/benchmarks/simulate_cohort.tsv"
    # Upstream of the patient table: runs before jobs that are not (docs/scale.md).
    priority: 1
    conda:
        "../../envs/core.yaml"
    params:
        patients=lambda wc: cohort_config(wc.cohort)["simulate"]["patients"],
        seed=lambda wc: cohort_config(wc.cohort)["simulate"]["seed"],
    script:
        "../scripts/simulate_cohort.py"
