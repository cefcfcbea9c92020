"""Write the simulated cohort's RCC files, sample sheet and truth (contexture.simulate.nanostring)."""

from pathlib import Path

from contexture.runner import run
from contexture.simulate.nanostring import write_nanostring


def main(smk):
    write_nanostring(smk.input.latent_patients, Path(smk.output.samples).parent, smk.params.seed)


run(main, snakemake)
