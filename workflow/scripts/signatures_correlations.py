"""Spearman correlations of chemokine/cytokine genes with T-cell genes at baseline (contexture.signatures.analyse_correlations)."""

from contexture import signatures
from contexture.io import write_table
from contexture.io.validation import read_validated_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression, read_gene_list


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    genes = read_gene_list(read_validated_table(smk.input.genes, "tables/gene_list"), file=str(smk.input.genes))
    tcell = read_gene_list(
        read_validated_table(smk.input.tcell_genes, "tables/gene_list"), file=str(smk.input.tcell_genes)
    )
    correlations, (fig, source) = signatures.analyse_correlations(
        expression, samples, genes, tcell, timepoint=smk.params.timepoint, fdr_alpha=smk.params.fdr_alpha
    )
    write_table(correlations, smk.output.correlations)
    save_figure(fig, smk.output.figure[0], source)


run(main, snakemake)
