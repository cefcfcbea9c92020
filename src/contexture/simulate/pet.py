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
clinical weight is used. Deterministic from the cohort seed.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.io import write_table
from contexture.io.pet_images import write_dicom_pet, write_nifti
from contexture.pet.suv import ZR89_HALF_LIFE_S, decayed_activity

SHAPE = (64, 64, 48)
VOXEL_MM = 4.0
BACKGROUND_SUV = 0.6
MUSCLE_SUV = 0.5
INJECTED_MBQ = 37.0  # 89ZED88082A protocol activity
REFERENCE_LABELS = {"aorta": 101, "muscle": 102}


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
    fine_shape = tuple(int(n * VOXEL_MM / 2) for n in SHAPE)
    fine_regions = _grid_regions(True)
    fine = np.zeros(fine_shape, dtype=np.int16)
    fine[fine_regions["aorta"]] = REFERENCE_LABELS["aorta"]
    fine[fine_regions["muscle"]] = REFERENCE_LABELS["muscle"]
    for number, (centre, radius) in enumerate(zip(centres, radii, strict=True), start=1):
        box, inside, _ = _sphere(fine_shape, fine_affine(), centre, radius)
        fine[box][inside] = number
    return suv.astype(np.float32), fine


def write_pet_raw(
    latent_patients: pd.DataFrame, latent_lesions: pd.DataFrame, out_dir: str | Path, seed: int
) -> pd.DataFrame:
    """Write images, masks, labels tables and ``scans.tsv`` under ``out_dir``; return the scans table."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng([seed, 89])
    patients = latent_patients.sort_values("patient_id").reset_index(drop=True)
    lesions = latent_lesions.sort_values(["patient_id", "lesion_id", "timepoint"], kind="stable")
    rows = []
    scan_number = 0
    for index, patient in patients.iterrows():
        pid = str(patient["patient_id"])
        own = lesions[lesions["patient_id"] == pid]
        dicom = index % 8 == 1
        time_only = dicom and index == 1
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
            weight = float(patient["weight_kg"])
            fine_mask = scan_number % 4 == 0
            suv, labels = scan_volumes(scan, centres, blood_suv * float(rng.uniform(0.9, 1.1)), rng, fine_mask)
            elapsed = (scan_start - injection).total_seconds()
            activity = suv * np.float32(decayed_activity(dose_bq, elapsed, ZR89_HALF_LIFE_S) / (weight * 1000.0))
            folder = out_dir / "images" / f"{pid}_{timepoint}"
            folder.mkdir(parents=True, exist_ok=True)
            write_nifti(folder / "mask.nii.gz", labels, fine_affine() if fine_mask else pet_affine())
            row = {"patient_id": pid, "timepoint": timepoint, "scan_day": scan_day}
            if dicom:
                names = [f"{rng.integers(0, 16**8):08x}.dcm" for _ in range(SHAPE[2])]
                write_dicom_pet(
                    folder / "dicom",
                    activity,
                    pet_affine(),
                    patient_id=pid,
                    weight_kg=weight,
                    injected_bq=dose_bq,
                    half_life_s=ZR89_HALF_LIFE_S,
                    injection=injection,
                    scan_start=scan_start,
                    uid_seed=f"{seed}-{pid}-{timepoint}",
                    injection_datetime_tag=not time_only,
                    file_names=names,
                )
                row["image"] = f"images/{pid}_{timepoint}/dicom"
                row["injection_date"] = injection.date().isoformat() if time_only else None
            else:
                sidecar = {
                    "Modality": "PT",
                    "Manufacturer": "contexture simulator",
                    "TracerName": "89ZED88082A",
                    "TracerRadionuclide": "Zr89",
                    "InjectedRadioactivity": round(dose_bq / 1e6, 4),
                    "InjectedRadioactivityUnits": "MBq",
                    "ModeOfAdministration": "bolus",
                    "TimeZero": scan_start.strftime("%H:%M:%S"),
                    "ScanDate": scan_start.date().isoformat(),
                    "ScanStart": 0,
                    "InjectionStart": -elapsed,
                    "FrameTimesStart": [0],
                    "FrameDuration": [1800],
                    "ImageDecayCorrected": True,
                    "ImageDecayCorrectionTime": 0,
                    "Units": "Bq/mL",
                    "AttenuationCorrection": "CT-based",
                    "ReconMethodName": "OSEM",
                }
                if scan_number % 5 != 0:
                    sidecar["BodyWeight"] = weight
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
                {
                    "label": label,
                    "lesion_id": None,
                    "site": None,
                    "kind": "reference",
                    "irradiated": None,
                    "reference_region": region,
                }
                for region, label in REFERENCE_LABELS.items()
            ]
            write_table(pd.DataFrame(label_rows), folder / "labels.tsv")
            row["mask"] = f"images/{pid}_{timepoint}/mask.nii.gz"
            row["labels"] = f"images/{pid}_{timepoint}/labels.tsv"
            rows.append(row)
    scans = pd.DataFrame(
        rows, columns=["patient_id", "timepoint", "scan_day", "image", "mask", "labels", "injection_date"]
    )
    write_table(scans, out_dir / "scans.tsv")
    return scans
