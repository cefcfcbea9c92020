"""Waterfall, spider and swimmer plots of the RECIST results (contexture.response.figures)."""

from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.response import figures
from contexture.runner import run


def main(smk):
    timepoints = read_table(smk.input.timepoints, "results/tables/recist_timepoints")
    features = read_table(smk.input.features, "results/response/patient_features")
    clinical = read_table(smk.input.clinical, "results/clinical/clinical") if "clinical" in smk.input.keys() else None
    fig, data = figures.waterfall(features)
    save_figure(fig, smk.output.waterfall, data)
    fig, data = figures.spider(timepoints, features)
    save_figure(fig, smk.output.spider, data)
    fig, data = figures.swimmer(timepoints, features, clinical)
    save_figure(fig, smk.output.swimmer, data)


run(main, snakemake)
