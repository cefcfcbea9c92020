"""Biodistribution and dose-comparison tables and figure (contexture.pet.biodistribution_analysis)."""

from contexture import pet
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    references = read_table(smk.input.reference_regions, "results/pet/reference_regions")
    table, comparison, (figure, source) = pet.biodistribution_analysis(references, smk.params.options)
    write_table(table, smk.output.table)
    write_table(comparison, smk.output.comparison)
    save_figure(figure, smk.output.figure, source)


run(main, snakemake)
