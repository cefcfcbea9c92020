"""QC figures of the NanoString stage (contexture.nanostring.qc_figures)."""

from contexture import nanostring
from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    lanes = read_table(smk.input.lanes, "results/nanostring/lanes")
    raw = read_table(smk.input.raw_counts, "results/nanostring/raw_counts")
    raw.columns = [str(c) for c in raw.columns]
    normalized = read_table(smk.input.normalized, "results/nanostring/normalized")
    normalized.columns = [str(c) for c in normalized.columns]
    figures = nanostring.qc_figures(lanes, raw, normalized, qc=smk.params.qc, method=smk.params.method)
    for name, (fig, source) in figures.items():
        save_figure(fig, smk.output[name], source)


run(main, snakemake)
