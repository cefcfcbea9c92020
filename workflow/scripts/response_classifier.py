"""Cross-validated response classifier from baseline features (contexture.response.classify)."""

from contexture import response
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    patients = read_table(smk.input.patients, "results/tables/patients")
    table, (fig, data) = response.classify(patients, dict(smk.params.options), smk.params.seed, threads=smk.threads)
    write_table(table, smk.output.table)
    save_figure(fig, smk.output.roc, data)


run(main, snakemake)
