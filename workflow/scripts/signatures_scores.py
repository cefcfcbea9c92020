"""Score gene signatures per sample; coverage table; patient-level Immunosign columns (contexture.signatures.score_cohort)."""

from contexture import signatures
from contexture.io import write_table
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression
from contexture.signatures.scores import read_signature


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    files = [read_signature(path) for path in smk.input.signatures]
    p = smk.params
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
    )
    write_table(result.scores, smk.output.scores)
    write_table(result.coverage, smk.output.coverage)
    write_table(result.features, smk.output.features)


run(main, snakemake)
