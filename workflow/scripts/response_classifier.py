"""Cross-validated response classifier from baseline features (contexture.response.classifier)."""

from contexture.io import read_table, write_table
from contexture.plotting import save_figure
from contexture.response.classifier import evaluate_classifier, roc_figure
from contexture.runner import run


def main(smk):
    patients = read_table(smk.input.patients, "results/tables/patients")
    options = dict(smk.params.options)
    features = options.pop("features")
    table, roc = evaluate_classifier(patients, features, seed=smk.params.seed, **options)
    write_table(table, smk.output.table)
    fig, data = roc_figure(roc, table)
    save_figure(fig, smk.output.roc, data)


run(main, snakemake)
