"""Shared by the benchmarks: the result-table writer (the `make bench` contract in run.py),
CPU time, and a stage measured in a fresh process (as Snakemake runs a job)."""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ["benchmark", "metric", "value", "unit", "target", "met"]


def write_results(benchmark: str, rows: list[tuple | dict], path: Path | None = None) -> Path:
    """Write ``benchmarks/results/<benchmark>.tsv`` (or ``path``).

    A row is a tuple ``(metric, value, unit[, target, met])`` or a dict keyed by
    :data:`COLUMNS` (missing keys empty; ``benchmark`` defaults to ``benchmark``).
    """
    path = path or RESULTS / f"{benchmark}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            if isinstance(row, dict):
                writer.writerow([row.get("benchmark", benchmark), *(row.get(c, "") for c in COLUMNS[1:])])
            else:
                writer.writerow([benchmark, *row, *[""] * (5 - len(row))])
    print(f"wrote {path}")
    return path


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished workers (the pool's processes)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


MEASURED = "measured: "


# What Snakemake sets in a job's environment to the job's threads (snakemake/shell.py,
# for `shell:` and `script:` jobs), so that native libraries size their pools at start.
JOB_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def measure_in_fresh_process(script: str | Path, arguments: list[str], threads: int | None = None) -> dict:
    """Run ``script --measure <arguments>`` in a new interpreter and return what it reports.

    A Snakemake job is a fresh process at any thread count: a stage measured in the
    process that generated its inputs starts with that memory already mapped (its first
    unit of work is cheaper), while the workers a 2-thread run forks start cold, so a
    same-process anchor flatters the 1-thread run. Given ``threads``, the process starts
    with the thread variables Snakemake gives a job of that many threads
    (:data:`JOB_THREAD_VARIABLES`). The script's measure mode prints one line
    ``measured: {json}`` (see :func:`report_measurement`); its other output is shown.
    """
    environment = None
    if threads is not None:
        environment = os.environ | dict.fromkeys(JOB_THREAD_VARIABLES, str(threads))
    result = subprocess.run(
        [sys.executable, str(script), "--measure", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    lines = result.stdout.splitlines()
    for line in lines:
        if not line.startswith(MEASURED):
            print(line)
    if result.returncode != 0 or not any(line.startswith(MEASURED) for line in lines):
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"{Path(script).name} --measure {' '.join(arguments)} failed (exit {result.returncode})")
    return json.loads(next(line for line in lines if line.startswith(MEASURED))[len(MEASURED) :])


def report_measurement(values: dict) -> None:
    """Print the measure mode's result line for :func:`measure_in_fresh_process`."""
    print(MEASURED + json.dumps(values), flush=True)


def peak_resident_mb() -> float:
    """This process's peak resident memory (MB) since it started its program.

    ``/proc/self/status`` VmHWM where there is one: ``getrusage``'s ``ru_maxrss`` survives
    ``exec`` on Linux, so a fresh process started by a large one reports its parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_thread_counts(script: str | Path, arguments, thread_counts: list[int], repeats: int) -> dict[int, dict]:
    """The fastest of ``repeats`` fresh-process runs at each thread count, run alternately.

    ``arguments(threads)`` gives the measure mode's arguments. Runs alternate between the
    thread counts (1, 2, 1, 2, ...) so that a busy spell of a shared machine does not fall
    on one count only, and the fastest run of each is kept (as ``timeit`` reports the
    minimum: slower runs measure other processes). Each kept run carries ``all_elapsed``
    (every run's seconds) and ``identical`` (every run's tables had one digest).
    """
    runs: dict[int, list[dict]] = {threads: [] for threads in thread_counts}
    for _ in range(max(1, repeats)):
        for threads in thread_counts:
            runs[threads].append(measure_in_fresh_process(script, arguments(threads), threads))
    digests = {run["digest"] for measured in runs.values() for run in measured}
    best = {}
    for threads, measured in runs.items():
        best[threads] = min(measured, key=lambda run: run["elapsed"]) | {
            "all_elapsed": [run["elapsed"] for run in measured],
            "identical": len(digests) == 1,
        }
    return best
