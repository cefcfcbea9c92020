"""Score gene signatures per sample; coverage table; patient-level Immunosign columns."""

from contexture.errors import ConfigError
from contexture.io import write_table
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression
from contexture.signatures.scores import assign_groups, patient_features, read_signature, score_signatures, sort_scores


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    signatures = [read_signature(path) for path in smk.input.signatures]
    names = [s.name for s in signatures]
    if smk.params.immunosign not in names:
        raise ConfigError(f"signatures.immunosign '{smk.params.immunosign}' is not among signatures.use {names}")
    scores, coverage = score_signatures(
        expression,
        samples,
        signatures,
        min_fraction=smk.params.min_gene_fraction,
        on_insufficient=smk.params.on_insufficient,
        log_base=smk.params.log_base,
    )
    scores, cuts = assign_groups(scores, smk.params.low_quantile)
    coverage["low_quantile"] = smk.params.low_quantile
    coverage["low_cut"] = coverage["signature"].map(cuts)
    write_table(sort_scores(scores, names), smk.output.scores)
    write_table(coverage, smk.output.coverage)
    features = patient_features(
        scores, smk.params.immunosign, smk.params.low_quantile, patients=sorted(set(samples["patient_id"]))
    )
    write_table(features, smk.output.features)


run(main, snakemake)
