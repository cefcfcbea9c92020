"""Validate the clinical table and derive follow-up (contexture.clinical)."""

from contexture.clinical import derive_follow_up
from contexture.io import write_table
from contexture.runner import run
from contexture.validation import read_validated_table


def main(smk):
    path = smk.input.clinical
    table = read_validated_table(path, "tables/clinical", what="clinical table")
    write_table(derive_follow_up(table, file=str(path)), smk.output.clinical)


run(main, snakemake)
