"""Shared writer of a benchmark's result table (the `make bench` contract in run.py)."""

from __future__ import annotations

import csv
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ["benchmark", "metric", "value", "unit", "target", "met"]


def write_results(benchmark: str, rows: list[tuple]) -> Path:
    """Write ``benchmarks/results/<benchmark>.tsv``; rows are (metric, value, unit[, target, met])."""
    path = RESULTS / f"{benchmark}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([benchmark, *row, *[""] * (5 - len(row))])
    print(f"wrote {path}")
    return path
