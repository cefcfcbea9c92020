"""PET statistical analyses (contexture.pet.fit_models)."""

from contexture import pet
from contexture.io import read_table, write_table
from contexture.runner import run


def main(smk):
    lesions = read_table(smk.input.lesions, "results/tables/lesions")
    patients = read_table(smk.input.patients, "results/tables/patients")
    slides = read_table(smk.input.slides, "results/tables/ihc_slides") if "slides" in smk.input.keys() else None
    write_table(pet.fit_models(lesions, patients, dict(smk.params.options), slides), smk.output.table)


run(main, snakemake)
