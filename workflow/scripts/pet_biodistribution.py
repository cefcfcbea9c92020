"""Biodistribution and dose-comparison tables and figure (contexture.pet.biodistribution)."""

from contexture.io import read_table, write_table
from contexture.pet import biodistribution
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    references = read_table(smk.input.reference_regions, "results/pet/reference_regions")
    table = biodistribution.biodistribution_table(references, smk.params.options)
    comparison = biodistribution.dose_comparison(references, smk.params.options)
    write_table(table, smk.output.table)
    write_table(comparison, smk.output.comparison)
    data = biodistribution.prepare_reference_regions(references)
    figure, source = biodistribution.biodistribution_figure(table, data)
    save_figure(figure, smk.output.figure, source)


run(main, snakemake)
