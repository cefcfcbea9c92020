"""From the slide sheet (or a density table) to one row per slide, and patient features.

:func:`summarize_slides` reads each slide's QuPath exports once (five columns of the
detection file, see :mod:`contexture.io.qupath`), counts cells per region and marker
(:mod:`contexture.ihc.densities`), measures CD8-to-tumour proximity
(:mod:`contexture.ihc.spatial`) and frees the cells before the next slide, so memory
is bounded by the largest slide. :func:`score_slides` adds the immune phenotype and the
Immunoscore; :func:`patient_features` picks each patient's baseline slide.

**Serial sections.** The Immunoscore assay stains CD3 and CD8 on two serial sections of
one block (Pagès et al., Lancet 2018). Sheet rows sharing a ``block_id`` are such
sections; each row's ``stain`` (``CD3``, ``CD8`` or ``CD3+CD8``; else ``ihc.stain``; else
inferred from the classes) says which marker it gives. Each section is counted on its own
annotations (their areas differ from section to section), and the block's row takes
each marker's counts and densities from the section stained for it; areas, cell counts
and the spatial measures come from the CD8 section (the first section when none has
CD8). The row's ``slide_id`` is the block id and ``sections`` lists the merged slides.
"""

from __future__ import annotations

__all__ = [
    "baseline_slides",
    "merge_sections",
    "options_with_defaults",
    "parse_stain",
    "patient_features",
    "primary_section",
    "read_reference",
    "read_slide_sheet",
    "score_slides",
    "slide_files",
    "slides_from_density_table",
    "summarize_block",
    "summarize_slide",
    "summarize_slides",
    "timepoint_features",
]

import functools
import logging
import os
import re
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
    marker_roles,
    phenotype_inputs,
)
from contexture.ihc.immunoscore import IMMUNOSCORE_COLUMNS, immunoscore
from contexture.ihc.spatial import proximity_measures
from contexture.io import qupath
from contexture.io.validation import read_validated_table
from contexture.parallel import map_units

log = logging.getLogger(__name__)

