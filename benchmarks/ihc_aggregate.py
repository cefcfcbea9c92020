"""Benchmark the IHC aggregation: N slides x M cells in one process, peak memory reported.

Writes synthetic QuPath detection/annotation exports (``--distinct`` different files,
reused cyclically by the slide sheet so that generating 50 x 1,000,000 cells does not
dominate the run; every slide is still read and aggregated from disk), then times
``contexture.ihc.slides.summarize_slides`` + ``score_slides`` -- exactly what the
``ihc`` rule does -- at each ``--threads`` value (worker processes, one slide each), each
in a fresh process under :func:`contexture.runner.job_process` as Snakemake starts the
job, and
prints rows/second, whether the tables are byte-identical across thread counts (sha256)
and the peak resident memory of this process and of the largest worker.

    python benchmarks/ihc_aggregate.py                      # 50 slides x 1,000,000 cells
    python benchmarks/ihc_aggregate.py --slides 5 --cells 200000 --threads 1 2
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _results import cpu_seconds, measure_thread_counts, peak_resident_mb, report_measurement, write_results

from contexture.ihc.slides import read_slide_sheet, score_slides, summarize_slides
from contexture.io import qupath, write_table
from contexture.runner import job_process

CLASSES = np.array(["Tumor", "Stroma", "CD3: CD8", "CD3", ""])
CLASS_P = [0.55, 0.3, 0.05, 0.05, 0.05]
PARENTS = np.array(["Tumor", "Invasive margin", "Stroma", "Image"])
PARENT_P = [0.5, 0.2, 0.29, 0.01]


def write_synthetic(folder: Path, index: int, cells: int) -> tuple[str, str]:
    rng = np.random.default_rng(index)
    side = np.sqrt(cells / 3000.0) * 1000.0  # ~3000 cells/mm²
    table = pd.DataFrame(
        {
            "class": CLASSES[rng.choice(len(CLASSES), cells, p=CLASS_P)],
            "parent": PARENTS[rng.choice(len(PARENTS), cells, p=PARENT_P)],
            "x": rng.uniform(0, side, cells),
            "y": rng.uniform(0, side, cells),
        }
    )
    cells_path = folder / f"cells_{index}.tsv"
    qupath.write_detections(table, cells_path, f"slide_{index}.svs")
    area = side**2
    annotations = pd.DataFrame(
        {
            "name": ["", "", ""],
            "class": ["Tumor", "Invasive margin", "Stroma"],
            "area": [0.5 * area, 0.2 * area, 0.3 * area],
            "x": [0.0] * 3,
            "y": [0.0] * 3,
        }
    )
    annotations_path = folder / f"annotations_{index}.tsv"
    qupath.write_annotations(annotations, annotations_path, f"slide_{index}.svs")
    return cells_path.name, annotations_path.name


def measure(folder: Path, threads: int) -> None:
    """Aggregate the slide sheet in this (fresh) process as rule ihc's job does."""
    with job_process(threads):
        load = os.getloadavg()[0]
        started, cpu_start = time.perf_counter(), cpu_seconds()
        slides = score_slides(summarize_slides(read_slide_sheet(folder / "slides.tsv"), {}, threads), {})
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_start
    print(f"threads {threads}: {elapsed:.1f} s, CPU {cpu:.1f} s (load average before: {load:.2f})")
    report_measurement(
        {
            "elapsed": elapsed,
            "cpu": cpu,
            "digest": hashlib.sha256(slides.to_csv(sep="\t", index=False).encode()).hexdigest(),
            "rows": int(slides["n_cells"].sum()),
            "slides": len(slides),
            "peak_mb": peak_resident_mb(),
            "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slides", type=int, default=50)
    # 20 x 500,000, not 10 x 200,000: a slide now costs ~0.1 s per 200,000 cells, so the
    # smaller run was 1 s of work, much of it the two workers' start.
    parser.add_argument("--small", action="store_true", help="20 slides x 500,000 cells (make bench)")
    parser.add_argument("--cells", type=int, default=1_000_000, help="cells per slide")
    parser.add_argument("--distinct", type=int, default=2, help="distinct export files to generate")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="worker counts to time (first = anchor)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the exports (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per thread count, alternating; fastest kept")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one fresh-process measurement
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.threads[0])
        return
    if args.small:
        args.slides, args.cells = 20, 500_000
        if args.threads == [1]:
            args.threads = [1, 2]

    with tempfile.TemporaryDirectory(prefix="ihc_bench_") as temporary:
        folder = args.folder or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        files = [write_synthetic(folder, i, args.cells) for i in range(min(args.distinct, args.slides))]
        generation = time.perf_counter() - started
        sheet = pd.DataFrame(
            {
                "slide_id": [f"S{i:03d}" for i in range(args.slides)],
                "patient_id": [f"P{i:03d}" for i in range(args.slides)],
                "timepoint": "baseline",
                "cells": [files[i % len(files)][0] for i in range(args.slides)],
                "annotations": [files[i % len(files)][1] for i in range(args.slides)],
            }
        )
        write_table(sheet, folder / "slides.tsv")
        rss_before = peak_resident_mb()
        # Each thread count in a fresh process, as Snakemake starts the job
        # (_results.measure_in_fresh_process).
        runs = measure_thread_counts(__file__, lambda t: [str(folder), "--threads", str(t)], args.threads, args.repeat)
        for threads, run in runs.items():
            print(f"threads {threads}: runs of {', '.join(f'{e:.2f}' for e in run['all_elapsed'])} s; fastest kept")
        times = {threads: run["elapsed"] for threads, run in runs.items()}
        elapsed = times[args.threads[0]]
        peak_mb = max(run["peak_mb"] for run in runs.values())
        worker_mb = max(run["worker_mb"] for run in runs.values())
        rows = runs[args.threads[0]]["rows"]
        print(f"slides: {runs[args.threads[0]]['slides']}, cells per slide: {args.cells:,}, total rows: {rows:,}")
        print(f"generation of {len(files)} distinct export(s): {generation:.1f} s")
        print(f"aggregation (read + densities + phenotype + Immunoscore + kd-tree): {elapsed:.1f} s")
        print(f"throughput: {rows / elapsed:,.0f} rows/s")
        print(f"peak resident memory of an aggregating process: {peak_mb:,.0f} MB (generation: {rss_before:,.0f} MB)")
    results = [
        ("cell_rows", rows, "rows"),
        ("rows_per_second", f"{rows / elapsed:.0f}", "rows/s"),
        ("peak_memory", f"{peak_mb:.0f}", "MB", "<= 24000", "yes" if peak_mb <= 24000 else "no"),
    ]
    first, last = args.threads[0], args.threads[-1]
    if last != first:
        identical = runs[first]["identical"]
        print(f"speed-up {last} vs {first} thread(s): {times[first] / times[last]:.2f}x; identical: {identical}")
        results += [
            (f"rows_per_second, {last} thread(s)", f"{rows / times[last]:.0f}", "rows/s"),
            (
                f"speed-up, {last} vs {first} thread(s)",
                f"{times[first] / times[last]:.2f}",
                "x",
                f">= {0.9 * last / first:g}",
            ),
            ("tables byte-identical across thread counts", "yes" if identical else "no", "", "yes"),
            ("peak memory of the largest worker", f"{worker_mb:.0f}", "MB"),
        ]
    write_results("ihc_aggregate", results)


if __name__ == "__main__":
    main()
