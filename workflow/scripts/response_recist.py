"""RECIST 1.1 / iRECIST / SITC per patient and assessment, and response rates (contexture.response.assess)."""

from contexture import response
from contexture.io import read_table, write_table
from contexture.runner import run


def main(smk):
    path = str(smk.input.recist)
    options = dict(smk.params.options)
    measurements = response.read_measurements(path, options.get("units", "mm"))
    clinical = read_table(smk.input.clinical, "results/clinical/clinical") if "clinical" in smk.input.keys() else None
    timepoints, features, rates, selection = response.assess(measurements, clinical, options, file=path)
    write_table(timepoints, smk.output.timepoints)
    write_table(features, smk.output.features)
    write_table(rates, smk.output.rates)
    write_table(selection, smk.output.selection)


run(main, snakemake)
