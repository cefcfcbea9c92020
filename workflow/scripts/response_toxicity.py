"""irAE grade against baseline biomarkers and organ uptake change (contexture.toxicity.analyse)."""

from contexture import toxicity
from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    patients = read_table(smk.input.patients, "results/tables/patients")
    references = read_table(smk.input.references[0], "results/pet/reference_regions") if smk.input.references else None
    table, changes, (fig, data) = toxicity.analyse(patients, references, dict(smk.params.options), smk.params.labels)
    write_table(table, smk.output.table)
    write_table(changes, smk.output.organ_changes)
    save_figure(fig, smk.output.figure, data)


run(main, snakemake)
