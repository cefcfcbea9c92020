"""Spearman correlations of chemokine/cytokine genes with T-cell genes at baseline."""

from contexture.io import write_table
from contexture.io.validation import read_validated_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.signatures.expression import (
    correlation_figure,
    patient_means,
    read_analysis_expression,
    read_gene_list,
    spearman_correlations,
)


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    baseline = patient_means(expression, samples, smk.params.timepoint)
    genes = read_gene_list(read_validated_table(smk.input.genes, "tables/gene_list"), file=str(smk.input.genes))
    tcell = read_gene_list(
        read_validated_table(smk.input.tcell_genes, "tables/gene_list"), file=str(smk.input.tcell_genes)
    )
    correlations = spearman_correlations(baseline, genes, tcell)
    write_table(correlations, smk.output.correlations)
    fig, source = correlation_figure(correlations, alpha=smk.params.fdr_alpha)
    save_figure(fig, smk.output.figure[0], source)


run(main, snakemake)
