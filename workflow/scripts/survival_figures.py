"""KM panels per endpoint and the Cox forest plot, with their source data (contexture.survival.figures)."""

from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.survival.figures import forest_figure, km_figure


def main(smk):
    km = read_table(smk.input.km, "results/tables/survival_km")
    logrank = read_table(smk.input.logrank, "results/tables/survival_logrank")
    cox = read_table(smk.input.cox, "results/tables/survival_cox")
    curves = read_table(smk.input.curves, "results/survival/km_curves")
    for endpoint in ("pfs", "os"):
        fig, source = km_figure(curves, km, logrank, endpoint)
        save_figure(fig, smk.output[f"km_{endpoint}"], source)
    fig, source = forest_figure(cox)
    save_figure(fig, smk.output.forest, source)


run(main, snakemake)
