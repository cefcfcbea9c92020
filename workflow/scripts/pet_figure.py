"""One figure of the PET analyses with its source data (contexture.pet.model_figure)."""

from contexture import pet
from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    lesions = read_table(smk.input.lesions, "results/tables/lesions")
    patients = read_table(smk.input.patients, "results/tables/patients")
    slides = read_table(smk.input.slides, "results/tables/ihc_slides") if "slides" in smk.input.keys() else None
    options, labels = dict(smk.params.options), dict(smk.params.labels)
    fig, source = pet.model_figure(smk.params.figure, lesions, patients, options, slides, labels)
    save_figure(fig, smk.output.png, source)


run(main, snakemake)
