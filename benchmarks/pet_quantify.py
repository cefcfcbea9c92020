"""Benchmark: quantify whole-body-sized PET scans, streamed, on 1 and on N worker processes.

    python benchmarks/pet_quantify.py [--scans 2000] [--distinct 4] [--lesions 10] [--threads 1 2]
    python benchmarks/pet_quantify.py --small        # 200 scans (make bench)

Writes ``--distinct`` NIfTI scans of 200 x 200 x 300 voxels (4 mm, float32, ~48 MB
each; BIDS-PET sidecars, label masks with lesions and reference regions) to a temporary
folder, lists them ``--scans`` times in a scans table (different patients), runs
:func:`contexture.pet.quantify.quantify_scans` once per ``--threads`` value, each in a
fresh process under :func:`contexture.runner.job_process` (what rule ``pet_quantify``'s
job does with that many threads), and reports scans/s at each, the speed-up
of the last over the first, whether the three tables are byte-identical (sha256 of their
TSV text) and the peak resident memory of this process and of the largest worker. Image
generation is not timed. The machine's load average is printed with the times: on a
shared machine the speed-up is bounded by the cores actually free.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _results import cpu_seconds, measure_thread_counts, peak_resident_mb, report_measurement, write_results

from contexture.io.pet_images import write_nifti
from contexture.pet.quantify import quantify_scans
from contexture.runner import job_process

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


def measure(folder: Path, threads: int, scans: int) -> None:
    """Quantify the scans table in this (fresh) process as rule pet_quantify's job does."""
    with job_process(threads):
        load = os.getloadavg()[0]
        start, cpu_start = time.perf_counter(), cpu_seconds()
        tables = quantify_scans(folder / "scans.tsv", threads=threads)
        elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    text = "".join(table.to_csv(sep="\t", index=False) for table in tables)
    digest = hashlib.sha256(text.encode()).hexdigest()
    print(
        f"threads {threads}: {elapsed:.1f} s, {scans / elapsed:.2f} scans/s (load average before: {load:.2f}), "
        f"CPU {cpu:.1f} s; tables sha256 {digest[:16]}"
    )
    report_measurement(
        {
            "elapsed": elapsed,
            "cpu": cpu,
            "digest": digest,
            "lesion_rows": len(tables[0]),
            "peak_mb": peak_resident_mb(),
            "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000, help="scans to quantify (the issue's 2,000-scan cohort)")
    # 200, not 20: a scan now costs ~30 ms, so 20 scans are 0.6 s of work, a quarter of it
    # the two workers' start (fork, first scan), and the ratio would measure that.
    parser.add_argument("--small", action="store_true", help="200 scans (make bench)")
    parser.add_argument("--distinct", type=int, default=4)
    parser.add_argument("--lesions", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="worker counts to time (first = anchor)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per thread count, alternating; fastest kept")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one fresh-process measurement
    args = parser.parse_args()
    if args.small:
        args.scans = 200
    logging.basicConfig(level=logging.ERROR)  # not the per-scan SUL warning (no height in these sidecars)
    if args.measure:
        measure(args.measure, args.threads[0], args.scans)
        return
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
        # Each thread count in a fresh process, as Snakemake starts the job
        # (_results.measure_in_fresh_process).
        runs = measure_thread_counts(
            __file__,
            lambda t: [str(folder), "--threads", str(t), "--scans", str(args.scans)],
            args.threads,
            args.repeat,
        )
    elapsed = {t: run["elapsed"] for t, run in runs.items()}
    cpu = {t: run["cpu"] for t, run in runs.items()}
    peak_mb = max(run["peak_mb"] for run in runs.values())
    worker_mb = max(run["worker_mb"] for run in runs.values())
    generation_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first, last = args.threads[0], args.threads[-1]
    speedup = elapsed[first] / elapsed[last]
    identical = runs[first]["identical"]
    for threads, run in runs.items():
        print(f"threads {threads}: runs of {', '.join(f'{e:.2f}' for e in run['all_elapsed'])} s; fastest kept")
    print(f"scans: {args.scans} of {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} voxels, {runs[first]['lesion_rows']} lesion rows")
    print(f"speed-up {last} vs {first} thread(s): {speedup:.2f}x; tables identical: {identical}")
    print(
        f"peak memory (max RSS) of a quantifying process: {peak_mb:.0f} MB; largest worker {worker_mb:.0f} MB "
        f"(generation: {generation_mb:.0f} MB)"
    )
    shape = "x".join(map(str, SHAPE))
    rows = [(f"scans of {shape} voxels", args.scans, "scans")]
    rows += [(f"scans_per_second, {t} thread(s)", f"{args.scans / elapsed[t]:.2f}", "scans/s") for t in args.threads]
    rows += [
        (f"CPU time per scan, {t} thread(s) (process + workers)", f"{cpu[t] / args.scans:.3f}", "s")
        for t in args.threads
    ]
    if last != first:
        rows.append((f"speed-up, {last} vs {first} thread(s)", f"{speedup:.2f}", "x", f">= {0.9 * last / first:g}"))
        rows.append(
            (
                f"tables byte-identical at {', '.join(map(str, args.threads))} thread(s)",
                "yes" if identical else "no",
                "",
                "yes",
            )
        )
    rows.append(
        (
            "peak_memory (streamed: independent of the number of scans)",
            f"{peak_mb:.0f}",
            "MB",
            "<= 24000",
            "yes" if peak_mb <= 24000 else "no",
        )
    )
    rows.append(("peak memory of the largest worker (one scan at a time)", f"{worker_mb:.0f}", "MB"))
    write_results("pet_quantify", rows)


if __name__ == "__main__":
    main()
