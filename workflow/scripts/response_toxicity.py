"""irAE grade against baseline biomarkers and organ uptake change (contexture.toxicity.analysis)."""

import logging

from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.toxicity.analysis import toxicity_analysis, toxicity_figure


def main(smk):
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    patients = read_table(smk.input.patients, "results/tables/patients")
    references = read_table(smk.input.references[0], "results/pet/reference_regions") if smk.input.references else None
    options = dict(smk.params.options)
    table, plot, changes = toxicity_analysis(patients, references, options)
    write_table(table, smk.output.table)
    write_table(changes, smk.output.organ_changes)
    fig, data = toxicity_figure(plot, table, options["severe_grade"])
    save_figure(fig, smk.output.figure, data)


run(main, snakemake)
