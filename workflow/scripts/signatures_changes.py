"""Paired pre/post changes of genes and signature scores by response; heat map (contexture.signatures.analyse_changes)."""

from contexture import signatures
from contexture.io import read_table, write_table
from contexture.io.validation import read_validated_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression, read_gene_list


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    scores = read_table(smk.input.scores, "results/tables/signature_scores")
    patients = read_table(smk.input.patients, "results/tables/patients")
    genes = read_gene_list(
        read_validated_table(smk.input.heatmap_genes, "tables/gene_list"), file=str(smk.input.heatmap_genes)
    )
    result = signatures.analyse_changes(
        expression,
        samples,
        scores,
        patients,
        genes,
        pre=smk.params.pre,
        post=smk.params.post,
        immunosign=smk.params.immunosign,
        workers=smk.threads,
    )
    write_table(result.changes, smk.output.changes)
    fig, source = result.heatmap_figure
    save_figure(fig, smk.output.heatmap[0], source)


run(main, snakemake)
