"""Waterfall, spider and swimmer plots of the RECIST results (contexture.response.response_figures)."""

from contexture import response
from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    timepoints = read_table(smk.input.timepoints, "results/tables/recist_timepoints")
    features = read_table(smk.input.features, "results/response/patient_features")
    for frame in (timepoints, features):
        frame["patient_id"] = frame["patient_id"].astype(str)
    clinical = read_table(smk.input.clinical, "results/clinical/clinical") if "clinical" in smk.input.keys() else None
    for name, (fig, data) in response.response_figures(timepoints, features, clinical, smk.params.labels).items():
        save_figure(fig, smk.output[name], data)


run(main, snakemake)
