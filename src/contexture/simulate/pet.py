"""Demo PET raw files from the latent truth: NIfTI + BIDS-PET and DICOM series, label masks.

For every simulated scan (baseline, and on-treatment where drawn) a 64 x 64 x 48 volume
of 4 mm voxels is written with:

* a body (elliptic cylinder, background SUV 0.6 with 5 % multiplicative noise), an aorta
  (blood pool, SUV ~2) and a paraspinal muscle block (SUV ~0.5) as reference regions;
* each lesion a sphere of its drawn volume centred on a voxel centre; the centre voxel
  holds exactly the drawn SUVmax, the others 70-95 % of it (noisy, never above), so the
  measured SUVmax reproduces the truth up to storage precision (float32 NIfTI, or int16
  with a per-slice RescaleSlope in DICOM: relative error < 2e-5);
* 89Zr injected 2 days (+- 3 h) before the scan: stored activity concentration
  = SUV * D exp(-lambda t) / (1000 W) Bq/ml, decay-corrected to the scan start.

Every 8th patient (the 2nd, 10th, ...) is written as a DICOM series (files with random
names, so file order is not slice order); the first of those carries only the
injection clock time (RadiopharmaceuticalStartTime) and its date goes in the scans
table's ``injection_date``. Every 4th scan has its mask on a 2 mm grid shifted by 0.6 mm,
so the quantification must resample; every 5th NIfTI sidecar omits BodyWeight so the
clinical weight is used. Two DICOM patients (:data:`DICOM_MASK_PATIENTS`, the 10th and the
18th) have their regions as a DICOM RTSTRUCT (analytic contours on 2 mm planes,
:func:`region_contours`; ROIName = lesion_id, ``aorta``, ``muscle``) and as a DICOM SEG of
the scan's label map on its own grid (the 2 mm grid where the NIfTI mask is, so the
demo's SEG is resampled too; SegmentLabel likewise) in the scans table; their NIfTI label
map is written beside them. Every scan carries the patient's sex and a height (drawn from a
generator of its own, so adding it changed no other draw: male N(178, 7) cm, female
N(165, 6.5) cm, clipped to 150-200 cm) as DICOM PatientSize/PatientSex or the sidecar's
PatientSize (m)/PatientSex (dcm2niix's names), so the lesion table has SUL. Deterministic
from the cohort seed: every random number is drawn in one pass, in the order of a
sequential loop (:func:`_plan_scans`), and the scans are written on ``threads`` processes
as they are planned, so the files are the same at any thread count (docs/scale.md).

Dose finding (``pet.simulate_dose_finding.patients`` > 0; 89ZED88082A part A): extra
patients ``DF01``, ``DF02``, ... (not in the clinical cohort), half at 4 mg and half at
10 mg protein dose, each scanned 0, 2, 4 and 7 days after one injection (NIfTI, no
lesions) with seven reference regions -- blood pool (aorta), spleen, liver, kidney
cortex, bone marrow (vertebral body), a normal lymph node and muscle. Region SUVs
follow published-like kinetics (:data:`DOSE_FINDING_KINETICS`: blood pool falling over
days, spleen high and higher at the lower dose, an antigen sink) with a random patient
effect per tissue and scan noise on the log scale; the truth is written to
``dose_finding_truth.yaml`` beside ``scans.tsv``. Their scans carry
``days_post_injection`` and ``protein_dose_mg`` in the scans table.
"""

from __future__ import annotations

__all__ = [
    "DOSE_FINDING_DAYS",
    "DOSE_FINDING_KINETICS",
    "bids_pet_sidecar",
    "contour_planes_mm",
    "fine_affine",
    "fine_labels",
    "pet_affine",
    "place_lesions",
    "region_contours",
    "scan_volumes",
    "simulate_dose_finding_truth",
    "simulated_heights_m",
    "write_dose_finding",
    "write_pet_raw",
]

import datetime as dt
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.io import write_table, write_yaml
from contexture.io.pet_images import write_dicom_pet, write_nifti
from contexture.io.pet_masks import write_rtstruct, write_segmentation
from contexture.parallel import map_units
from contexture.pet.suv import ZR89_HALF_LIFE_S, decayed_activity

log = logging.getLogger(__name__)

