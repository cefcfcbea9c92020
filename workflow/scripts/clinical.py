"""Validate the clinical table and derive follow-up (contexture.clinical.follow_up)."""

from contexture.clinical.follow_up import derive_follow_up
from contexture.io import write_table
from contexture.io.validation import read_validated_table
from contexture.runner import run


def main(smk):
    path = smk.input.clinical
    table = read_validated_table(path, "tables/clinical", what="clinical table")
    write_table(derive_follow_up(table, file=str(path)), smk.output.clinical)


run(main, snakemake)
