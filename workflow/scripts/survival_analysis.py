"""Kaplan-Meier, log-rank, Cox and follow-up tables from tables/patients.tsv (contexture.survival.analyse_cohort)."""

from contexture import survival
from contexture.io import read_table, write_table
from contexture.runner import run


def main(smk):
    patients = read_table(smk.input.patients, "results/tables/patients")
    tables = survival.analyse_cohort(patients, smk.params.options)
    for name in ("km", "logrank", "cox", "followup", "curves"):
        write_table(tables[name], smk.output[name])


run(main, snakemake)
