"""Shared writer of a benchmark's result table (the `make bench` contract in run.py)."""

from __future__ import annotations

import csv
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
