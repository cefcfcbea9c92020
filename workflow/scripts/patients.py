"""Assemble tables/patients.tsv from the clinical table and each stage's features."""

from contexture.io import read_table, write_table
from contexture.patients.assemble import assemble_patients
from contexture.runner import run


def main(smk):
    clinical = read_table(smk.input.clinical, "results/clinical/clinical") if "clinical" in smk.input.keys() else None
    features = [
        (stage, read_table(path, f"results/{stage}/patient_features"))
        for stage, path in zip(smk.params.stages, smk.input.features, strict=True)
    ]
    write_table(assemble_patients(clinical, features), smk.output.patients)


run(main, snakemake)
