"""Demo IHC: QuPath-style detection and annotation exports for simulated biopsies.

Each biopsied patient (truth ``has_biopsy``) gets a baseline slide of one
non-irradiated PET lesion (``lesion_id`` recorded, so slides pair with PET); patients
with an on-treatment scan get an on-treatment biopsy of the same lesion with
probability :data:`ON_TREATMENT_BIOPSY_FRACTION`.

Slide geometry (µm): a 2 x 2 mm field; tumour core = disk of radius 600 around the
centre; invasive margin = annulus 600-900 (tumour cells in its inner half); stroma =
the rest of the field. Annotations ``Tumor``, ``Invasive margin`` and ``Stroma`` carry
the exact areas of those shapes. Cells are placed uniformly (Poisson counts):

* tumour cells (class ``Tumor``) 3000/mm² in the core, 1000/mm² in the inner margin;
* stromal cells (class ``Stroma``) 800/mm² in the stroma and outer margin;
* CD8+ T cells (class ``CD3: CD8``, a dual CD3/CD8 stain) and CD3+CD8- T cells (class
  ``CD3``, :data:`CD3_PER_CD8` - 1 per CD8+ cell) at densities set by the truth
  phenotype (:data:`BASE_CD8_DENSITY`): inflamed = mixed among tumour cells in the core
  (and in margin and stroma), stromal = in stroma and the outer margin around the
  tumour nest, desert = few anywhere; scaled by ``exp(0.35 * cd8_infiltration_z + 0.3 *
  lesion SUV deviation)`` so that density follows the latent infiltration and, within
  a patient, the biopsied lesion's uptake; on-treatment biopsies of responders are
  scaled by ``exp(0.4)`` more (illustrative).

A few cells lie outside every annotation (``Parent`` = ``Image``), as in real exports.
With the default thresholds (100 CD8+/mm²) the phenotypes are recoverable by design:
inflamed tumour-core densities >= ~400, stromal core <= ~40 with stroma >= ~290,
desert <= ~25 everywhere (see tests/workflow/test_ihc_workflow.py).
"""

from __future__ import annotations

__all__ = ["plan_slides", "write_ihc"]

import math
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.io import qupath, write_table
from contexture.parallel import map_units

FIELD_UM = 2000.0
CORE_RADIUS_UM = 600.0
MARGIN_OUTER_UM = 900.0
MARGIN_TUMOR_UM = 750.0  # tumour cells in the inner half of the margin band
TUMOR_CELLS_PER_MM2 = {"core": 3000.0, "margin": 1000.0}
STROMAL_CELLS_PER_MM2 = 800.0
CD3_PER_CD8 = 1.8  # CD3+ = CD8+ plus CD4+ T cells (illustrative ratio)
# CD8+ cells/mm² per phenotype and compartment before the infiltration scaling.
BASE_CD8_DENSITY = {
    "inflamed": {"core": 400.0, "margin": 400.0, "stroma": 250.0},
    "stromal": {"core": 25.0, "margin": 300.0, "stroma": 350.0},
    "desert": {"core": 15.0, "margin": 20.0, "stroma": 20.0},
}
INFILTRATION_SCALE = 0.35
LESION_SCALE = 0.3
RESPONDER_ON_TREATMENT_LOG_CHANGE = 0.4
ON_TREATMENT_BIOPSY_FRACTION = 0.5
OUTSIDE_CELLS = 20
CENTRE = FIELD_UM / 2


def _areas_um2() -> dict[str, float]:
    core = math.pi * CORE_RADIUS_UM**2
    band = math.pi * MARGIN_OUTER_UM**2 - core
    return {"core": core, "margin": band, "stroma": FIELD_UM**2 - math.pi * MARGIN_OUTER_UM**2}


