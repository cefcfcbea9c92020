"""Cell densities per region and marker, and the immune phenotype of a slide.

Counting follows the QuPath object hierarchy: each detected cell's ``Parent`` is the
innermost annotation containing it, so a cell belongs to the region of that annotation.
Regions are the compartments recommended for TIL assessment in solid tumours by the
International Immuno-Oncology Biomarker Working Group (Hendry et al., Adv Anat Pathol
2017;24:311-335) and the two Immunoscore regions (Galon et al., Science 2006;313:1960-1964;
Pagès et al., Lancet 2018;391:2128-2139). Each annotation class maps to one of
(config ``ihc.regions``):

* ``core``: the tumour centre (CT) as a whole, tumour epithelium plus intratumoural stroma;
* ``margin``: the invasive margin (IM), the band across the tumour border;
* ``epithelium``: tumour epithelium (nests) as drawn by hand or by a pixel classifier;
* ``stroma``: stroma, inside the tumour or around it;
* ``ignore``: no region (a ``Tissue`` outline, necrosis); cells in it are not counted.

An annotation may hold others (the annotation export's ``Parent``): an epithelium and a
stroma annotation made by a pixel classifier inside a CT annotation lie *in* the core. An
annotation lies in the core (or margin) when it or its nearest core/margin ancestor is a
core (margin) annotation. Each annotation's *own* area is its area minus the areas of the
annotations it holds (QuPath reports every annotation's full polygon), so own areas
partition the tissue and the cells whose ``Parent`` it is are exactly the cells of its own
area. The reported regions are sums of own areas and counts:

* ``tumor`` (CT): every non-ignored annotation lying in the core (the core itself and its
  epithelium and stroma children; an ignored child such as necrosis is left out of both
  the cells and the area);
* ``margin`` (IM): every non-ignored annotation lying in the margin;
* ``epithelium`` and ``stroma``: the epithelium (stroma) annotations, wherever they lie;
* ``overall``: every non-ignored annotation.

Flat exports (no ``Parent`` column, or every annotation at the top) reduce to the sum of
each region's annotations, which must then not overlap. QuPath writes a parent's
*displayed* name (its name, else its class) in a child's ``Parent``, so annotations that
share a displayed name must share region and location (two unnamed ``Stroma`` children,
one in the core and one in the margin, cannot be told apart: name them).

Density of marker m in region r (cells per mm²)::

    density[m, r] = n_cells(class in m, in r) / (own area of r in µm² / 10^6)

Immune phenotype (Hegde, Karanikas & Evers, Clin Cancer Res 2016;22:1865-1874; Chen &
Mellman, Nature 2017;541:321-330): *inflamed* when CD8+ cells infiltrate the tumour
parenchyma (epithelium), *stromal* (immune-excluded) when CD8+ cells are present in
stroma (or at the invasive margin) but do not penetrate the epithelium, *desert* when
CD8+ cells are sparse everywhere. Where a slide has epithelium annotations the call is
epithelium versus stroma, as those papers define it; otherwise the tumour core stands for
the parenchyma and the larger of stroma and margin for the stroma (:func:`phenotype_inputs`).
The papers define the phenotypes qualitatively; the numeric thresholds here (100 CD8+
cells/mm² by default, config ``ihc.phenotype``) are our choice of the order of magnitude
digital-pathology studies use (e.g. Sobottka et al., Lab Invest 2021;101:1561-1570, who
derive cohort-specific cut-offs in the tumour centre) -- not a consensus value; set them
for your tumour type and staining.
"""

from __future__ import annotations

__all__ = [
    "CELL_ROLES",
    "MARKERS",
    "PHENOTYPES",
    "REGIONS",
    "annotation_groups",
    "annotation_regions",
    "class_roles",
    "count_cells",
    "densities_from_counts",
    "immune_phenotype",
    "marker_roles",
    "phenotype_inputs",
    "region_membership",
    "stromal_density",
]

import numpy as np
import pandas as pd

from contexture.errors import InputError

MARKERS = ("cd8", "cd3")
# Reported regions (column suffixes): tumour core (CT), invasive margin (IM), stroma, epithelium.
REGIONS = ("tumor", "margin", "stroma", "epithelium")
# Annotation-class regions (config ihc.regions), first match in this order; then "ignore".
ANNOTATION_REGIONS = ("core", "margin", "epithelium", "stroma")
# "positive": QuPath's single-stain classes (Positive, Tumor: Positive), counted as the slide's stain.
CELL_ROLES = ("cd8", "cd3", "tumor", "other", "positive")
PHENOTYPE_REGIONS = {"epithelium": "epithelium vs stroma", "core": "tumour core vs max(stroma, margin)"}
PHENOTYPES = ("desert", "stromal", "inflamed")
UM2_PER_MM2 = 1e6
# Parent of a cell outside every annotation, as QuPath writes it (the root object).
ROOT_PARENTS = ("Image", "")


