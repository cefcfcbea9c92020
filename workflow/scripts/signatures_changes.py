"""Paired pre/post changes of genes and signature scores by response; heat map; paired plot."""

import pandas as pd

from contexture.io import read_table, write_table
from contexture.io.validation import read_validated_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.signatures.expression import (
    baseline_heatmap_figure,
    expression_changes,
    paired_scores_figure,
    patient_means,
    read_analysis_expression,
    read_gene_list,
    responder_status,
    score_matrix,
)


def main(smk):
    expression, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    scores = read_table(smk.input.scores, "results/tables/signature_scores")
    response = responder_status(read_table(smk.input.patients, "results/tables/patients"))
    pre, post = smk.params.pre, smk.params.post
    write_table(expression_changes(expression, samples, scores, response, pre=pre, post=post), smk.output.changes)

    signature_values = score_matrix(scores) if not scores.empty else pd.DataFrame()
    before = patient_means(signature_values, samples, pre) if not scores.empty else pd.DataFrame()
    after = patient_means(signature_values, samples, post) if not scores.empty else pd.DataFrame()
    both = sorted(set(before.columns) & set(after.columns))
    pairs = pd.DataFrame(
        [
            {
                "signature": signature,
                "patient_id": patient,
                "response": response.get(patient, "unknown") if response is not None else "unknown",
                pre: before.at[signature, patient],
                post: after.at[signature, patient],
            }
            for signature in dict.fromkeys(scores["signature"])
            for patient in both
        ],
        columns=["signature", "patient_id", "response", pre, post],
    ).rename(columns={pre: "baseline", post: "on_treatment"})
    fig, source = paired_scores_figure(pairs)
    save_figure(fig, smk.output.paired[0], source)

    genes = read_gene_list(
        read_validated_table(smk.input.heatmap_genes, "tables/gene_list"), file=str(smk.input.heatmap_genes)
    )
    baseline = patient_means(expression, samples, "baseline")
    baseline = baseline.loc[[g for g in genes["gene"] if g in baseline.index]]
    ordering = smk.params.immunosign if smk.params.immunosign in set(scores["signature"]) else None
    if ordering is None and not scores.empty:
        ordering = scores["signature"].iloc[0]
    if ordering is not None:
        score = patient_means(signature_values.loc[[ordering]], samples, "baseline").loc[ordering]
    else:
        score = pd.Series(0.0, index=baseline.columns)
    fig, source = baseline_heatmap_figure(baseline, score, response, score_label=ordering or "no signature scored")
    save_figure(fig, smk.output.heatmap[0], source)


run(main, snakemake)
