"""QC figures of the NanoString stage (contexture.nanostring.figures)."""

import numpy as np

from contexture.io import read_table
from contexture.io.rcc import POSITIVE_CONCENTRATIONS
from contexture.nanostring import figures
from contexture.nanostring.normalization import QCThresholds
from contexture.plotting import save_figure
from contexture.runner import run


def save(figure_and_data, path):
    fig, source = figure_and_data
    save_figure(fig, path, source)


def main(smk):
    lanes = read_table(smk.input.lanes, "results/nanostring/lanes")
    raw = read_table(smk.input.raw_counts, "results/nanostring/raw_counts")
    raw.columns = [str(c) for c in raw.columns]
    normalized = read_table(smk.input.normalized, "results/nanostring/normalized")
    normalized.columns = [str(c) for c in normalized.columns]
    t = QCThresholds.from_config(smk.params.qc)
    out = smk.output
    save(figures.binding_density_figure(lanes, t.binding_density_min), out.binding_density)
    save(figures.imaging_figure(lanes, t.imaging_min_fov_ratio), out.imaging)
    save(figures.positive_linearity_figure(raw, lanes, POSITIVE_CONCENTRATIONS), out.linearity)
    save(figures.factors_figure(lanes, t.positive_factor_range, t.housekeeping_factor_range), out.factors)
    included = [s for s in normalized.columns[1:]]
    genes = ~raw["code_class"].astype(str).str.startswith(("Positive", "Negative"))
    before = raw.loc[genes, ["name", *included]].copy()
    before[included] = np.log2(np.maximum(before[included].astype(float), 1.0))
    save(figures.rle_figure(before, normalized, smk.params.method), out.rle)


run(main, snakemake)
