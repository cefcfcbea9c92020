"""KM panels per endpoint and the Cox forest plot, with their source data (contexture.survival.survival_figures)."""

from contexture import survival
from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    km = read_table(smk.input.km, "results/tables/survival_km")
    logrank = read_table(smk.input.logrank, "results/tables/survival_logrank")
    cox = read_table(smk.input.cox, "results/tables/survival_cox")
    curves = read_table(smk.input.curves, "results/survival/km_curves")
    for name, (fig, source) in survival.survival_figures(km, logrank, cox, curves, smk.params.labels).items():
        save_figure(fig, smk.output[name], source)


run(main, snakemake)
