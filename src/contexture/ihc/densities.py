"""Cell densities per region and marker, and the immune phenotype of a slide.

Counting follows the QuPath object hierarchy: each detected cell's ``Parent`` is the
innermost annotation containing it, so a cell belongs to the region of that annotation.
Regions are the compartments recommended for TIL assessment in solid tumours by the
International Immuno-Oncology Biomarker Working Group (Hendry et al., Adv Anat Pathol
2017;24:311-335): tumour core (epithelium/centre of tumour), invasive margin and stroma.

Density of marker m in region r (cells per mm²)::

    density[m, r] = n_cells(class in m, parent in r) / (sum of areas of annotations of r / 10^6)

and the ``overall`` density pools the three regions (sum of counts / sum of areas).
Annotations must not overlap (as drawn with QuPath's pixel classifier or with tumour
nests subtracted from stroma), because QuPath reports each annotation's full area.

Immune phenotype (Hegde, Karanikas & Evers, Clin Cancer Res 2016;22:1865-1874; Chen &
Mellman, Nature 2017;541:321-330): *inflamed* when CD8+ cells infiltrate the tumour
epithelium, *stromal* (immune-excluded) when CD8+ cells are present in stroma (or at
the invasive margin) but not in the epithelium, *desert* when CD8+ cells are sparse
everywhere. Those papers define the phenotypes qualitatively; the numeric thresholds
here (100 CD8+ cells/mm² by default, config ``ihc.phenotype``) are our choice of the
order of magnitude digital-pathology studies use (e.g. Sobottka et al., Lab Invest
2021;101:1561-1570, who derive cohort-specific cut-offs in the tumour centre) -- not a
consensus value; set them for your tumour type and staining.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.errors import InputError

MARKERS = ("cd8", "cd3")
REGIONS = ("tumor", "margin", "stroma")
CELL_ROLES = ("cd8", "cd3", "tumor", "other")
PHENOTYPES = ("desert", "stromal", "inflamed")
UM2_PER_MM2 = 1e6
# Parent of a cell outside every annotation, as QuPath writes it (the root object).
ROOT_PARENTS = ("Image", "")


def _matches(label: str, patterns: list[str]) -> bool:
    """Exact match, or a prefix match for patterns ending in ``*`` (``Ignore*``)."""
    return any(label == p or (p.endswith("*") and label.startswith(p[:-1])) for p in patterns)


def class_roles(categories: list[str], cell_classes: dict[str, list[str]], *, file: str, column: str) -> np.ndarray:
    """Boolean matrix (category x role in :data:`CELL_ROLES`) of which roles each class has.

    A class may carry several roles (a multiplex ``CD3: CD8`` class listed under both
    ``cd3`` and ``cd8``). The empty class (unclassified object) is ``other``. A class in
    none of the lists is an :class:`InputError` naming the file, the column, the class
    and the config key to extend.
    """
    roles = np.zeros((len(categories), len(CELL_ROLES)), dtype=bool)
    unknown = []
    for i, label in enumerate(categories):
        for j, role in enumerate(CELL_ROLES):
            roles[i, j] = _matches(label, cell_classes.get(role, []))
        if label == "":
            roles[i, CELL_ROLES.index("other")] = True
        elif not roles[i].any():
            unknown.append(label)
    if unknown:
        raise InputError(
            f"QuPath detection export '{file}', column '{column}': unknown cell class(es) {unknown}; "
            f"expected one of {sorted({c for v in cell_classes.values() for c in v})} "
            "(add them to ihc.cell_classes.cd8 / cd3 / tumor / other)"
        )
    return roles


def annotation_regions(annotations: pd.DataFrame, regions: dict[str, list[str]], *, file: str) -> pd.DataFrame:
    """Assign each annotation a region (``tumor``/``margin``/``stroma``) or ``ignore``.

    Raises :class:`InputError` for an annotation class in no list of ``ihc.regions``,
    for a region annotation with a zero, negative or missing area, and for two
    annotations sharing a displayed name but not a region (cells could not be assigned).
    """
    annotations = annotations.copy()
    class_column = annotations.attrs.get("class_column", "Class")
    area_column = annotations.attrs.get("area_column", "Area µm^2")
    region = pd.Series(pd.NA, index=annotations.index, dtype="object")
    for name in (*REGIONS, "ignore"):
        hit = annotations["class"].map(lambda label, name=name: _matches(label, regions.get(name, [])))
        region = region.where(region.notna() | ~hit, name)
    unknown = sorted(set(annotations.loc[region.isna(), "class"]))
    if unknown:
        raise InputError(
            f"QuPath annotation export '{file}', column '{class_column}': unknown annotation class(es) {unknown}; "
            f"expected a region of ihc.regions ({', '.join(f'{k}: {v}' for k, v in regions.items())})"
        )
    annotations["region"] = region.astype(str)
    in_region = annotations["region"].isin(REGIONS)
    bad_area = in_region & ~(annotations["area"] > 0)
    if bad_area.any():
        row = int(np.flatnonzero(bad_area.to_numpy())[0]) + 1
        first = annotations.loc[bad_area].iloc[0]
        raise InputError(
            f"QuPath annotation export '{file}', row {row} (line {row + 1}), column '{area_column}': "
            f"region '{first['display_name']}' ({first['class']}) has area {first['area']!r}; "
            "expected an area > 0 µm² (remove empty annotations)"
        )
    conflicting = annotations.groupby("display_name")["region"].nunique()
    conflicting = sorted(conflicting[conflicting > 1].index)
    if conflicting:
        raise InputError(
            f"QuPath annotation export '{file}': annotation name(s) {conflicting} are used for different regions, "
            "so cells' Parent cannot be assigned; give annotations unique names or leave names empty"
        )
    return annotations


def count_cells(
    cells: pd.DataFrame,
    annotations: pd.DataFrame,
    cell_classes: dict[str, list[str]],
    *,
    cells_file: str,
    class_column: str = "Class",
    parent_column: str = "Parent",
) -> pd.DataFrame:
    """Counts of each role per region, and each region's area (vectorized, no row loop).

    ``cells`` as from :func:`contexture.io.qupath.read_detections` (categorical ``class``
    and ``parent``); ``annotations`` as from :func:`annotation_regions`. Returns a frame
    indexed by :data:`REGIONS` with ``area_mm2`` and ``n_<role>`` columns (regions without
    an annotation have area 0 and counts 0). A cell whose ``Parent`` is neither the root
    (``Image``) nor an exported annotation is an :class:`InputError`.
    """
    parents = list(cells["parent"].cat.categories)
    region_of_name = dict(zip(annotations["display_name"], annotations["region"], strict=False))
    unknown = [p for p in parents if p not in region_of_name and p not in ROOT_PARENTS]
    if unknown:
        raise InputError(
            f"QuPath detection export '{cells_file}', column '{parent_column}': parent(s) {unknown[:10]} "
            f"match no annotation of the slide's annotation export (known: {sorted(region_of_name)})"
        )
    region_index = {name: i for i, name in enumerate(REGIONS)}
    parent_region = np.array([region_index.get(region_of_name.get(p, "ignore"), -1) for p in parents], dtype=np.int64)
    roles = class_roles(list(cells["class"].cat.categories), cell_classes, file=cells_file, column=class_column)
    region = parent_region[cells["parent"].cat.codes.to_numpy()]
    inside = region >= 0
    class_codes = cells["class"].cat.codes.to_numpy()[inside]
    region = region[inside]
    # Cells per (region, class) in one bincount, then roles by a matrix product.
    per_class = np.bincount(region * len(roles) + class_codes, minlength=len(REGIONS) * len(roles)).reshape(
        len(REGIONS), len(roles)
    )
    counts = per_class @ roles.astype(np.int64)
    result = pd.DataFrame(counts, index=pd.Index(REGIONS, name="region"), columns=[f"n_{r}" for r in CELL_ROLES])
    result.insert(0, "n_cells", per_class.sum(axis=1))
    areas = annotations[annotations["region"].isin(REGIONS)].groupby("region")["area"].sum()
    result.insert(0, "area_mm2", areas.reindex(REGIONS, fill_value=0.0).to_numpy() / UM2_PER_MM2)
    result.attrs["stained"] = {m: bool(roles[:, CELL_ROLES.index(m)].any()) for m in MARKERS}
    return result


def densities_from_counts(counts: pd.DataFrame, stained: dict[str, bool] | None = None) -> dict[str, float]:
    """Flat per-slide record: ``area_mm2_<r>``, ``<m>_count_<r>``, ``<m>_density_<r>`` (cells/mm²).

    ``r`` runs over the regions and ``overall`` (pooled). A region without area has a
    missing density; a marker not stained on the slide (``stained[m]`` false: none of its
    classes occurs in the export) has missing counts and densities.
    """
    stained = stained if stained is not None else counts.attrs.get("stained", dict.fromkeys(MARKERS, True))
    record: dict[str, float] = {}
    total_area = float(counts["area_mm2"].sum())
    for region in REGIONS:
        record[f"area_mm2_{region}"] = float(counts.loc[region, "area_mm2"])
    record["area_mm2_overall"] = total_area
    for marker in MARKERS:
        for region in (*REGIONS, "overall"):
            area = total_area if region == "overall" else float(counts.loc[region, "area_mm2"])
            n = float(counts[f"n_{marker}"].sum() if region == "overall" else counts.loc[region, f"n_{marker}"])
            ok = stained.get(marker, True) and area > 0
            record[f"{marker}_count_{region}"] = n if stained.get(marker, True) else np.nan
            record[f"{marker}_density_{region}"] = n / area if ok else np.nan
    record["tumor_cell_count"] = float(counts["n_tumor"].sum())
    return record


def immune_phenotype(
    tumor_density: np.ndarray | pd.Series,
    stromal_density: np.ndarray | pd.Series,
    *,
    inflamed_min_tumor_density: float,
    stromal_min_stroma_density: float,
) -> np.ndarray:
    """Immune phenotype from CD8+ densities (cells/mm²) in tumour epithelium and stroma.

    ``inflamed`` if tumour density >= ``inflamed_min_tumor_density``; otherwise
    ``stromal`` if stromal density >= ``stromal_min_stroma_density``; otherwise
    ``desert``. Both thresholds are inclusive (a density exactly at the threshold counts
    as above it). Missing tumour density gives a missing phenotype; missing stromal
    density (no stroma annotated) counts as not infiltrated.
    """
    tumor = np.asarray(tumor_density, dtype=float)
    stroma = np.asarray(stromal_density, dtype=float)
    phenotype = np.where(
        tumor >= inflamed_min_tumor_density,
        "inflamed",
        np.where(np.nan_to_num(stroma, nan=-np.inf) >= stromal_min_stroma_density, "stromal", "desert"),
    ).astype(object)
    phenotype[np.isnan(tumor)] = None
    return phenotype


def stromal_density(slides: pd.DataFrame, marker: str = "cd8") -> pd.Series:
    """CD8+ density outside the epithelium: the larger of stroma and invasive margin."""
    columns = [f"{marker}_density_stroma", f"{marker}_density_margin"]
    return slides[columns].max(axis=1, skipna=True)
