"""PET statistical analyses and figures (contexture.pet.fit_models)."""

from pathlib import Path

from contexture import pet
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    lesions = read_table(smk.input.lesions, "results/tables/lesions")
    patients = read_table(smk.input.patients, "results/tables/patients")
    slides = read_table(smk.input.slides, "results/tables/ihc_slides") if "slides" in smk.input.keys() else None
    table, figures = pet.fit_models(lesions, patients, dict(smk.params.options), slides)
    write_table(table, smk.output.table)
    for path in smk.output.figures:
        fig, source = figures[Path(path).stem]
        save_figure(fig, path, source)


run(main, snakemake)