def _matches(label: str, patterns: list[str]) -> bool:
    """Exact match, a prefix match for ``Ignore*``, or a suffix match for ``*: Positive``."""
    return any(
        label == p
        or (len(p) > 1 and p.endswith("*") and label.startswith(p[:-1]))
        or (len(p) > 1 and p.startswith("*") and label.endswith(p[1:]))
        for p in patterns
    )


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
            "(add them to ihc.cell_classes.cd8 / cd3 / tumor / other / positive)"
        )
    return roles


def annotation_regions(annotations: pd.DataFrame, regions: dict[str, list[str]], *, file: str) -> pd.DataFrame:
    """Assign each annotation its class region (:data:`ANNOTATION_REGIONS` or ``ignore``).

    Raises :class:`InputError` for an annotation class in no list of ``ihc.regions``,
    for a region annotation with a zero, negative or missing area, and for two
    annotations sharing a displayed name but not a region (cells could not be assigned).
    """
    annotations = annotations.copy()
    class_column = annotations.attrs.get("class_column", "Class")
    area_column = annotations.attrs.get("area_column", "Area µm^2")
    region = pd.Series(pd.NA, index=annotations.index, dtype="object")
    for name in (*ANNOTATION_REGIONS, "ignore"):
        hit = annotations["class"].map(lambda label, name=name: _matches(label, regions.get(name, [])))
        region = region.where(region.notna() | ~hit, name)
    unknown = sorted(set(annotations.loc[region.isna(), "class"]))
    if unknown:
        raise InputError(
            f"QuPath annotation export '{file}', column '{class_column}': unknown annotation class(es) {unknown}; "
            f"expected a region of ihc.regions ({', '.join(f'{k}: {v}' for k, v in regions.items())})"
        )
    annotations["region"] = region.astype(str)
    in_region = annotations["region"].isin(ANNOTATION_REGIONS)
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
    if "parent" not in annotations.columns:
        annotations["parent"] = ""
    return annotations


