"""Quantify PET scans (or read a VOI table) into lesions.tsv and patient features (contexture.pet.quantify_cohort)."""

from contexture import pet
from contexture.io import read_table, write_table
from contexture.runner import run


def main(smk):
    clinical = read_table(smk.input.clinical, "results/clinical/clinical") if "clinical" in smk.input.keys() else None
    result = pet.quantify_cohort(
        scans=smk.input.get("scans"),
        voi_table=smk.input.get("voi_table"),
        voi_columns=dict(smk.params.voi_columns),
        clinical=clinical,
        peak_volume_ml=smk.params.peak_volume_ml,
        half_life_hours=smk.params.half_life_hours,
        fov_tolerance_voxels=smk.params.fov_tolerance_voxels,
        lean_body_mass=smk.params.lean_body_mass,
        adopt_pet_grid_for_unoriented_masks=smk.params.adopt_pet_grid_for_unoriented_masks,
        uptake_window_hours=smk.params.uptake_window_hours,
        image_voxels=smk.params.image_voxels,
        threads=smk.threads,
    )
    write_table(result.lesions, smk.output.lesions)
    write_table(result.reference_regions, smk.output.reference_regions)
    write_table(result.scans, smk.output.scans)
    write_table(result.features, smk.output.features)


run(main, snakemake)
