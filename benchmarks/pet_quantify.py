"""Benchmark: quantify whole-body-sized PET scans streamed one at a time.

    python benchmarks/pet_quantify.py [--scans 200] [--distinct 4] [--lesions 10]

Writes ``--distinct`` NIfTI scans of 200 x 200 x 300 voxels (4 mm, float32, ~48 MB
each; BIDS-PET sidecars, label masks with lesions and reference regions) to a temporary
folder, lists them ``--scans`` times in a scans table (different patients), runs
:func:`contexture.pet.quantify.quantify_scans`, and reports scans/s and the process'
peak resident memory. Image generation is not timed.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _results import write_results

from contexture.io.pet_images import write_nifti
from contexture.pet.quantify import quantify_scans

SHAPE = (200, 200, 300)


def make_scan(folder: Path, number: int, lesions: int, rng: np.random.Generator) -> None:
    affine = np.diag([-4.0, -4.0, 4.0, 1.0])
    suv = rng.normal(0.6, 0.03, SHAPE).astype(np.float32)
    labels = np.zeros(SHAPE, np.int16)
    labels[90:100, 110:120, :] = 101  # aorta
    labels[40:60, 150:170, 100:200] = 102  # muscle
    rows = []
    for k in range(1, lesions + 1):
        centre = rng.integers([30, 30, 30], [170, 100, 270])
        radius = int(rng.integers(2, 6))
        box = tuple(slice(c - radius, c + radius + 1) for c in centre)
        suv[box] = rng.uniform(2, 15)
        labels[box] = k
        rows.append(f"{k}\tL{k:02d}\tliver\tlesion\tfalse\t")
    sidecar = {
        "TracerRadionuclide": "Zr89",
        "InjectedRadioactivity": 37.0,
        "InjectedRadioactivityUnits": "MBq",
        "TimeZero": "10:00:00",
        "ScanStart": 0,
        "InjectionStart": -172800,
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
        "Units": "Bq/mL",
        "BodyWeight": 75.0,
    }
    write_nifti(folder / f"pet{number}.nii", suv / np.float32(0.00295), affine, sidecar=sidecar)
    write_nifti(folder / f"mask{number}.nii.gz", labels, affine)
    header = "label\tlesion_id\tsite\tkind\tirradiated\treference_region\n"
    references = "101\t\t\treference\t\taorta\n102\t\t\treference\t\tmuscle\n"
    (folder / f"labels{number}.tsv").write_text(header + "\n".join(rows) + "\n" + references)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--small", action="store_true", help="20 scans instead of 200")
    parser.add_argument("--distinct", type=int, default=4)
    parser.add_argument("--lesions", type=int, default=10)
    args = parser.parse_args()
    if args.small:
        args.scans = 20
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for number in range(args.distinct):
            make_scan(folder, number, args.lesions, rng)
        scans = pd.DataFrame(
            {
                "patient_id": [f"B{i:04d}" for i in range(args.scans)],
                "timepoint": "baseline",
                "scan_day": -2,
                "image": [f"pet{i % args.distinct}.nii" for i in range(args.scans)],
                "mask": [f"mask{i % args.distinct}.nii.gz" for i in range(args.scans)],
                "labels": [f"labels{i % args.distinct}.tsv" for i in range(args.scans)],
            }
        )
        scans.to_csv(folder / "scans.tsv", sep="\t", index=False)
        start = time.perf_counter()
        lesions, _, _ = quantify_scans(folder / "scans.tsv")
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scans: {args.scans} of {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} voxels, {len(lesions)} lesion rows")
    print(f"time: {elapsed:.1f} s, {args.scans / elapsed:.2f} scans/s")
    print(f"peak memory (max RSS, including generation): {peak_mb:.0f} MB")
    shape = "x".join(map(str, SHAPE))
    write_results(
        "pet_quantify",
        [
            (f"scans of {shape} voxels", args.scans, "scans"),
            ("scans_per_second", f"{args.scans / elapsed:.2f}", "scans/s"),
            (
                "peak_memory (streamed: independent of the number of scans)",
                f"{peak_mb:.0f}",
                "MB",
                "<= 24000",
                "yes" if peak_mb <= 24000 else "no",
            ),
        ],
    )


if __name__ == "__main__":
    main()
