"""Draw the simulated cohort's latent patients and lesions; write the clinical table."""

from pathlib import Path

from contexture.runner import run
from contexture.simulate import write_latent_cohort


def main(smk):
    write_latent_cohort(Path(smk.output.clinical).parent, smk.params.patients, smk.params.seed)


run(main, snakemake)
