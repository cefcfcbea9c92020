"""Kaplan-Meier, log-rank, Cox and follow-up tables from tables/patients.tsv (contexture.survival.analysis)."""

from contexture.io import read_table, write_table
from contexture.runner import run
from contexture.survival.analysis import SurvivalOptions, analyse


def main(smk):
    patients = read_table(smk.input.patients, "results/tables/patients")
    tables = analyse(patients, SurvivalOptions.from_config(smk.params.options))
    for name in ("km", "logrank", "cox", "followup", "curves"):
        write_table(tables[name], smk.output[name])


run(main, snakemake)
