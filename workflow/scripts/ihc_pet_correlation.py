"""Kendall's tau-b between CD8+ density of biopsied lesions and their PET SUVmax (contexture.ihc.analyse_pet)."""

from contexture import ihc
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    slides = read_table(smk.input.slides, "results/tables/ihc_slides")
    lesions = read_table(smk.input.lesions, "results/tables/lesions")
    correlation, (fig, source) = ihc.analyse_pet(
        slides,
        lesions,
        smk.params.densities,
        smk.params.options,
        exclude_irradiated=smk.params.exclude_irradiated,
        seed=smk.params.seed,
        labels=smk.params.labels,
    )
    write_table(correlation, smk.output.table)
    save_figure(fig, smk.output.figure, source)


run(main, snakemake)
