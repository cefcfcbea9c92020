"""Each signature's paired pre/post scores by response (contexture.signatures.paired_changes_figure)."""

from contexture import signatures
from contexture.io import read_table
from contexture.plotting import save_figure
from contexture.runner import run
from contexture.signatures.expression import read_analysis_expression


def main(smk):
    _, samples = read_analysis_expression(smk.input.expression, smk.input.samples)
    scores = read_table(smk.input.scores, "results/tables/signature_scores")
    patients = read_table(smk.input.patients, "results/tables/patients")
    fig, source = signatures.paired_changes_figure(
        scores, samples, patients, pre=smk.params.pre, post=smk.params.post, labels=smk.params.labels
    )
    save_figure(fig, smk.output.png, source)


run(main, snakemake)
