"""Score gene signatures per sample and run; coverage table; patient-level Immunosign columns (contexture.signatures.score_cohort)."""

from contexture import signatures
from contexture.io import read_table, write_table
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression
from contexture.signatures.scores import read_signature


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    files = [read_signature(path) for path in smk.input.signatures]
    p = smk.params
    below_lod = signatures.detection_limits(  # per run: each run's genes, its lanes' limits
        read_table(smk.input.raw_counts, "results/nanostring/raw_counts"),
        read_table(smk.input.lanes, "results/nanostring/lanes"),
        samples,
    )
    result = signatures.score_cohort(
        expression,
        samples,
        files,
        immunosign=p.immunosign,
        min_gene_fraction=p.min_gene_fraction,
        on_insufficient=p.on_insufficient,
        low_quantile=p.low_quantile,
        log_base=p.log_base,
        allow_partial_weighted=p.allow_partial_weighted,
        below_lod=below_lod,
        below_lod_warn_fraction=p.below_lod_warn_fraction,
        exclude_below_lod=p.exclude_below_lod,
        exclude_below_lod_fraction=p.exclude_below_lod_fraction,
    )
    write_table(result.scores, smk.output.scores)
    write_table(result.coverage, smk.output.coverage)
    write_table(result.features, smk.output.features)


run(main, snakemake)