SHAPE = (64, 64, 48)
VOXEL_MM = 4.0
BACKGROUND_SUV = 0.6
MUSCLE_SUV = 0.5
INJECTED_MBQ = 37.0  # 89ZED88082A protocol activity
REFERENCE_LABELS = {"aorta": 101, "muscle": 102}
# Patients (0-based index in patient order; both are DICOM patients, index % 8 == 1) whose
# scans table names their lesions and reference regions as an RTSTRUCT or a DICOM SEG
# instead of the NIfTI label map, so the demo reads every mask form.
DICOM_MASK_PATIENTS = {9: "rtstruct", 17: "seg"}

# Dose finding: geometric mean SUVmean at the 4 mg dose on days 0, 2, 4, 7 after
# injection, and the ratio 10 mg / 4 mg (constant over days). Shapes follow the published
# description of 89ZED88082A part A (blood pool clearing over days; spleen, a CD8-rich
# sink, saturating less at the higher protein dose); the values are illustrative.
DOSE_FINDING_DAYS = (0, 2, 4, 7)
DOSE_FINDING_DOSES_MG = (4.0, 10.0)
DOSE_FINDING_KINETICS = {
    "blood_pool": {"suvmean_4mg": [10.0, 5.0, 3.2, 1.9], "ratio_10mg_4mg": 1.5},
    "spleen": {"suvmean_4mg": [25.0, 40.0, 38.0, 30.0], "ratio_10mg_4mg": 0.6},
    "liver": {"suvmean_4mg": [6.0, 7.0, 6.5, 5.5], "ratio_10mg_4mg": 1.1},
    "kidney_cortex": {"suvmean_4mg": [5.0, 5.5, 5.0, 4.0], "ratio_10mg_4mg": 1.1},
    "bone_marrow": {"suvmean_4mg": [3.5, 5.0, 5.0, 4.5], "ratio_10mg_4mg": 0.9},
    "lymph_node": {"suvmean_4mg": [2.0, 4.0, 4.5, 4.0], "ratio_10mg_4mg": 0.85},
    "muscle": {"suvmean_4mg": [0.6, 0.6, 0.55, 0.5], "ratio_10mg_4mg": 1.0},
}
DOSE_FINDING_SD = {"patient": 0.15, "scan": 0.08}  # log scale, per tissue
DOSE_FINDING_LABELS = {tissue: 101 + i for i, tissue in enumerate(DOSE_FINDING_KINETICS)}


def bids_pet_sidecar(dose_bq: float, scan_start: dt.datetime, elapsed_s: int, **extra) -> dict:
    """The BIDS-PET sidecar of a simulated static 89Zr scan, decay-corrected to scan start.

    Times follow BIDS-PET: seconds relative to ``TimeZero`` (the scan start), so the
    injection is at ``-elapsed_s``; ``ScanDate`` carries the date 89Zr's days-long gap needs.
    ``extra`` adds or overrides keys (e.g. ``BodyWeight``, ``InjectedMass``).
    """
    return {
        "Modality": "PT",
        "Manufacturer": "contexture simulator",
        "TracerName": "89ZED88082A",
        "TracerRadionuclide": "Zr89",
        "InjectedRadioactivity": round(dose_bq / 1e6, 4),
        "InjectedRadioactivityUnits": "MBq",
        "TimeZero": scan_start.strftime("%H:%M:%S"),
        "ScanDate": scan_start.date().isoformat(),
        "ScanStart": 0,
        "InjectionStart": -elapsed_s,
        "FrameTimesStart": [0],
        "FrameDuration": [1800],
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
        "Units": "Bq/mL",
        **extra,
    }


def simulated_heights_m(sexes: pd.Series, seed: int) -> np.ndarray:
    """Body heights (m, two decimals) by sex, from a generator of their own (module docstring)."""
    rng = np.random.default_rng([seed, 89, 170])
    male = sexes.astype(str).str.upper().str.startswith("M").to_numpy()
    heights_cm = np.where(male, rng.normal(178.0, 7.0, len(male)), rng.normal(165.0, 6.5, len(male)))
    return np.round(np.clip(heights_cm, 150.0, 200.0) / 100.0, 2)


def pet_affine() -> np.ndarray:
    """RAS affine of the PET grid (DICOM-like: x toward patient left, y toward posterior)."""
    affine = np.diag([-VOXEL_MM, -VOXEL_MM, VOXEL_MM, 1.0])
    affine[:3, 3] = [VOXEL_MM * (SHAPE[0] - 1) / 2, VOXEL_MM * (SHAPE[1] - 1) / 2, -VOXEL_MM * (SHAPE[2] - 1) / 2]
    return affine


