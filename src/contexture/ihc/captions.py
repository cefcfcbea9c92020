"""Report captions of the IHC stage: densities, Immunoscore, cell map, PET correlation, slides."""

from __future__ import annotations

__all__ = ["FACTS"]

import re

from contexture.captioning import Cohort, Facts, format_p, number, patient_count


def _phenotype(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = ", ".join(f"{k} {v}" for k, v in source["ihc_phenotype"].value_counts().sort_index().items())
    return "CD8+ density by immune phenotype", f"n = {len(source)} slides ({counts}); descriptive, no test"


def _immunoscore(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = ", ".join(f"{k} {v}" for k, v in source["immunoscore"].value_counts().sort_index().items())
    return "Immunoscore mean percentiles", f"n = {len(source)} slides ({counts}); descriptive, no test"


def _cell_map(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    if "cell" not in source.columns:
        return "Example IHC cell map", "n = 0 cells (densities supplied as a table)"
    counts = ", ".join(f"{k} {v}" for k, v in source["cell"].value_counts().sort_index().items())
    return "Example IHC cell map", f"n = {len(source)} cells of one slide ({counts}); no test"


def _pet(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/ihc_pet_correlation.tsv")
    source = c.source(name)
    density = next((col for col in source.columns if col.startswith("cd8_density")), "cd8_density_tumor")
    title = "Lesion SUVmax vs CD8+ density"
    rows = table[(table["density"] == density) & table["tau"].notna()] if len(table) else table
    if rows.empty:
        return title, f"n = {len(source)} biopsied lesions; test not run"
    parts = [
        f"{row['timepoint']} n = {int(row['n'])} lesions of {int(row['n_patients'])} patients, Kendall tau-b = "
        f"{number(row['tau'])} ({_level(row['method'])} CI {number(row['ci_low'])} to {number(row['ci_high'])}, bootstrap of patients), "
        f"{format_p(row['p'])}"
        for _, row in rows.iterrows()
    ]
    excluded = int(rows["n_irradiated_excluded"].sum())
    return title, "; ".join(parts) + f"; {excluded} irradiated lesion(s) excluded"


def _level(method: str) -> str:
    match = re.search(r"(\d+%) CI", str(method))
    return match.group(1) if match else ""


def _slides(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/ihc_slides.tsv")
    return "IHC slide table", f"n = {len(table)} slides of {patient_count(table)} patients"


FACTS: dict[str, Facts] = {
    "ihc_cd8_density_by_phenotype.png": _phenotype,
    "ihc_immunoscore_distribution.png": _immunoscore,
    "ihc_cell_map.png": _cell_map,
    "ihc_suvmax_vs_cd8_density.png": _pet,
    "ihc_slides.tsv": _slides,
    "ihc_pet_correlation.tsv": _pet,
}
