"""Check every input of a real cohort; write inputs.tsv and what the stages need parsed (contexture.inputs)."""

from pathlib import Path

from contexture.inputs import validate_cohort_inputs
from contexture.io import write_table
from contexture.io.rcc import write_rcc_set
from contexture.runner import run


def main(smk):
    parsed = {}
    write_table(validate_cohort_inputs(smk.wildcards.cohort, dict(smk.params.cohort), parsed), smk.output.table)
    folder = Path(smk.output.parsed)
    folder.mkdir(parents=True, exist_ok=True)
    if "nanostring" in parsed:
        write_rcc_set(parsed["nanostring"], folder)


run(main, snakemake)