def fine_affine() -> np.ndarray:
    """A 2 mm mask grid shifted by 0.6 mm from the PET grid (as if drawn on CT)."""
    affine = np.diag([-2.0, -2.0, 2.0, 1.0])
    affine[:3, 3] = pet_affine()[:3, 3] + np.array([0.6, -0.6, 0.6]) + np.array([1.0, 1.0, -1.0])
    return affine


def _world(shape, affine) -> np.ndarray:
    index = np.indices(shape, dtype=np.float64).reshape(3, -1)
    return (affine[:3, :3] @ index + affine[:3, 3:4]).T.reshape(*shape, 3)


def _sphere(shape, affine, centre, radius) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray]:
    """Bounding box (slices), mask of voxel centres within ``radius`` mm and their distances."""
    inverse = np.linalg.inv(affine)
    c = inverse[:3, :3] @ centre + inverse[:3, 3]
    reach = radius / np.abs(np.diag(affine)[:3]) + 1
    box = tuple(
        slice(max(int(np.floor(ci - r)), 0), min(int(np.ceil(ci + r)) + 1, n))
        for ci, r, n in zip(c, reach, shape, strict=True)
    )
    index = np.indices(tuple(b.stop - b.start for b in box), dtype=np.float64)
    index += np.array([b.start for b in box], dtype=np.float64).reshape(3, 1, 1, 1)
    world = np.tensordot(affine[:3, :3], index, axes=1) + affine[:3, 3].reshape(3, 1, 1, 1)
    distance = np.sqrt(((world - centre.reshape(3, 1, 1, 1)) ** 2).sum(0))
    return box, distance <= radius, distance


@cache
def _grid_regions(fine: bool) -> dict[str, np.ndarray]:
    """Body, aorta and muscle masks of the PET grid (or the fine mask grid), computed once."""
    shape = tuple(int(n * VOXEL_MM / 2) for n in SHAPE) if fine else SHAPE
    return _regions(_world(shape, fine_affine() if fine else pet_affine()))


def _regions(world: np.ndarray) -> dict[str, np.ndarray]:
    x, y = world[..., 0], world[..., 1]
    return {
        "body": (x / 110.0) ** 2 + (y / 80.0) ** 2 <= 1.0,
        "aorta": (x - 15.0) ** 2 + (y + 20.0) ** 2 <= 11.0**2,
        "muscle": (np.abs(x + 35.0) <= 14.0) & (np.abs(y - 55.0) <= 10.0),
    }


@cache
def _dose_finding_regions() -> dict[str, np.ndarray]:
    """Organ masks of the dose-finding phantom on the PET grid (world mm, RAS)."""
    world = _world(SHAPE, pet_affine())
    x, y, z = world[..., 0], world[..., 1], world[..., 2]
    base = _regions(world)
    kidney_outer = ((x - 45) / 20) ** 2 + ((y - 40) / 15) ** 2 + ((z + 30) / 25) ** 2 <= 1
    kidney_inner = ((x - 45) / 12) ** 2 + ((y - 40) / 8) ** 2 + ((z + 30) / 17) ** 2 <= 1
    return {
        "body": base["body"],
        "blood_pool": base["aorta"],
        "spleen": (x - 60) ** 2 + (y - 20) ** 2 + (z - 20) ** 2 <= 20**2,
        "liver": ((x + 50) / 30) ** 2 + ((y + 10) / 25) ** 2 + ((z - 20) / 25) ** 2 <= 1,
        "kidney_cortex": kidney_outer & ~kidney_inner,
        "bone_marrow": x**2 + (y - 40) ** 2 <= 9**2,
        "lymph_node": (x + 20) ** 2 + (y + 45) ** 2 + (z + 40) ** 2 <= 8**2,
        "muscle": base["muscle"],
    }


