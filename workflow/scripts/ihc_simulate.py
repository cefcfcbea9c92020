"""Write the demo cohort's QuPath exports and slide sheet (contexture.simulate.ihc)."""

from contexture.io import read_table
from contexture.runner import run
from contexture.simulate.ihc import write_ihc


def main(smk):
    patients = read_table(smk.input.patients, "results/raw/truth/patients")
    lesions = read_table(smk.input.lesions, "results/raw/truth/lesions")
    write_ihc(patients, lesions, smk.output.raw, smk.params.seed, threads=smk.threads)


run(main, snakemake)