def annotation_groups(annotations: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """One row per displayed annotation name: class region, location, own area (µm²).

    ``annotations`` as from :func:`annotation_regions`. The index is the displayed name
    (what cells carry in ``Parent``); ``location`` is ``core``, ``margin`` or ``""`` (the
    nearest core/margin annotation among itself and its ancestors); ``own_area`` is the
    summed area minus the areas of the annotations it holds. Raises :class:`InputError`
    when an annotation's ``Parent`` names no annotation, when annotations sharing a
    displayed name lie in different locations, or when the annotations an annotation
    holds are larger than it (overlapping annotations).
    """
    parent_column = annotations.attrs.get("parent_column", "Parent")
    names = set(annotations["display_name"])
    region_of = annotations.groupby("display_name")["region"].first().to_dict()
    orphans = ~annotations["parent"].isin(names) & ~annotations["parent"].isin(ROOT_PARENTS)
    if orphans.any():
        row = int(np.flatnonzero(orphans.to_numpy())[0]) + 1
        raise InputError(
            f"QuPath annotation export '{file}', row {row} (line {row + 1}), column '{parent_column}': parent "
            f"'{annotations['parent'][orphans].iloc[0]}' is no annotation of the export (known: {sorted(names)})"
        )
    parents_of = annotations.groupby("display_name")["parent"].agg(lambda p: sorted(set(p))).to_dict()

    def location(name: str, seen: frozenset = frozenset()) -> set[str]:
        if region_of[name] in ("core", "margin"):
            return {region_of[name]}
        found: set[str] = set()
        for parent in parents_of[name]:
            if parent in ROOT_PARENTS or parent == name or parent in seen:
                found.add("")
            else:
                found |= location(parent, seen | {name})
        return found

    rows = []
    for name in sorted(names):
        where = location(name)
        if len(where) > 1:
            raise InputError(
                f"QuPath annotation export '{file}': annotations shown as '{name}' lie in different regions "
                f"({sorted(w or 'outside core and margin' for w in where)}), so their cells cannot be told apart; "
                "give them distinct names (e.g. 'CT stroma' and 'IM stroma')"
            )
        total = float(annotations.loc[annotations["display_name"] == name, "area"].sum())
        held = float(annotations.loc[annotations["parent"] == name, "area"].sum())
        own = total - held
        if own < -1e-9 * max(total, 1.0):
            raise InputError(
                f"QuPath annotation export '{file}': the annotations inside '{name}' cover {held:g} µm², more than "
                f"its own {total:g} µm²; annotations overlap (resolve overlaps in QuPath before exporting)"
            )
        rows.append(
            {"display_name": name, "region": region_of[name], "location": where.pop(), "own_area": max(own, 0.0)}
        )
    return pd.DataFrame(rows).set_index("display_name")


def region_membership(groups: pd.DataFrame) -> np.ndarray:
    """Boolean matrix (reported region of :data:`REGIONS` + ``overall``) x group: which groups each sums."""
    counted = (groups["region"] != "ignore").to_numpy()
    rows = {
        "tumor": counted & (groups["location"] == "core").to_numpy(),
        "margin": counted & (groups["location"] == "margin").to_numpy(),
        "stroma": (groups["region"] == "stroma").to_numpy(),
        "epithelium": (groups["region"] == "epithelium").to_numpy(),
        "overall": counted,
    }
    return np.vstack([rows[r] for r in (*REGIONS, "overall")])


def count_cells(
    cells: pd.DataFrame,
    annotations: pd.DataFrame,
    cell_classes: dict[str, list[str]],
    *,
    cells_file: str,
    annotations_file: str = "",
    class_column: str = "Class",
    parent_column: str = "Parent",
    stain: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Counts of each role per reported region, and each region's area (vectorized, no row loop).

    ``cells`` as from :func:`contexture.io.qupath.read_detections` (categorical ``class``
    and ``parent``); ``annotations`` as from :func:`annotation_regions`. Returns a frame
    indexed by :data:`REGIONS` and ``overall`` with ``area_mm2`` and ``n_<role>`` columns
    (regions without an annotation have area 0 and counts 0). A cell whose ``Parent`` is
    neither the root (``Image``) nor an exported annotation is an :class:`InputError`.
    ``stain`` (the markers stained on the slide, :func:`marker_roles`) decides what the
    ``positive`` classes count as.
    """
    groups = annotation_groups(annotations, file=annotations_file or cells_file)
    parents = list(cells["parent"].cat.categories)
    unknown = [p for p in parents if p not in groups.index and p not in ROOT_PARENTS]
    if unknown:
        raise InputError(
            f"QuPath detection export '{cells_file}', column '{parent_column}': parent(s) {unknown[:10]} "
            f"match no annotation of the slide's annotation export (known: {sorted(groups.index)})"
        )
    group_index = {name: i for i, name in enumerate(groups.index)}
    parent_group = np.array([group_index.get(p, -1) for p in parents], dtype=np.int64)
    roles = class_roles(list(cells["class"].cat.categories), cell_classes, file=cells_file, column=class_column)
    roles = marker_roles(roles, list(cells["class"].cat.categories), stain, file=cells_file, column=class_column)
    group = parent_group[cells["parent"].cat.codes.to_numpy()]
    inside = group >= 0
    class_codes = cells["class"].cat.codes.to_numpy()[inside]
    group = group[inside]
    # Cells per (annotation group, class) in one bincount, then roles and regions by matrix products.
    per_class = np.bincount(group * len(roles) + class_codes, minlength=len(groups) * len(roles)).reshape(
        len(groups), len(roles)
    )
    membership = region_membership(groups).astype(np.int64)
    per_region = membership @ per_class
    counts = per_region @ roles.astype(np.int64)
    index = pd.Index([*REGIONS, "overall"], name="region")
    result = pd.DataFrame(counts, index=index, columns=[f"n_{r}" for r in CELL_ROLES])
    result.insert(0, "n_cells", per_region.sum(axis=1))
    result.insert(0, "area_mm2", membership @ groups["own_area"].to_numpy(float) / UM2_PER_MM2)
    stained = stain if stain is not None else tuple(m for m in MARKERS if roles[:, CELL_ROLES.index(m)].any())
    result.attrs["stained"] = {m: m in stained for m in MARKERS}
    return result


def _stain_label(stain: tuple[str, ...]) -> str:
    return "+".join(marker.upper() for marker in sorted(stain, key=("cd3", "cd8").index))


def marker_roles(
    roles: np.ndarray, categories: list[str], stain: tuple[str, ...] | None, *, file: str, column: str
) -> np.ndarray:
    """Resolve the ``positive`` role to the slide's stain; check classes against the stain.

    ``stain`` is the markers stained on the slide (from the slide sheet's ``stain`` or
    ``ihc.stain``), or None when not stated (then markers are known only from the
    classes, and a ``Positive`` class is an error: positive for what?). A single-marker
    stain turns ``positive`` classes into that marker. A class of a marker the slide is
    not stained for, or ``Positive`` on a multi-marker stain, is an :class:`InputError`.
    """
    roles = roles.copy()
    positive = roles[:, CELL_ROLES.index("positive")]
    marker_columns = [CELL_ROLES.index(m) for m in MARKERS]
    if positive.any():
        labels = [c for c, p in zip(categories, positive, strict=True) if p]
        if stain is None or len(stain) != 1:
            raise InputError(
                f"QuPath detection export '{file}', column '{column}': class(es) {labels} say only positive or "
                f"negative, but the slide's stain is {'not stated' if stain is None else _stain_label(stain)}; "
                "name the one marker of the slide in the slide sheet's 'stain' column or in ihc.stain"
            )
        roles[positive, CELL_ROLES.index(stain[0])] = True
    if stain is not None:
        for marker, j in zip(MARKERS, marker_columns, strict=True):
            other = roles[:, j] & ~positive
            if marker not in stain and other.any():
                labels = [c for c, o in zip(categories, other, strict=True) if o]
                raise InputError(
                    f"QuPath detection export '{file}', column '{column}': class(es) {labels} are "
                    f"{marker.upper()}+ but the slide's stain is {_stain_label(stain)}; correct the slide sheet's "
                    "'stain' or the class lists (ihc.cell_classes)"
                )
    return roles


def densities_from_counts(counts: pd.DataFrame, stained: dict[str, bool] | None = None) -> dict[str, float]:
    """Flat per-slide record: ``area_mm2_<r>``, ``<m>_count_<r>``, ``<m>_density_<r>`` (cells/mm²).

    ``r`` runs over the regions and ``overall`` (pooled). A region without area has a
    missing density; a marker not stained on the slide (``stained[m]`` false: none of its
    classes occurs in the export) has missing counts and densities.
    """
    stained = stained if stained is not None else counts.attrs.get("stained", dict.fromkeys(MARKERS, True))
    record: dict[str, float] = {}
    for region in (*REGIONS, "overall"):
        record[f"area_mm2_{region}"] = float(counts.loc[region, "area_mm2"])
    for marker in MARKERS:
        for region in (*REGIONS, "overall"):
            area = float(counts.loc[region, "area_mm2"])
            n = float(counts.loc[region, f"n_{marker}"])
            ok = stained.get(marker, True) and area > 0
            record[f"{marker}_count_{region}"] = n if stained.get(marker, True) else np.nan
            record[f"{marker}_density_{region}"] = n / area if ok else np.nan
    record["tumor_cell_count"] = float(counts.loc["overall", "n_tumor"])
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


def phenotype_inputs(slides: pd.DataFrame, marker: str = "cd8") -> pd.DataFrame:
    """The parenchymal and stromal densities the phenotype call compares, and which regions they are.

    A slide with an epithelium density (epithelium annotated) compares epithelium with
    stroma (Hegde et al. 2016: CD8+ cells in the tumour parenchyma vs retained in the
    stroma). Otherwise the tumour core stands for the parenchyma and the larger of stroma
    and invasive margin for the stroma (:func:`stromal_density`). Returns
    ``parenchyma``, ``stromal`` (cells/mm²) and ``phenotype_regions`` (a
    :data:`PHENOTYPE_REGIONS` value).
    """
    epithelium = slides.get(f"{marker}_density_epithelium", pd.Series(np.nan, index=slides.index)).astype(float)
    has_epithelium = epithelium.notna()
    stroma = slides.get(f"{marker}_density_stroma", pd.Series(np.nan, index=slides.index)).astype(float)
    return pd.DataFrame(
        {
            "parenchyma": epithelium.where(has_epithelium, slides[f"{marker}_density_tumor"].astype(float)),
            "stromal": stroma.where(has_epithelium, stromal_density(slides, marker)),
            "phenotype_regions": np.where(
                has_epithelium, PHENOTYPE_REGIONS["epithelium"], PHENOTYPE_REGIONS["core"]
            ).astype(object),
        },
        index=slides.index,
    )
