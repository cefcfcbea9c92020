"""tables/data_availability.tsv and the cohort overview figure (contexture.report.availability)."""

from contexture.io import read_table, write_table
from contexture.modalities import BY_NAME, NAMES
from contexture.plotting import save_figure
from contexture.report import availability
from contexture.runner import run


def main(smk):
    clinical = (
        read_table(smk.input.clinical, "results/clinical/clinical")["patient_id"].tolist()
        if "clinical" in smk.input.keys()
        else None
    )
    stages = {
        modality: availability.modality_timepoints(
            modality, read_table(smk.input[modality], BY_NAME[modality].availability_schema)
        )
        for modality in NAMES
        if modality != "clinical" and modality in smk.input.keys()
    }
    if clinical is not None:
        availability.check_patients_known(clinical, stages, on_unknown=smk.params.on_unknown_patient)
    table = availability.availability_table(clinical, stages)
    write_table(table, smk.output.table)
    matrix = availability.overview_matrix(table)
    save_figure(availability.overview_figure(matrix), smk.output.figure, matrix.reset_index())


run(main, snakemake)