def simulate_dose_finding_truth(patients: int, seed: int) -> pd.DataFrame:
    """Per dose-finding patient, day and tissue: the simulated SUVmean (the truth).

    ln SUV = ln(kinetics at 4 mg, day) + [10 mg] ln(ratio) + b_(patient, tissue) + e,
    b ~ N(0, 0.15^2), e ~ N(0, 0.08^2).
    """
    rng = np.random.default_rng([seed, 89, 2])
    width = max(2, len(str(patients)))
    rows = []
    for number in range(1, patients + 1):
        pid = f"DF{number:0{width}d}"
        dose = DOSE_FINDING_DOSES_MG[(number - 1) % 2]
        for tissue, kinetics in DOSE_FINDING_KINETICS.items():
            effect = rng.normal(0.0, DOSE_FINDING_SD["patient"])
            for day, level in zip(DOSE_FINDING_DAYS, kinetics["suvmean_4mg"], strict=True):
                log_suv = math.log(level) + (math.log(kinetics["ratio_10mg_4mg"]) if dose == 10.0 else 0.0)
                log_suv += effect + rng.normal(0.0, DOSE_FINDING_SD["scan"])
                rows.append(
                    {"patient_id": pid, "protein_dose_mg": dose, "days_post_injection": day, "tissue": tissue,
                     "suvmean": math.exp(log_suv)}
                )  # fmt: skip
    return pd.DataFrame(rows)


def write_dose_finding(out_dir: Path, patients: int, seed: int) -> list[dict]:
    """Write the dose-finding scans (NIfTI + sidecar, mask, labels) and their truth; return scans rows."""
    truth = simulate_dose_finding_truth(patients, seed)
    regions = _dose_finding_regions()
    rng = np.random.default_rng([seed, 89, 3])
    labels_table = pd.DataFrame(
        [
            {"label": label, "lesion_id": None, "site": None, "kind": "reference", "irradiated": None,
             "reference_region": tissue}
            for tissue, label in DOSE_FINDING_LABELS.items()
        ]
    )  # fmt: skip
    mask = np.zeros(SHAPE, dtype=np.int16)
    for tissue, label in DOSE_FINDING_LABELS.items():
        mask[regions[tissue]] = label
    rows = []
    injection_day = -14  # part A: imaging series before treatment start
    for pid, own in truth.groupby("patient_id", sort=True):
        weight = round(float(rng.uniform(55, 95)), 1)
        dose_mg = float(own["protein_dose_mg"].iloc[0])
        injection = dt.datetime(2020, 1, 6, 10, 0) + dt.timedelta(minutes=int(rng.integers(0, 120)))
        dose_bq = INJECTED_MBQ * 1e6 * float(rng.uniform(0.95, 1.05))
        for day, scan in own.groupby("days_post_injection", sort=True):
            level = dict(zip(scan["tissue"], scan["suvmean"], strict=True))
            noise = np.clip(rng.normal(0.0, 0.05, SHAPE), -0.15, 0.15)
            suv = np.zeros(SHAPE)
            suv[regions["body"]] = BACKGROUND_SUV
            for tissue in DOSE_FINDING_LABELS:
                suv[regions[tissue]] = level[tissue]
            suv *= 1.0 + noise
            # Day 0: imaged 1-3 h after injection.
            elapsed = int(day) * 86400 + int(rng.integers(3600, 3 * 3600))
            scan_start = injection + dt.timedelta(seconds=elapsed)
            activity = (suv * decayed_activity(dose_bq, elapsed, ZR89_HALF_LIFE_S) / (weight * 1000.0)).astype(
                np.float32
            )
            folder = out_dir / "images" / f"{pid}_day{int(day)}"
            folder.mkdir(parents=True, exist_ok=True)
            sidecar = bids_pet_sidecar(
                dose_bq, scan_start, elapsed, InjectedMass=dose_mg, InjectedMassUnits="mg", BodyWeight=weight
            )
            write_nifti(folder / "pet.nii.gz", activity, pet_affine(), sidecar=sidecar)
            write_nifti(folder / "mask.nii.gz", mask, pet_affine())
            write_table(labels_table, folder / "labels.tsv")
            rows.append(
                {
                    "patient_id": pid,
                    "timepoint": "baseline",
                    "scan_day": injection_day + int(day),
                    "image": f"images/{pid}_day{int(day)}/pet.nii.gz",
                    "mask": f"images/{pid}_day{int(day)}/mask.nii.gz",
                    "labels": f"images/{pid}_day{int(day)}/labels.tsv",
                    "injection_date": None,
                    "days_post_injection": int(day),
                    "protein_dose_mg": dose_mg,
                }
            )
    write_yaml(
        {
            "description": "Simulated dose-finding part (89ZED88082A part A): the truth of the biodistribution.",
            "model": "ln SUVmean = ln(suvmean_4mg[day]) + [10 mg] ln(ratio_10mg_4mg) + b(patient, tissue) + e",
            "days_post_injection": list(DOSE_FINDING_DAYS),
            "protein_doses_mg": list(DOSE_FINDING_DOSES_MG),
            "sd_log": dict(DOSE_FINDING_SD),
            "kinetics": {t: {k: v for k, v in d.items()} for t, d in DOSE_FINDING_KINETICS.items()},
            "patients": {
                str(pid): float(dose) for pid, dose in truth.groupby("patient_id")["protein_dose_mg"].first().items()
            },
            "scans": [
                {"patient_id": r.patient_id, "days_post_injection": int(r.days_post_injection), "tissue": r.tissue,
                 "suvmean": round(float(r.suvmean), 6)}
                for r in truth.itertuples()
            ],
        },
        out_dir / "dose_finding_truth.yaml",
    )  # fmt: skip
    return rows