ID_COLUMNS = ["slide_id", "patient_id", "timepoint", "lesion_id"]
_STAIN_SPLIT = re.compile(r"\s*[+/,;&]\s*|\s+")
# Defaults mirror src/contexture/schemas/cohort/ihc.schema.yaml (used when called from Python).
DEFAULT_OPTIONS: dict = {
    "columns": {},
    "pixel_size_um": None,
    "stain": None,
    "cell_classes": {
        "cd8": ["CD8", "CD8+", "CD3: CD8", "CD8: CD3"],
        "cd3": ["CD3", "CD3+", "CD3: CD8", "CD8: CD3"],
        "tumor": ["Tumor", "Tumour", "Tumor cell", "Tumour cell", "Tumor: Negative", "Tumour: Negative"],
        "other": ["Other", "Stroma", "Negative", "Immune cells", "Necrosis", "*: Negative"],
        "positive": ["Positive", "*: Positive"],
    },
    "regions": {
        "core": ["Tumor", "Tumour", "Tumor core", "Tumour core", "Center of tumor", "Centre of tumour", "CT"],
        "margin": ["Invasive margin", "Margin", "Invasive front", "IM"],
        "epithelium": ["Tumor epithelium", "Tumour epithelium", "Epithelium"],
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
    for column in ("stain", "block_id", "pixel_size_um"):
        if column not in sheet.columns:
            sheet[column] = pd.NA
    for row, value in enumerate(sheet["stain"], start=1):
        parse_stain(value, where=f"IHC slide sheet '{path}', row {row} (line {row + 1}), column 'stain'")
    sheet["block_id"] = sheet["block_id"].where(sheet["block_id"].notna(), sheet["slide_id"]).astype(str)
    _check_blocks(sheet, path)
    return sheet.sort_values("slide_id", kind="stable").reset_index(drop=True)


def parse_stain(value, *, where: str) -> tuple[str, ...] | None:
    """Markers of a stain label (``CD8``, ``cd3``, ``CD3+CD8``, ``CD3/CD8``) in :data:`MARKERS` order.

    Missing or empty gives None (not stated). An unknown marker is an :class:`InputError`
    naming ``where``.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip():
        return None
    parts = [part.lower() for part in _STAIN_SPLIT.split(str(value).strip()) if part]
    unknown = [part for part in parts if part not in MARKERS]
    if unknown:
        raise InputError(
            f"{where}: got {value!r}; expected the markers stained on the slide, among "
            f"{[m.upper() for m in MARKERS]}, e.g. 'CD8' or 'CD3+CD8'"
        )
    return tuple(m for m in MARKERS if m in parts)


def _check_blocks(sheet: pd.DataFrame, path: Path) -> None:
    """Sections of one block share patient, timepoint and lesion; each marker comes from one section."""
    for block, rows in sheet.groupby("block_id", sort=True):
        if len(rows) < 2:
            continue
        for column in ("patient_id", "timepoint", "lesion_id"):
            if rows[column].astype("string").fillna("").nunique() > 1:
                raise InputError(
                    f"IHC slide sheet '{path}', column '{column}': the sections of block '{block}' "
                    f"({list(rows['slide_id'])}) have different values {sorted(rows[column].astype(str).unique())}; "
                    "serial sections of one block come from one patient, timepoint and lesion"
                )
        stains = [parse_stain(v, where=f"IHC slide sheet '{path}'") for v in rows["stain"]]
        if any(stain is None for stain in stains):
            raise InputError(
                f"IHC slide sheet '{path}', column 'stain': block '{block}' has several sections "
                f"({list(rows['slide_id'])}); give each its stain (e.g. CD3 and CD8) so that each marker "
                "is taken from one section"
            )
        markers = [m for stain in stains for m in stain]
        repeated = sorted({m for m in markers if markers.count(m) > 1})
        if repeated:
            raise InputError(
                f"IHC slide sheet '{path}', column 'stain': block '{block}' has {[m.upper() for m in repeated]} "
                f"on more than one section ({list(rows['slide_id'])}); expected each marker on one section"
            )


def slide_files(path: str | os.PathLike) -> list[str]:
    """Every export file a slide sheet names (for the workflow's input lists)."""
    sheet = read_slide_sheet(path)
    return sorted(set(sheet["cells"]) | set(sheet["annotations"]))


def summarize_slide(
    cells_path: str,
    annotations_path: str,
    options: dict,
    *,
    stain: tuple[str, ...] | None = None,
    pixel_size_um: float | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Densities and spatial measures of one slide; also returns its cells (for maps).

    ``stain`` (the markers stained, None when not stated) falls back to ``ihc.stain``;
    ``pixel_size_um`` (the slide's, from the sheet) to ``ihc.pixel_size_um``.
    """
    aliases = options["columns"] or None
    if stain is None:
        stain = parse_stain(options.get("stain"), where="config ihc.stain")
    if pixel_size_um is None or pd.isna(pixel_size_um):
        pixel_size_um = options.get("pixel_size_um")
    annotations = qupath.read_annotations(annotations_path, aliases, pixel_size_um=pixel_size_um)
    annotations = annotation_regions(annotations, options["regions"], file=annotations_path)
    cells = qupath.read_detections(cells_path, aliases, pixel_size_um=pixel_size_um)
    names = cells.attrs["columns"]
    counts = count_cells(
        cells,
        annotations,
        options["cell_classes"],
        cells_file=cells_path,
        annotations_file=annotations_path,
        class_column=names["class"],
        parent_column=names["parent"],
        stain=stain,
    )
    record = densities_from_counts(counts)
    record["stained"] = tuple(m for m in MARKERS if counts.attrs["stained"][m])
    record["n_cells"] = int(len(cells))
    # The pixel size that converted any column of this slide's exports (empty when all were in µm).
    used = annotations.attrs.get("pixel_size_um") or cells.attrs.get("pixel_size_um")
    record["pixel_size_um"] = float(used) if used else np.nan
    roles = _roles(cells, options, stain)
    xy = cells[["x", "y"]].to_numpy()
    record.update(proximity_measures(xy[roles["cd8"]], xy[roles["tumor"]], float(options["proximity_um"])))
    cells = cells.assign(**{f"is_{role}": roles[role] for role in ("cd8", "tumor")})
    return record, cells


def _roles(cells: pd.DataFrame, options: dict, stain: tuple[str, ...] | None) -> dict[str, np.ndarray]:
    categories = list(cells["class"].cat.categories)
    matrix = class_roles(categories, options["cell_classes"], file="", column="")
    matrix = marker_roles(matrix, categories, stain, file="", column="")
    codes = cells["class"].cat.codes.to_numpy()
    return {role: matrix[codes, i] for i, role in enumerate(CELL_ROLES)}


def _summarize_row(slide, options: dict) -> tuple[dict, pd.DataFrame]:
    return summarize_slide(
        slide.cells,
        slide.annotations,
        options,
        stain=parse_stain(slide.stain, where=f"slide {slide.slide_id}, column 'stain'"),
        pixel_size_um=slide.pixel_size_um,
    )


def primary_section(sections: pd.DataFrame, options: dict) -> int:
    """Position (within ``sections``, one block's sheet rows) of the section stained for CD8, else 0."""
    default = parse_stain(options.get("stain"), where="config ihc.stain")
    for position, value in enumerate(sections["stain"]):
        stain = parse_stain(value, where="slide sheet column 'stain'") or default
        if stain is not None and "cd8" in stain:
            return position
    return 0


def merge_sections(records: list[dict], primary: int) -> dict:
    """One block's record from its sections' records (:func:`summarize_slide`).

    Each marker's counts and densities come from the section that stains it (the
    ``stained`` markers of each record); everything else from section ``primary``.
    """
    merged = dict(records[primary])
    for record in records:
        for marker in record["stained"]:
            merged.update({k: v for k, v in record.items() if k.startswith((f"{marker}_count_", f"{marker}_density_"))})
    merged["stained"] = tuple(m for m in MARKERS if any(m in r["stained"] for r in records))
    return merged


def summarize_block(block: tuple[str, pd.DataFrame], options: dict) -> dict:
    """One row of :func:`summarize_slides`: a block (its id and sheet rows) read, counted and merged."""
    block_id, sections = block
    section_records = []
    for slide in sections.itertuples(index=False):
        record, _ = _summarize_row(slide, options)
        section_records.append(record)
        log.info("slide %s: %d cells", slide.slide_id, record["n_cells"])
    record = merge_sections(section_records, primary_section(sections, options))
    record.pop("stained")
    first = sections.iloc[0]
    ids = {column: first[column] for column in ID_COLUMNS} | {"slide_id": str(block_id)}
    return ids | {"sections": ";".join(sections["slide_id"].astype(str))} | record


def summarize_slides(sheet: pd.DataFrame, options: dict, threads: int = 1) -> pd.DataFrame:
    """One row per slide (or block of serial sections): identifiers, areas, counts, densities, proximity.

    ``threads`` blocks are read at once, each in its own process
    (:func:`contexture.parallel.map_units`); rows stay in block order, so the table is
    the same at any thread count.
    """
    options = options_with_defaults(options)
    if "block_id" not in sheet.columns:
        sheet = sheet.assign(block_id=sheet["slide_id"])
    for column in ("stain", "pixel_size_um"):
        if column not in sheet.columns:
            sheet = sheet.assign(**{column: pd.NA})
    blocks = list(sheet.groupby("block_id", sort=True))  # one unit per block (files), not per cell
    one_block = functools.partial(summarize_block, options=options)
    return pd.DataFrame(list(map_units(one_block, blocks, threads, chunksize=1)))


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
    compared = phenotype_inputs(slides)
    slides["cd8_density_stromal"] = compared["stromal"]
    slides["ihc_phenotype"] = immune_phenotype(
        compared["parenchyma"],
        compared["stromal"],
        inflamed_min_tumor_density=float(thresholds["inflamed_min_tumor_density"]),
        stromal_min_stroma_density=float(thresholds["stromal_min_stroma_density"]),
    )
    slides["phenotype_regions"] = compared["phenotype_regions"].where(slides["ihc_phenotype"].notna(), None)
    if reference is None:
        # One slide per patient (its baseline slide, :func:`baseline_slides`), so that a
        # patient with several baseline biopsies does not weigh more in the percentiles.
        reference = baseline_slides(slides, options["baseline_timepoint"], warn=False)
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


def baseline_slides(slides: pd.DataFrame, baseline: str = "baseline", *, warn: bool = True) -> pd.DataFrame:
    """Each patient's baseline slide: the one with the largest tumour area (then slide_id).

    With one baseline slide per patient (the usual design) this is simply that slide;
    with several, the largest tumour area is the most representative sample, and the
    patients are logged (``warn``; the Immunoscore reference asks without, so that the
    rule's log names them once, from the patient features).
    """
    base = slides[slides["timepoint"].astype(str) == baseline].copy()
    area = base["area_mm2_tumor"] if "area_mm2_tumor" in base.columns else pd.Series(0.0, index=base.index)
    base["_area"] = area.fillna(0.0)
    base = base.sort_values(["patient_id", "_area", "slide_id"], ascending=[True, False, True], kind="stable")
    several = base["patient_id"].duplicated()
    if warn and several.any():
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
