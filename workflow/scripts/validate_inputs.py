"""Check every input of a real cohort; write inputs.tsv and what the stages need parsed (contexture.inputs)."""

from pathlib import Path

from contexture.inputs import validate_cohort_inputs
from contexture.io import write_table
from contexture.io.rcc import write_rcc_set
from contexture.nanostring import parsed_run_folder
from contexture.runner import run


def main(smk):
    parsed = {}
    write_table(validate_cohort_inputs(smk.wildcards.cohort, dict(smk.params.cohort), parsed), smk.output.table)
    folder = Path(smk.output.parsed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rccs in parsed.get("nanostring", {}).items():  # one merged set per run
        write_rcc_set(rccs, parsed_run_folder(folder, name))


run(main, snakemake)
