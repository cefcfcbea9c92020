"""Methods paragraph of the ihc stage: densities, phenotypes, Immunoscore, PET relation.

The Immunoscore categories are :data:`contexture.ihc.immunoscore.THREE_GROUPS`; slide and
phenotype counts come from ``tables/ihc_slides.tsv``; the input kind (QuPath exports or a
density table) from the cohort's ``ihc`` section; the PET relation is stated only when
``tables/ihc_pet_correlation.tsv`` was written.
"""

from __future__ import annotations

from pathlib import Path

from contexture.ihc.immunoscore import THREE_GROUPS
from contexture.io import read_result_table


def immunoscore_groups_text(groups=THREE_GROUPS) -> str:
    """'Low 0–25%, Intermediate 25–70%, High 70–100%' from the (upper bound, label) pairs."""
    lowers = [0.0] + [upper for upper, _ in groups[:-1]]
    return ", ".join(f"{label} {low:g}–{upper:g}%" for low, (upper, label) in zip(lowers, groups, strict=True))


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
    text = (
        "## CD8 immunohistochemistry\n\n"
        f"{len(slides)} slides of {slides['patient_id'].nunique()} patients were analysed from {source}: "
        "CD8+ and CD3+ cells per mm² in tumour core, invasive margin and "
        f"stroma; immune phenotype per slide (desert / stromal / inflamed; {mix}); Immunoscore from the mean "
        f"percentile of CD3 and CD8 densities in core and margin ({immunoscore_groups_text()}; "
        "Pagès et al., Lancet 2018)"
    )
    if not from_density_table:
        text += "; nearest-neighbour distances of CD8+ cells to tumour cells (k-d tree)"
    text += "."
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
