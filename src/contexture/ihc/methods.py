"""Methods paragraph of the ihc stage: densities, phenotypes, Immunoscore, PET relation.

The Immunoscore categories are :data:`contexture.ihc.immunoscore.THREE_GROUPS`; slide and
phenotype counts, the regions each phenotype call compared and the pixel sizes used come
from ``tables/ihc_slides.tsv``; the input kind (QuPath exports or a density table) and the
annotation classes of each region from the cohort's ``ihc`` section (schema defaults
filled in); the PET relation is stated only when ``tables/ihc_pet_correlation.tsv`` was
written.
"""

from __future__ import annotations

__all__ = [
    "immunoscore_groups_text",
    "methods_paragraph",
    "phenotype_regions_text",
    "pixel_size_text",
    "region_classes_text",
]

from pathlib import Path

from contexture.ihc.immunoscore import THREE_GROUPS
from contexture.io import read_result_table


def immunoscore_groups_text(groups=THREE_GROUPS) -> str:
    """'Low 0–25%, Intermediate 25–70%, High 70–100%' from the (upper bound, label) pairs."""
    lowers = [0.0] + [upper for upper, _ in groups[:-1]]
    return ", ".join(f"{label} {low:g}–{upper:g}%" for low, (upper, label) in zip(lowers, groups, strict=True))


def region_classes_text(regions: dict) -> str:
    """' (annotation classes: CT Tumor, Tumour; IM ...; ignored Tissue)' from ``ihc.regions``."""
    labels = {"core": "CT", "margin": "IM", "stroma": "stroma", "epithelium": "epithelium", "ignore": "not counted"}
    parts = [f"{labels[key]} {', '.join(regions[key]) or 'none'}" for key in labels if key in regions]
    return f" (annotation classes: {'; '.join(parts)})"


def phenotype_regions_text(slides) -> str:
    """Which regions the phenotype calls compared, with slide counts."""
    if "phenotype_regions" not in slides.columns:
        return "tumour core vs max(stroma, margin)"
    counts = slides["phenotype_regions"].dropna().value_counts()
    return "compared " + ", ".join(f"{name} on {count} slides" for name, count in counts.items())


def pixel_size_text(slides) -> str:
    """The pixel sizes that converted pixel-unit exports, or that every export was in µm."""
    used = slides["pixel_size_um"].dropna() if "pixel_size_um" in slides.columns else slides.iloc[0:0, 0]
    if used.empty:
        return "Centroids and areas were exported in µm."
    sizes = ", ".join(f"{size:g}" for size in sorted(used.unique()))
    return (
        f"Centroids and areas exported in pixels ({len(used)} of {len(slides)} slides) were converted at {sizes} µm "
        "per pixel (coordinates × s, areas × s²)."
    )


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """IHC analysis (``""`` when ``tables/ihc_slides.tsv`` is absent)."""
    cohort_dir = Path(cohort_dir)
    path = cohort_dir / "tables" / "ihc_slides.tsv"
    if not path.is_file():
        return ""
    slides = read_result_table(path)
    counts = slides["ihc_phenotype"].value_counts()
    mix = ", ".join(f"{name} {count}" for name, count in counts.items())
    from_density_table = "densities" in cohort_config["ihc"]
    source = (
        "a per-region density table"
        if from_density_table
        else "cell detections and region annotations (QuPath exports)"
    )
    options = cohort_config["ihc"]
    text = (
        "## CD8 immunohistochemistry\n\n"
        f"{len(slides)} slides of {slides['patient_id'].nunique()} patients were analysed from {source}: "
        "CD8+ and CD3+ cells per mm² in tumour core (CT), invasive margin (IM), "
        f"stroma and epithelium{region_classes_text(options['regions']) if not from_density_table else ''}; "
        f"immune phenotype per slide (desert / stromal / inflamed; {mix}; {phenotype_regions_text(slides)}; "
        "Hegde et al., Clin Cancer Res 2016); Immunoscore from the mean "
        f"percentile of CD3 and CD8 densities in CT and IM ({immunoscore_groups_text()}; "
        "Galon et al., Science 2006; Pagès et al., Lancet 2018) against "
        + (
            "a supplied reference table"
            if (options.get("immunoscore") or {}).get("reference")
            else "the cohort's baseline slides, one per patient"
        )
    )
    if not from_density_table:
        text += "; nearest-neighbour distances of CD8+ cells to tumour cells (k-d tree)"
    text += "."
    if not from_density_table:
        text += " " + pixel_size_text(slides)
    correlation_path = cohort_dir / "tables" / "ihc_pet_correlation.tsv"
    if correlation_path.is_file():
        text += _pet_text(read_result_table(correlation_path), cohort_config)
    return text


def _pet_text(correlation, cohort_config: dict) -> str:
    """The IHC-PET association: per timepoint, irradiated lesions, the clustered interval."""
    options = cohort_config["ihc"]["pet_correlation"]
    exclude = cohort_config["pet_analysis"]["exclude_irradiated"]
    excluded = 0
    if exclude and "n_irradiated_excluded" in correlation:
        excluded = int(correlation.drop_duplicates("timepoint")["n_irradiated_excluded"].fillna(0).sum())
    lesions = (
        f"non-irradiated biopsied lesions ({excluded} irradiated lesion(s) excluded)"
        if exclude
        else "biopsied lesions, irradiated ones included"
    )
    return (
        f" CD8+ density of {lesions} was related to their PET SUVmax by Kendall's tau-b separately at each "
        "timepoint (baseline and on-treatment pairs of the same lesions not pooled), with a "
        f"{options['conf_level']:.0%} percentile bootstrap interval resampling patients ({options['bootstrap']} "
        "resamples), since a patient may contribute several lesions."
    )
