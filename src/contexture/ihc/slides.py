"""From the slide sheet (or a density table) to one row per slide, and patient features.

:func:`summarize_slides` reads each slide's QuPath exports once (five columns of the
detection file, see :mod:`contexture.io.qupath`), counts cells per region and marker
(:mod:`contexture.ihc.densities`), measures CD8-to-tumour proximity
(:mod:`contexture.ihc.spatial`) and frees the cells before the next slide, so memory
is bounded by the largest slide. :func:`score_slides` adds the immune phenotype and the
Immunoscore; :func:`patient_features` picks each patient's baseline slide.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.errors import InputError
from contexture.ihc.densities import (
    CELL_ROLES,
    MARKERS,
    REGIONS,
    annotation_regions,
    class_roles,
    count_cells,
    densities_from_counts,
    immune_phenotype,
    stromal_density,
)
from contexture.ihc.immunoscore import IMMUNOSCORE_COLUMNS, immunoscore
from contexture.ihc.spatial import proximity_measures
from contexture.io import qupath
from contexture.io.validation import read_validated_table

log = logging.getLogger(__name__)

ID_COLUMNS = ["slide_id", "patient_id", "timepoint", "lesion_id"]
# Defaults mirror workflow/schemas/cohort/ihc.schema.yaml (used when called from Python).
DEFAULT_OPTIONS: dict = {
    "columns": {},
    "cell_classes": {
        "cd8": ["CD8", "CD8+", "CD3: CD8", "CD8: CD3"],
        "cd3": ["CD3", "CD3+", "CD3: CD8", "CD8: CD3"],
        "tumor": ["Tumor", "Tumour", "Tumor cell", "Tumour cell"],
        "other": ["Other", "Stroma", "Negative", "Immune cells", "Necrosis"],
    },
    "regions": {
        "tumor": ["Tumor", "Tumour", "Tumor core", "Center of tumor", "Tumor epithelium"],
        "margin": ["Invasive margin", "Margin", "Invasive front"],
        "stroma": ["Stroma", "Tumor stroma", "Tumour stroma"],
        "ignore": ["Tissue", "Region*", "Ignore*", "Necrosis", "Other"],
    },
    "phenotype": {"inflamed_min_tumor_density": 100.0, "stromal_min_stroma_density": 100.0},
    "immunoscore": {},
    "proximity_um": 20.0,
    "baseline_timepoint": "baseline",
    "on_treatment_timepoint": "on_treatment",
}


def options_with_defaults(options: dict | None) -> dict:
    """``options`` (the config's ``ihc`` section) with every missing key defaulted."""
    merged = {key: (dict(value) if isinstance(value, dict) else value) for key, value in DEFAULT_OPTIONS.items()}
    for key, value in (options or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def read_slide_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Validated slide sheet with ``cells``/``annotations`` resolved from the sheet's folder."""
    path = Path(path)
    sheet = read_validated_table(path, "tables/ihc_slides", what="IHC slide sheet")
    for column in ("cells", "annotations"):
        sheet[column] = [str(p) if Path(p).is_absolute() else str(path.parent / p) for p in sheet[column]]
    if "lesion_id" not in sheet.columns:
        sheet["lesion_id"] = pd.NA
    return sheet.sort_values("slide_id", kind="stable").reset_index(drop=True)


def slide_files(path: str | os.PathLike) -> list[str]:
    """Every export file a slide sheet names (for the workflow's input lists)."""
    sheet = read_slide_sheet(path)
    return sorted(set(sheet["cells"]) | set(sheet["annotations"]))


def summarize_slide(cells_path: str, annotations_path: str, options: dict) -> tuple[dict, pd.DataFrame]:
    """Densities and spatial measures of one slide; also returns its cells (for maps)."""
    aliases = options["columns"] or None
    annotations = qupath.read_annotations(annotations_path, aliases)
    annotations = annotation_regions(annotations, options["regions"], file=annotations_path)
    cells = qupath.read_detections(cells_path, aliases)
    names = cells.attrs["columns"]
    counts = count_cells(
        cells,
        annotations,
        options["cell_classes"],
        cells_file=cells_path,
        class_column=names["class"],
        parent_column=names["parent"],
    )
    record = densities_from_counts(counts)
    record["n_cells"] = int(len(cells))
    roles = _roles(cells, options)
    xy = cells[["x", "y"]].to_numpy()
    record.update(proximity_measures(xy[roles["cd8"]], xy[roles["tumor"]], float(options["proximity_um"])))
    cells = cells.assign(**{f"is_{role}": roles[role] for role in ("cd8", "tumor")})
    return record, cells


def _roles(cells: pd.DataFrame, options: dict) -> dict[str, np.ndarray]:
    matrix = class_roles(list(cells["class"].cat.categories), options["cell_classes"], file="", column="")
    codes = cells["class"].cat.codes.to_numpy()
    return {role: matrix[codes, i] for i, role in enumerate(CELL_ROLES)}


def summarize_slides(sheet: pd.DataFrame, options: dict) -> pd.DataFrame:
    """One row per slide of the sheet: identifiers, areas, counts, densities, proximity."""
    options = options_with_defaults(options)
    records = []
    for slide in sheet.itertuples(index=False):  # one iteration per slide (files), not per cell
        record, _ = summarize_slide(slide.cells, slide.annotations, options)
        records.append({column: getattr(slide, column) for column in ID_COLUMNS} | record)
        log.info("slide %s: %d cells", slide.slide_id, record["n_cells"])
    return pd.DataFrame(records)


def slides_from_density_table(path: str | os.PathLike) -> pd.DataFrame:
    """Per-slide wide densities from a long per-slide, per-region density table."""
    table = read_validated_table(path, "tables/ihc_densities", what="IHC density table")
    if "lesion_id" not in table.columns:
        table["lesion_id"] = pd.NA
    table["marker"] = table["marker"].astype(str).str.lower()
    table["column"] = table["marker"] + "_density_" + table["region"].astype(str)
    ids = table.groupby("slide_id")[["patient_id", "timepoint", "lesion_id"]].nunique(dropna=True)
    inconsistent = ids[(ids > 1).any(axis=1)]
    if len(inconsistent):
        raise InputError(
            f"IHC density table '{path}': slide(s) {list(inconsistent.index[:10])} have more than one "
            "patient_id, timepoint or lesion_id; expected one per slide"
        )
    wide = table.pivot(index="slide_id", columns="column", values="density")
    meta = table.groupby("slide_id")[["patient_id", "timepoint", "lesion_id"]].first()
    slides = meta.join(wide).reset_index()
    for marker in MARKERS:
        for region in (*REGIONS, "overall"):
            column = f"{marker}_density_{region}"
            if column not in slides.columns:
                slides[column] = np.nan
    return slides.sort_values("slide_id", kind="stable").reset_index(drop=True)


def score_slides(slides: pd.DataFrame, options: dict, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add ``ihc_phenotype``, the Immunoscore columns, and order the columns.

    The Immunoscore reference is ``reference`` (densities of a reference cohort) when
    given, else this cohort's baseline slides.
    """
    options = options_with_defaults(options)
    slides = slides.copy()
    thresholds = options["phenotype"]
    slides["cd8_density_stromal"] = stromal_density(slides)
    slides["ihc_phenotype"] = immune_phenotype(
        slides["cd8_density_tumor"],
        slides["cd8_density_stromal"],
        inflamed_min_tumor_density=float(thresholds["inflamed_min_tumor_density"]),
        stromal_min_stroma_density=float(thresholds["stromal_min_stroma_density"]),
    )
    if reference is None:
        reference = slides[slides["timepoint"].astype(str) == options["baseline_timepoint"]]
        slides["immunoscore_reference"] = "cohort baseline slides"
    else:
        missing = [c for c in IMMUNOSCORE_COLUMNS if c not in reference.columns]
        if missing:
            raise InputError(f"Immunoscore reference table lacks column(s) {missing}")
        slides["immunoscore_reference"] = "supplied reference"
    slides = slides.join(immunoscore(slides, reference))
    first = [*ID_COLUMNS, "ihc_phenotype", "immunoscore", "immunoscore_group", "immunoscore_percentile"]
    density = [c for c in slides.columns if "_density_" in c]
    rest = [c for c in slides.columns if c not in first and c not in density]
    return slides[first + density + rest].sort_values("slide_id", kind="stable").reset_index(drop=True)


def read_reference(path: str | os.PathLike) -> pd.DataFrame:
    """A reference table of the four Immunoscore densities (one row per reference tumour)."""
    return read_validated_table(path, "tables/ihc_immunoscore_reference", what="Immunoscore reference table")


def baseline_slides(slides: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """Each patient's baseline slide: the one with the largest tumour area (then slide_id).

    With one baseline slide per patient (the usual design) this is simply that slide;
    with several, the largest tumour area is the most representative sample.
    """
    base = slides[slides["timepoint"].astype(str) == baseline].copy()
    area = base["area_mm2_tumor"] if "area_mm2_tumor" in base.columns else pd.Series(0.0, index=base.index)
    base["_area"] = area.fillna(0.0)
    base = base.sort_values(["patient_id", "_area", "slide_id"], ascending=[True, False, True], kind="stable")
    several = base["patient_id"].duplicated()
    if several.any():
        log.warning(
            "patients with several baseline slides (largest tumour area used): %s",
            sorted(set(base.loc[several, "patient_id"])),
        )
    return base[~several].drop(columns="_area")


def patient_features(slides: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """Patient-level columns for tables/patients.tsv from each patient's baseline slide."""
    base = baseline_slides(slides, baseline)
    features = pd.DataFrame(
        {
            "patient_id": base["patient_id"].astype(str).to_numpy(),
            "cd8_density_tumor": base["cd8_density_tumor"].to_numpy(),
            "cd3_density_tumor": base["cd3_density_tumor"].to_numpy(),
            "ihc_phenotype": base["ihc_phenotype"].to_numpy(),
            "immunoscore": base["immunoscore"].to_numpy(),
            "immunoscore_percentile": base["immunoscore_percentile"].to_numpy(),
            "ihc_slide_id": base["slide_id"].to_numpy(),
        }
    )
    return features.sort_values("patient_id", kind="stable").reset_index(drop=True)


def timepoint_features(slides: pd.DataFrame) -> pd.DataFrame:
    """One row per (patient, timepoint): mean densities over that patient's slides."""
    density = [c for c in slides.columns if c.startswith(("cd8_density_", "cd3_density_"))]
    return slides.groupby(["patient_id", "timepoint"], as_index=False)[density].mean()
