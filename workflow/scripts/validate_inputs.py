"""Check every input of a real cohort before any analysis; write inputs.tsv (contexture.inputs)."""

from contexture.inputs import validate_cohort_inputs
from contexture.io import write_table
from contexture.runner import run


def main(smk):
    write_table(validate_cohort_inputs(smk.wildcards.cohort, dict(smk.params.cohort)), smk.output.table)


run(main, snakemake)
