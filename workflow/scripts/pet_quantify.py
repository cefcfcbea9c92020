"""Quantify PET scans (or read a VOI table) into lesions.tsv and patient features (contexture.pet.quantify)."""

import pandas as pd

from contexture.io import read_table, write_table
from contexture.pet.quantify import (
    QuantifyOptions,
    patient_features,
    quantify_scans,
    read_voi_table,
)
from contexture.runner import run


def main(smk):
    weights = {}
    if "clinical" in smk.input.keys():
        clinical = read_table(smk.input.clinical, "results/clinical/clinical")
        if "weight_kg" in clinical.columns:
            weights = dict(zip(clinical["patient_id"].astype(str), clinical["weight_kg"], strict=True))
    options = QuantifyOptions(
        peak_volume_ml=smk.params.peak_volume_ml,
        default_half_life_s=smk.params.half_life_hours * 3600.0,
        fov_tolerance_voxels=smk.params.fov_tolerance_voxels,
    )
    if "voi_table" in smk.input.keys():
        lesions, references = read_voi_table(smk.input.voi_table)
        keys = ["patient_id", "timepoint", "scan_day"]
        scans = pd.concat([lesions[keys], references[keys]]).drop_duplicates().sort_values(keys, kind="stable")
        scans = scans.reset_index(drop=True).assign(format="voi_table")
    else:
        lesions, references, scans = quantify_scans(smk.input.scans, weights, options)
    write_table(lesions, smk.output.lesions)
    write_table(references, smk.output.reference_regions)
    write_table(scans, smk.output.scans)
    write_table(patient_features(lesions), smk.output.features)


run(main, snakemake)
