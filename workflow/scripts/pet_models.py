"""PET statistical analyses and figures (contexture.pet.models, contexture.pet.figures)."""

from pathlib import Path

from contexture.io import read_table, write_table
from contexture.pet.figures import pet_model_figures
from contexture.pet.models import run_pet_models
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    lesions = read_table(smk.input.lesions, "results/tables/lesions")
    patients = read_table(smk.input.patients, "results/tables/patients")
    options = dict(smk.params.options)
    write_table(run_pet_models(lesions, patients, options), smk.output.table)
    figures = pet_model_figures(lesions, patients, options)
    for path in smk.output.figures:
        fig, source = figures[Path(path).stem]
        save_figure(fig, path, source)


run(main, snakemake)
