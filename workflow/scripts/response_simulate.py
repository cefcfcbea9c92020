"""Write the simulated RECIST measurement table from the latent truth (contexture.simulate.recist)."""

from contexture.io import read_table, write_table
from contexture.runner import run
from contexture.simulate.recist import simulate_recist


def main(smk):
    latent = read_table(smk.input.latent_patients, "results/raw/truth/patients")
    lesions = read_table(smk.input.latent_lesions, "results/raw/truth/lesions")
    table, expected = simulate_recist(latent, lesions, smk.params.seed)
    write_table(table, smk.output.recist)
    write_table(expected, smk.output.expected)


run(main, snakemake)