def _points(rng: np.random.Generator, n: int, r_min: float, r_max: float | None) -> np.ndarray:
    """``n`` uniform points in the annulus r_min <= r < r_max around the centre.

    ``r_max`` None means the rest of the square field (rejection sampling).
    """
    if n == 0:
        return np.empty((0, 2))
    if r_max is not None:
        radius = np.sqrt(rng.uniform(r_min**2, r_max**2, n))
        angle = rng.uniform(0, 2 * math.pi, n)
        return np.column_stack([CENTRE + radius * np.cos(angle), CENTRE + radius * np.sin(angle)])
    kept = []
    needed = n
    while needed > 0:
        candidates = rng.uniform(0, FIELD_UM, (int(needed * 1.6) + 16, 2))
        outside = np.hypot(*(candidates - CENTRE).T) >= r_min
        kept.append(candidates[outside][:needed])
        needed -= len(kept[-1])
    return np.concatenate(kept)


def _slide_cells(rng: np.random.Generator, phenotype: str, scale: float) -> pd.DataFrame:
    areas_mm2 = {k: v / 1e6 for k, v in _areas_um2().items()}
    inner_band_mm2 = math.pi * (MARGIN_TUMOR_UM**2 - CORE_RADIUS_UM**2) / 1e6
    outer_band_mm2 = areas_mm2["margin"] - inner_band_mm2
    # Columns gathered as arrays and framed once (a DataFrame per group and a concat cost
    # more than drawing the cells).
    classes, parents, points = [], [], []

    def add(n_expected: float, r_min: float, r_max: float | None, cls: str, parent: str) -> None:
        n = int(rng.poisson(n_expected))
        points.append(_points(rng, n, r_min, r_max))
        classes.append(np.full(n, cls, dtype=object))
        parents.append(np.full(n, parent, dtype=object))

    add(TUMOR_CELLS_PER_MM2["core"] * areas_mm2["core"], 0, CORE_RADIUS_UM, "Tumor", "Tumor")
    add(TUMOR_CELLS_PER_MM2["margin"] * inner_band_mm2, CORE_RADIUS_UM, MARGIN_TUMOR_UM, "Tumor", "Invasive margin")
    add(STROMAL_CELLS_PER_MM2 * outer_band_mm2, MARGIN_TUMOR_UM, MARGIN_OUTER_UM, "Stroma", "Invasive margin")
    add(STROMAL_CELLS_PER_MM2 * areas_mm2["stroma"], MARGIN_OUTER_UM, None, "Stroma", "Stroma")
    base = BASE_CD8_DENSITY[phenotype]
    margin_range = (MARGIN_TUMOR_UM, MARGIN_OUTER_UM) if phenotype == "stromal" else (CORE_RADIUS_UM, MARGIN_OUTER_UM)
    compartments = (
        ("core", areas_mm2["core"], 0.0, CORE_RADIUS_UM, "Tumor"),
        ("margin", areas_mm2["margin"], *margin_range, "Invasive margin"),
        ("stroma", areas_mm2["stroma"], MARGIN_OUTER_UM, None, "Stroma"),
    )
    for name, area, r_min, r_max, parent in compartments:
        # Density is per region area; in the stromal phenotype margin cells crowd its outer half.
        expected = base[name] * scale * area
        add(expected, r_min, r_max, "CD3: CD8", parent)
        add(expected * (CD3_PER_CD8 - 1), r_min, r_max, "CD3", parent)
    # A few cells outside every annotation (slide edge), parent = the image root.
    points.append(rng.uniform(0, 30, (OUTSIDE_CELLS, 2)))
    classes.append(np.full(OUTSIDE_CELLS, "Stroma", dtype=object))
    parents.append(np.full(OUTSIDE_CELLS, "Image", dtype=object))
    xy = np.concatenate(points)
    nucleus_area = np.round(rng.gamma(9.0, 4.0, len(xy)), 1)
    # QuPath lists detections in no particular order; sort spatially for determinism (by y,
    # then x, ties in drawing order: np.lexsort is stable).
    order = np.lexsort((xy[:, 0], xy[:, 1]))
    return pd.DataFrame(
        {
            "class": np.concatenate(classes)[order],
            "parent": np.concatenate(parents)[order],
            "x": xy[order, 0],
            "y": xy[order, 1],
            "nucleus_area": nucleus_area[order],
        }
    )


