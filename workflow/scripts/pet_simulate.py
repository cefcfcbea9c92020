"""Write the simulated cohort's PET images, masks, labels and scans table (contexture.simulate.pet)."""

from pathlib import Path

from contexture.io import read_table
from contexture.runner import run
from contexture.simulate.pet import write_pet_raw


def main(smk):
    write_pet_raw(
        read_table(smk.input.latent_patients, "results/raw/truth/patients"),
        read_table(smk.input.latent_lesions, "results/raw/truth/lesions"),
        Path(smk.output.scans).parent,
        smk.params.seed,
        dose_finding_patients=smk.params.dose_finding_patients,
        threads=smk.threads,
    )


run(main, snakemake)
