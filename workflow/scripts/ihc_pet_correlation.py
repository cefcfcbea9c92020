"""Kendall's tau-b between CD8+ density of biopsied lesions and their PET SUVmax."""

from contexture.ihc import figures
from contexture.ihc.pet import pair_with_lesions, pet_correlation
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def save(figure_and_source, path):
    fig, source = figure_and_source
    save_figure(fig, path, source)


def main(smk):
    pairs = pair_with_lesions(
        read_table(smk.input.slides, "results/tables/ihc_slides"),
        read_table(smk.input.lesions, "results/tables/lesions"),
    )
    correlation = pet_correlation(pairs, smk.params.densities)
    write_table(correlation, smk.output.table)
    save((figures.suvmax_vs_density(pairs, correlation, smk.params.densities[0])), smk.output.figure)


run(main, snakemake)
