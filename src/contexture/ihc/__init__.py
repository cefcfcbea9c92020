"""CD8 IHC stage: QuPath exports -> densities, immune phenotype, Immunoscore, PET relation.

Entry points (what ``workflow/scripts/ihc_*.py`` call): :func:`analyse_slides` (rule
``ihc``: slides, patient features, paired change, figures) and :func:`analyse_pet`
(rule ``ihc_pet_correlation``: Kendall's tau with the lesions' SUVmax).

Submodules: :mod:`~contexture.ihc.densities` (counts per region, densities, phenotype),
:mod:`~contexture.ihc.immunoscore` (percentiles and categories),
:mod:`~contexture.ihc.spatial` (CD8-to-tumour distances), :mod:`~contexture.ihc.pet`
(Kendall's tau with SUVmax, paired change), :mod:`~contexture.ihc.slides` (the slide
sheet to one row per slide and patient features) and :mod:`~contexture.ihc.figures`.
Methods and config keys: docs/ihc.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from contexture.lazy import lazy_exports

# Densities whose baseline -> on-treatment change is tested (tables/ihc_paired_change*.tsv).
PAIRED_COLUMNS = ["cd8_density_tumor", "cd8_density_stroma", "cd8_density_overall"]


class SlideResults(NamedTuple):
    """The tables and figures (each ``(figure, source data)``) of rule ``ihc``."""

    slides: pd.DataFrame
    features: pd.DataFrame
    paired: pd.DataFrame
    paired_test: pd.DataFrame
    density_figure: tuple
    immunoscore_figure: tuple
    cell_map: tuple


def analyse_slides(
    options: dict,
    *,
    raw: str | os.PathLike | None = None,
    slides: str | os.PathLike | None = None,
    densities: str | os.PathLike | None = None,
    reference: str | os.PathLike | None = None,
    threads: int = 1,
) -> SlideResults:
    """Per-slide densities, phenotype and Immunoscore; patient features; paired change; figures.

    The slides come from a slide sheet of QuPath exports (``slides``, or ``slides.tsv``
    in the simulator's ``raw`` folder) or else from a per-region density table
    (``densities``). The Immunoscore reference is the ``reference`` table when given,
    else the cohort's baseline slides. ``options`` is the cohort's ``ihc`` section.
    The cell map shows ``options["example_slide"]``, else the first baseline slide,
    else the first slide; a density table has no cells to map. ``threads`` slides (blocks
    of serial sections) are read at once (the rule's threads; the tables do not depend
    on it).
    """
    from contexture.ihc import figures
    from contexture.ihc.pet import paired_change
    from contexture.ihc.slides import (
        patient_features,
        read_reference,
        read_slide_sheet,
        score_slides,
        slides_from_density_table,
        summarize_slides,
        timepoint_features,
    )

    sheet_path = Path(raw) / "slides.tsv" if raw is not None else slides
    sheet = read_slide_sheet(sheet_path) if sheet_path is not None else None
    table = summarize_slides(sheet, options, threads) if sheet is not None else slides_from_density_table(densities)
    table = score_slides(table, options, read_reference(reference) if reference is not None else None)
    per_patient, summary = paired_change(
        timepoint_features(table),
        PAIRED_COLUMNS,
        baseline=options["baseline_timepoint"],
        on_treatment=options["on_treatment_timepoint"],
    )
    return SlideResults(
        table,
        patient_features(table, options["baseline_timepoint"]),
        per_patient,
        summary,
        figures.density_by_phenotype(table),
        figures.immunoscore_distribution(table),
        _cell_map(sheet, table, options),
    )


def _cell_map(sheet: pd.DataFrame | None, slides: pd.DataFrame, options: dict):
    from contexture.ihc import figures
    from contexture.ihc.slides import parse_stain, primary_section, summarize_slide

    if sheet is None or not len(sheet):
        return figures.no_cells_figure("No cell coordinates: densities were supplied as a table.")
    baseline = sheet[sheet["timepoint"] == options["baseline_timepoint"]]
    chosen = options.get("example_slide") or (baseline if len(baseline) else sheet)["block_id"].iloc[0]
    # A slide id, or the block id of serial sections (then the map shows the CD8 section).
    sections = sheet[(sheet["block_id"] == chosen) | (sheet["slide_id"] == chosen)]
    block = sections["block_id"].iloc[0]
    sections = sheet[sheet["block_id"] == block] if sections["slide_id"].iloc[0] != chosen else sections
    row = sections.iloc[primary_section(sections, options)]
    _, cells = summarize_slide(
        row["cells"],
        row["annotations"],
        options,
        stain=parse_stain(row["stain"], where=f"slide {row['slide_id']}, column 'stain'"),
        pixel_size_um=row["pixel_size_um"],
    )
    phenotype = slides.loc[slides["slide_id"] == block, "ihc_phenotype"].iloc[0]
    return figures.cell_map(cells, chosen, phenotype)


def analyse_pet(
    slides: pd.DataFrame,
    lesions: pd.DataFrame,
    densities: list[str],
    options: dict | None = None,
    *,
    exclude_irradiated: bool = True,
    seed: int = 0,
    labels: dict | None = None,
):
    """``(table, (figure, source))``: Kendall's tau-b of each density with the biopsied lesions' SUVmax.

    ``slides`` as ``tables/ihc_slides.tsv``, ``lesions`` as ``tables/lesions.tsv``;
    ``options`` the cohort's ``ihc.pet_correlation`` section (``bootstrap``,
    ``conf_level``); ``exclude_irradiated`` is ``pet_analysis.exclude_irradiated``. One
    row per timepoint and density (:func:`contexture.ihc.pet.pet_correlation`); the
    figure plots the first of ``densities``.
    """
    from contexture.ihc import figures
    from contexture.ihc.pet import pair_with_lesions, pet_correlation

    options = {"bootstrap": 2000, "conf_level": 0.95, **(options or {})}
    pairs = pair_with_lesions(slides, lesions)
    correlation = pet_correlation(
        pairs,
        densities,
        exclude_irradiated=exclude_irradiated,
        bootstrap=options["bootstrap"],
        conf_level=options["conf_level"],
        seed=seed,
    )
    shown = pairs[~pairs["irradiated"]] if exclude_irradiated else pairs
    return correlation, figures.suvmax_vs_density(shown, correlation, densities[0], labels)


__all__ = [
    "PAIRED_COLUMNS",
    "SlideResults",
    "analyse_pet",
    "analyse_slides",
    "immune_phenotype",
    "immunoscore",
    "kendall_tau_b",
    "paired_change",
    "percentile_rank",
    "proximity_measures",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "immune_phenotype": "contexture.ihc.densities",
        "immunoscore": "contexture.ihc.immunoscore",
        "percentile_rank": "contexture.ihc.immunoscore",
        "kendall_tau_b": "contexture.ihc.pet",
        "paired_change": "contexture.ihc.pet",
        "proximity_measures": "contexture.ihc.spatial",
    },
)
