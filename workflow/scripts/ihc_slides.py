"""QuPath exports (or a density table) -> per-slide densities, phenotypes, Immunoscore (contexture.ihc.analyse_slides)."""

from contexture import ihc
from contexture.io import write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    result = ihc.analyse_slides(
        smk.params.options,
        raw=smk.input.get("raw"),
        slides=smk.input.get("slides"),
        densities=smk.input.get("densities"),
        reference=smk.input.get("reference"),
        threads=smk.threads,
    )
    write_table(result.slides, smk.output.slides)
    write_table(result.features, smk.output.features)
    write_table(result.paired, smk.output.paired)
    write_table(result.paired_test, smk.output.paired_test)
    for name in ("density_figure", "immunoscore_figure", "cell_map"):
        fig, source = getattr(result, name)
        save_figure(fig, smk.output[name], source)


run(main, snakemake)