def place_lesions(radii_mm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sphere centres (world mm, on PET voxel centres) inside the body, apart from each
    other (gap >= 8 mm) and from the aorta and muscle (>= 12 mm). Largest first."""
    affine = pet_affine()
    centres = np.zeros((len(radii_mm), 3))
    order = np.argsort(-radii_mm, kind="stable")
    placed: list[int] = []
    for index in order:
        radius = radii_mm[index]
        for _attempt in range(5000):
            ijk = np.array(
                [rng.integers(2, SHAPE[0] - 2), rng.integers(2, SHAPE[1] - 2), rng.integers(2, SHAPE[2] - 2)]
            )
            c = affine[:3, :3] @ ijk + affine[:3, 3]
            if (abs(c[0]) + radius + 8) / 110 > 1 or (abs(c[1]) + radius + 8) / 80 > 1:
                continue
            if abs(c[2]) + radius + 4 > VOXEL_MM * SHAPE[2] / 2:
                continue
            if math.hypot(c[0] - 15, c[1] + 20) < radius + 11 + 12:
                continue
            if abs(c[0] + 35) < radius + 14 + 12 and abs(c[1] - 55) < radius + 10 + 12:
                continue
            if any(np.linalg.norm(c - centres[o]) < radius + radii_mm[o] + 8 for o in placed):
                continue
            centres[index] = c
            placed.append(index)
            break
        else:
            raise RuntimeError("could not place the simulated lesions without overlap")
    return centres


def scan_volumes(
    lesions: pd.DataFrame, centres: np.ndarray, blood_suv: float, rng: np.random.Generator, fine_mask: bool
):
    """SUV volume on the PET grid and the label map (on the PET grid, or the fine grid)."""
    regions = _grid_regions(False)
    noise = np.clip(rng.normal(0.0, 0.05, SHAPE), -0.15, 0.15)
    suv = np.zeros(SHAPE)
    suv[regions["body"]] = BACKGROUND_SUV
    suv[regions["aorta"]] = blood_suv
    suv[regions["muscle"]] = MUSCLE_SUV
    suv *= 1.0 + noise
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[regions["aorta"]] = REFERENCE_LABELS["aorta"]
    labels[regions["muscle"]] = REFERENCE_LABELS["muscle"]
    radii = (3 * lesions["volume_ml"].to_numpy() * 1000 / (4 * math.pi)) ** (1 / 3)
    for number, (centre, radius, suvmax) in enumerate(zip(centres, radii, lesions["suvmax"], strict=True), start=1):
        if not np.isfinite(suvmax):
            continue
        box, inside, distance = _sphere(SHAPE, pet_affine(), centre, radius)
        profile = 0.70 + 0.25 * (1 - distance / radius)
        values = suvmax * np.minimum(profile * (1 + noise[box]), 0.97)
        suv[box][inside] = values[inside]
        labels[box][inside] = number
        centre_index = tuple(np.rint(np.linalg.inv(pet_affine()) @ np.append(centre, 1))[:3].astype(int))
        suv[centre_index] = suvmax
        labels[centre_index] = number
    if not fine_mask:
        return suv.astype(np.float32), labels
    return suv.astype(np.float32), fine_labels(centres, radii)


def fine_labels(centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """The label map on the 2 mm mask grid (:func:`fine_affine`): lesions 1, 2, ..., aorta, muscle."""
    fine_shape = tuple(int(n * VOXEL_MM / 2) for n in SHAPE)
    fine_regions = _grid_regions(True)
    fine = np.zeros(fine_shape, dtype=np.int16)
    fine[fine_regions["aorta"]] = REFERENCE_LABELS["aorta"]
    fine[fine_regions["muscle"]] = REFERENCE_LABELS["muscle"]
    for number, (centre, radius) in enumerate(zip(centres, radii, strict=True), start=1):
        box, inside, _ = _sphere(fine_shape, fine_affine(), centre, radius)
        fine[box][inside] = number
    return fine


def contour_planes_mm() -> np.ndarray:
    """RTSTRUCT contour planes (z, mm): every 2 mm, through every PET slice centre and midway
    between them (as if drawn on a 2 mm CT)."""
    first = pet_affine()[2, 3]
    return first + (VOXEL_MM / 2) * np.arange(2 * SHAPE[2] - 1)


def _polygon(x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
    return np.column_stack([x, y, np.full(len(x), z)])


def region_contours(centres: np.ndarray, radii: np.ndarray, points: int = 128) -> list[list[np.ndarray]]:
    """Closed planar contours (RAS mm) of each lesion sphere, then of the aorta and the muscle.

    What a reader drawing on a 2 mm CT would export: per plane of :func:`contour_planes_mm`,
    a circle (``points`` vertices, inscribed) of each sphere's section; the aorta's circle and
    the muscle's rectangle (:func:`_regions`) on every plane.
    """
    angle = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    planes = contour_planes_mm()
    rois = []
    for centre, radius in zip(centres, radii, strict=True):
        contours = []
        for z in planes:
            if abs(z - centre[2]) < radius:
                r = math.sqrt(radius**2 - (z - centre[2]) ** 2)
                contours.append(_polygon(centre[0] + r * np.cos(angle), centre[1] + r * np.sin(angle), z))
        rois.append(contours)
    rois.append([_polygon(15.0 + 11.0 * np.cos(angle), -20.0 + 11.0 * np.sin(angle), z) for z in planes])
    rectangle_x, rectangle_y = np.array([-49.0, -21.0, -21.0, -49.0]), np.array([45.0, 45.0, 65.0, 65.0])
    rois.append([_polygon(rectangle_x, rectangle_y, z) for z in planes])
    return rois


@dataclass(frozen=True)
class _Scan:
    """One simulated scan with every random number it needs already drawn (:func:`write_pet_raw`).

    ``noise_state`` is the cohort generator's state just before the scan's voxel noise;
    :func:`_write_scan` draws the noise again from it, so the unit stays small (no 1.5 MB
    array per scan held in memory or sent to a worker) and the volume is the one a
    single sequential pass would build.
    """

    out_dir: Path
    seed: int
    index: int  # the patient's 0-based position in patient order
    pid: str
    timepoint: str
    scan: pd.DataFrame  # this scan's lesions, in the patient's baseline order
    centres: np.ndarray
    blood_suv: float
    noise_state: dict
    scan_number: int
    scan_day: int
    scan_start: dt.datetime
    injection: dt.datetime
    dose_bq: float
    weight: float
    height_m: float
    sex: str
    dicom: bool
    time_only: bool
    file_names: list[str] | None


def _plan_scans(
    patients: pd.DataFrame, lesions: pd.DataFrame, heights_m: np.ndarray, out_dir: Path, seed: int
) -> Iterator[_Scan]:
    """Every scan's random draws, in the one order the cohort generator has always been drawn in.

    Per patient: lesion centres, blood-pool SUV; per scan: scan clock time, injection
    offset, injected activity, blood-pool factor, voxel noise (skipped here, see
    :class:`_Scan`), DICOM file names. Changing this order changes every file. A
    generator: the scans are written while the later ones are still being planned.
    """
    rng = np.random.default_rng([seed, 89])
    scan_number = 0
    # Each patient's rows, in table order (as a boolean filter per patient gives them, in
    # one pass instead of one scan of the table per patient).
    by_patient = {str(pid): own for pid, own in lesions.groupby("patient_id", sort=False)}
    for index, patient in patients.iterrows():
        pid = str(patient["patient_id"])
        own = by_patient.get(pid, lesions.iloc[:0])
        dicom = index % 8 == 1
        baseline = own[own["timepoint"] == "baseline"].reset_index(drop=True)
        radii = (3 * own.groupby("lesion_id")["volume_ml"].max() * 1000 / (4 * math.pi)) ** (1 / 3)
        radii = radii.reindex(baseline["lesion_id"]).to_numpy()
        centres = place_lesions(radii, rng)
        blood_suv = float(rng.uniform(1.6, 2.6))
        start = dt.datetime.fromisoformat(str(patient["treatment_start_date"]))
        for timepoint in ("baseline", "on_treatment"):
            scan = (
                own[own["timepoint"] == timepoint].set_index("lesion_id").reindex(baseline["lesion_id"]).reset_index()
            )
            if scan["suvmax"].isna().all():
                continue
            scan_number += 1
            scan_day = int(scan["scan_day"].iloc[0])
            scan_start = start + dt.timedelta(
                days=scan_day, hours=int(rng.integers(9, 15)), minutes=int(rng.integers(0, 60))
            )
            injection = scan_start - dt.timedelta(days=2, seconds=int(rng.integers(-3 * 3600, 3 * 3600)))
            dose_bq = INJECTED_MBQ * 1e6 * float(rng.uniform(0.95, 1.05))
            scan_blood_suv = blood_suv * float(rng.uniform(0.9, 1.1))
            noise_state = rng.bit_generator.state
            # The very draw scan_volumes makes, to move the stream past it (2 ms a scan).
            rng.normal(0.0, 0.05, SHAPE)
            names = [f"{rng.integers(0, 16**8):08x}.dcm" for _ in range(SHAPE[2])] if dicom else None
            yield _Scan(
                out_dir=out_dir,
                seed=seed,
                index=index,
                pid=pid,
                timepoint=timepoint,
                scan=scan,
                centres=centres,
                blood_suv=scan_blood_suv,
                noise_state=noise_state,
                scan_number=scan_number,
                scan_day=scan_day,
                scan_start=scan_start,
                injection=injection,
                dose_bq=dose_bq,
                weight=float(patient["weight_kg"]),
                height_m=heights_m[index],
                sex=str(patient["sex"]),
                dicom=dicom,
                time_only=dicom and index == 1,
                file_names=names,
            )


def _write_scan(unit: _Scan) -> dict:
    """Build one scan's volumes and write its image, masks and labels tables; return its scans row."""
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = unit.noise_state
    pid, timepoint, scan, centres, seed = unit.pid, unit.timepoint, unit.scan, unit.centres, unit.seed
    fine_mask = unit.scan_number % 4 == 0
    suv, labels = scan_volumes(scan, centres, unit.blood_suv, rng, fine_mask)
    elapsed = (unit.scan_start - unit.injection).total_seconds()
    activity = suv * np.float32(decayed_activity(unit.dose_bq, elapsed, ZR89_HALF_LIFE_S) / (unit.weight * 1000.0))
    folder = unit.out_dir / "images" / f"{pid}_{timepoint}"
    folder.mkdir(parents=True, exist_ok=True)
    # The NIfTI mask is written for every scan (also where the scans table names the
    # patient's RTSTRUCT or SEG), so that every form can be compared on the same scan.
    write_nifti(folder / "mask.nii.gz", labels, fine_affine() if fine_mask else pet_affine())
    row = {"patient_id": pid, "timepoint": timepoint, "scan_day": unit.scan_day}
    if unit.dicom:
        write_dicom_pet(
            folder / "dicom",
            activity,
            pet_affine(),
            patient_id=pid,
            weight_kg=unit.weight,
            injected_bq=unit.dose_bq,
            half_life_s=ZR89_HALF_LIFE_S,
            injection=unit.injection,
            scan_start=unit.scan_start,
            uid_seed=f"{seed}-{pid}-{timepoint}",
            injection_datetime_tag=not unit.time_only,
            file_names=unit.file_names,
            height_m=unit.height_m,
            sex=unit.sex,
        )
        row["image"] = f"images/{pid}_{timepoint}/dicom"
        row["injection_date"] = unit.injection.date().isoformat() if unit.time_only else None
    else:
        sidecar = bids_pet_sidecar(
            unit.dose_bq,
            unit.scan_start,
            elapsed,
            ModeOfAdministration="bolus",
            AttenuationCorrection="CT-based",
            ReconMethodName="OSEM",
            PatientSize=unit.height_m,
            PatientSex=unit.sex,
        )
        if unit.scan_number % 5 != 0:
            sidecar["BodyWeight"] = unit.weight
        write_nifti(folder / "pet.nii.gz", activity, pet_affine(), sidecar=sidecar)
        row["image"] = f"images/{pid}_{timepoint}/pet.nii.gz"
        row["injection_date"] = None
    label_rows = [
        {
            "label": number,
            "lesion_id": lesion,
            "site": site,
            "kind": "lesion",
            "irradiated": "true" if irradiated else "false",
            "reference_region": None,
        }
        for number, (lesion, site, irradiated) in enumerate(
            zip(scan["lesion_id"], scan["site"], scan["irradiated"].astype(bool), strict=True), start=1
        )
    ]
    label_rows += [
        {"label": label, "lesion_id": None, "site": None, "kind": "reference", "irradiated": None,
         "reference_region": region}
        for region, label in REFERENCE_LABELS.items()
    ]  # fmt: skip
    write_table(pd.DataFrame(label_rows), folder / "labels.tsv")
    row["mask"] = f"images/{pid}_{timepoint}/mask.nii.gz"
    row["labels"] = f"images/{pid}_{timepoint}/labels.tsv"
    form = DICOM_MASK_PATIENTS.get(unit.index) if unit.dicom else None
    if form is not None:
        names = {item["label"]: str(item["lesion_id"] or item["reference_region"]) for item in label_rows}
        if form == "rtstruct":
            scan_radii = (3 * scan["volume_ml"].to_numpy() * 1000 / (4 * math.pi)) ** (1 / 3)
            rois = dict(zip(names.values(), region_contours(centres, scan_radii), strict=True))
            write_rtstruct(folder / "rtstruct.dcm", rois, folder / "dicom", uid_seed=f"{seed}-{pid}-{timepoint}")
        else:
            write_segmentation(
                folder / "seg.dcm",
                labels,
                fine_affine() if fine_mask else pet_affine(),
                names,
                folder / "dicom",
                uid_seed=f"{seed}-{pid}-{timepoint}",
                reference_values=frozenset(REFERENCE_LABELS.values()),
            )
        labels_table = pd.DataFrame(label_rows).assign(label=[names[v] for v in names])
        write_table(labels_table, folder / f"labels_{form}.tsv")
        row["mask"] = f"images/{pid}_{timepoint}/{'rtstruct' if form == 'rtstruct' else 'seg'}.dcm"
        row["labels"] = f"images/{pid}_{timepoint}/labels_{form}.tsv"
    return row


def write_pet_raw(
    latent_patients: pd.DataFrame,
    latent_lesions: pd.DataFrame,
    out_dir: str | Path,
    seed: int,
    dose_finding_patients: int = 0,
    threads: int = 1,
) -> pd.DataFrame:
    """Write images, masks, labels tables and ``scans.tsv`` under ``out_dir``; return the scans table.

    With ``dose_finding_patients`` > 0 the dose-finding part is added (module docstring).
    Every random number is drawn in one sequential pass (:func:`_plan_scans`); the scans
    are built and written on ``threads`` processes (:func:`contexture.parallel.map_units`)
    while the later ones are planned, so the files are the same at any thread count.
    """
    out_dir = Path(out_dir)
    patients = latent_patients.sort_values("patient_id").reset_index(drop=True)
    heights_m = simulated_heights_m(patients["sex"], seed)
    lesions = latent_lesions.sort_values(["patient_id", "lesion_id", "timepoint"], kind="stable")
    # Streamed (a generator): the workers write the first scans while the rest are planned.
    units = _plan_scans(patients, lesions, heights_m, out_dir, seed)
    rows = list(map_units(_write_scan, units, threads, chunksize=8))
    log.info("PET: %d scans of %d patients written on %d thread(s)", len(rows), len(patients), threads)
    columns = ["patient_id", "timepoint", "scan_day", "image", "mask", "labels", "injection_date"]
    truth_file = out_dir / "dose_finding_truth.yaml"
    if dose_finding_patients > 0:
        rows += write_dose_finding(out_dir, dose_finding_patients, seed)
        columns += ["days_post_injection", "protein_dose_mg"]
    elif truth_file.exists():
        truth_file.unlink()  # a stale truth of an earlier run with dose finding on
    scans = pd.DataFrame(rows, columns=columns)
    write_table(scans, out_dir / "scans.tsv")
    return scans
