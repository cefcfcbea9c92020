"""Shared by the benchmarks: the result-table writer (the `make bench` contract in run.py) and CPU time."""

from __future__ import annotations

import csv
import resource
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