def _annotations() -> pd.DataFrame:
    areas = _areas_um2()
    return pd.DataFrame(
        {
            "name": ["", "", ""],
            "class": ["Tumor", "Invasive margin", "Stroma"],
            "area": [areas["core"], areas["margin"], areas["stroma"]],
            "x": [CENTRE] * 3,
            "y": [CENTRE] * 3,
        }
    )


def plan_slides(patients: pd.DataFrame, lesions: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Which slides exist: baseline for biopsied patients, on-treatment for some."""
    rng = np.random.default_rng([seed, 0x1C])
    baseline = lesions[(lesions["timepoint"] == "baseline") & ~lesions["irradiated"].astype(bool)].copy()
    baseline["log_suvmax"] = np.log(baseline["suvmax"])
    baseline["suv_deviation"] = baseline["log_suvmax"] - baseline.groupby("patient_id")["log_suvmax"].transform("mean")
    rows = []
    for patient in patients.sort_values("patient_id").itertuples(index=False):
        candidates = baseline[baseline["patient_id"] == patient.patient_id].sort_values("lesion_id")
        biopsied = bool(patient.has_biopsy) and len(candidates) > 0
        pick = int(rng.integers(0, max(len(candidates), 1)))
        on_treatment = bool(patient.has_on_treatment_scan) and rng.random() < ON_TREATMENT_BIOPSY_FRACTION
        if not biopsied:
            continue
        lesion = candidates.iloc[pick]
        common = {
            "patient_id": patient.patient_id,
            "lesion_id": lesion["lesion_id"],
            "phenotype": patient.ihc_phenotype,
            "log_scale": INFILTRATION_SCALE * patient.cd8_infiltration_z + LESION_SCALE * lesion["suv_deviation"],
        }
        rows.append({"slide_id": f"{patient.patient_id}-B", "timepoint": "baseline", **common})
        if on_treatment:
            change = RESPONDER_ON_TREATMENT_LOG_CHANGE if bool(patient.responder) else 0.0
            on = {**common, "log_scale": common["log_scale"] + change}
            rows.append({"slide_id": f"{patient.patient_id}-T", "timepoint": "on_treatment", **on})
    return pd.DataFrame(rows, columns=["slide_id", "timepoint", "patient_id", "lesion_id", "phenotype", "log_scale"])


def _write_slide(unit: tuple[int, str, str, float, Path, int]) -> None:
    """Draw one slide's cells from its own stream and write its detections and annotations."""
    index, slide_id, phenotype, log_scale, out_dir, seed = unit
    rng = np.random.default_rng([seed, 0x1C, index])
    cells = _slide_cells(rng, phenotype, math.exp(log_scale))
    image = f"{slide_id}.svs"
    qupath.write_detections(cells, out_dir / "cells" / f"{slide_id}.tsv.gz", image)
    qupath.write_annotations(_annotations(), out_dir / "annotations" / f"{slide_id}.tsv", image)


def write_ihc(
    truth_patients: pd.DataFrame, truth_lesions: pd.DataFrame, out_dir: str | Path, seed: int, threads: int = 1
) -> pd.DataFrame:
    """Write ``slides.tsv``, ``cells/<slide>.tsv.gz`` and ``annotations/<slide>.tsv`` under ``out_dir``.

    Returns the slide sheet. Deterministic in ``seed`` (one random stream per slide), so
    the slides are written on ``threads`` processes (:func:`contexture.parallel.map_units`)
    with the same files at any thread count.
    """
    out_dir = Path(out_dir)
    plan = plan_slides(truth_patients, truth_lesions, seed)
    units = [
        (index, slide.slide_id, slide.phenotype, float(slide.log_scale), out_dir, seed)
        for index, slide in enumerate(plan.itertuples(index=False))
    ]
    for _ in map_units(_write_slide, units, threads):
        pass
    sheet = pd.DataFrame(
        {
            "slide_id": plan["slide_id"],
            "patient_id": plan["patient_id"],
            "timepoint": plan["timepoint"],
            "lesion_id": plan["lesion_id"],
            "cells": [f"cells/{s}.tsv.gz" for s in plan["slide_id"]],
            "annotations": [f"annotations/{s}.tsv" for s in plan["slide_id"]],
        }
    )
    write_table(sheet, out_dir / "slides.tsv")
    return sheet
