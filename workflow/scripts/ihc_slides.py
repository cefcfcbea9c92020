"""QuPath exports (or a density table) -> per-slide densities, phenotypes, Immunoscore."""

from pathlib import Path

from contexture.ihc import figures
from contexture.ihc.pet import paired_change
from contexture.ihc.slides import (
    patient_features,
    read_reference,
    read_slide_sheet,
    score_slides,
    slides_from_density_table,
    summarize_slide,
    summarize_slides,
    timepoint_features,
)
from contexture.io import write_table
from contexture.plotting import save_figure
from contexture.runner import run

PAIRED_COLUMNS = ["cd8_density_tumor", "cd8_density_stroma", "cd8_density_overall"]


def save(figure_and_source, path):
    fig, source = figure_and_source
    save_figure(fig, path, source)


def main(smk):
    options = smk.params.options
    inputs = smk.input.keys()
    sheet = None
    if "raw" in inputs or "slides" in inputs:
        sheet = read_slide_sheet(Path(smk.input.raw) / "slides.tsv" if "raw" in inputs else smk.input.slides)
        slides = summarize_slides(sheet, options)
    else:
        slides = slides_from_density_table(smk.input.densities)
    reference = read_reference(smk.input.reference) if "reference" in inputs else None
    slides = score_slides(slides, options, reference)
    write_table(slides, smk.output.slides)
    write_table(patient_features(slides, options["baseline_timepoint"]), smk.output.features)

    per_patient, summary = paired_change(
        timepoint_features(slides),
        PAIRED_COLUMNS,
        baseline=options["baseline_timepoint"],
        on_treatment=options["on_treatment_timepoint"],
    )
    write_table(per_patient, smk.output.paired)
    write_table(summary, smk.output.paired_test)

    save((figures.density_by_phenotype(slides)), smk.output.density_figure)
    save((figures.immunoscore_distribution(slides)), smk.output.immunoscore_figure)
    if sheet is not None and len(sheet):
        baseline = sheet[sheet["timepoint"] == options["baseline_timepoint"]]
        chosen = options.get("example_slide") or (baseline if len(baseline) else sheet)["slide_id"].iloc[0]
        row = sheet[sheet["slide_id"] == chosen].iloc[0]
        _, cells = summarize_slide(row["cells"], row["annotations"], options)
        phenotype = slides.loc[slides["slide_id"] == chosen, "ihc_phenotype"].iloc[0]
        save((figures.cell_map(cells, chosen, phenotype)), smk.output.cell_map)
    else:
        save((figures.no_cells_figure("No cell coordinates: densities were supplied as a table.")), smk.output.cell_map)


run(main, snakemake)
