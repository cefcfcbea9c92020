"""Spearman correlations of chemokine/cytokine genes with T-cell genes at baseline."""

from contexture.expression import (
    analysis_samples,
    correlation_figure,
    expression_matrix,
    patient_means,
    read_gene_list,
    spearman_correlations,
)
from contexture.io import read_input_table, read_table, write_table
from contexture.plotting import save_figure
from contexture.runner import run


def main(smk):
    expression = expression_matrix(read_table(smk.input.expression), file=str(smk.input.expression))
    samples = analysis_samples(
        read_input_table(smk.input.samples, what="sample table"), expression.columns, file=str(smk.input.samples)
    )
    baseline = patient_means(expression, samples, smk.params.timepoint)
    genes = read_gene_list(read_table(smk.input.genes), file=str(smk.input.genes))
    tcell = read_gene_list(read_table(smk.input.tcell_genes), file=str(smk.input.tcell_genes))
    correlations = spearman_correlations(baseline, genes, tcell)
    write_table(correlations, smk.output.correlations)
    fig, source = correlation_figure(correlations, alpha=smk.params.fdr_alpha)
    save_figure(fig, smk.output.figure[0], source)


run(main, snakemake)
