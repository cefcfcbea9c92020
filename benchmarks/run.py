"""`make bench`: run every benchmark in benchmarks/ and print one table of results.

Each ``benchmarks/<name>.py`` (except this file and ``_*.py`` helpers) is a script that
measures one stage or the whole workflow and writes ``benchmarks/results/<name>.tsv``
with the columns ``metric`` and ``value`` and, optionally, ``benchmark``, ``unit``,
``target`` (e.g. ``<= 60``) and ``met`` (yes/no). A script is called:

* with the first of ``--small``/``--quick``/``--smoke`` its ``--help`` lists (the default,
  so ``make bench`` stays short), or
* with ``--full`` when this driver is given ``--full`` and the script accepts it.

Scripts that are not there yet are listed as "not measured", so are scripts that fail
or write no table; the driver itself never fails because of a benchmark. The combined
table is printed and written to ``benchmarks/results/summary.tsv``. Benchmarks are
measurements, never test assertions.

    .venv/bin/python benchmarks/run.py                 # every benchmark, small sizes
    .venv/bin/python benchmarks/run.py --full          # full sizes where offered
    .venv/bin/python benchmarks/run.py --only workflow_scale
"""

from __future__ import annotations

import argparse
import csv
import operator
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# The stage benchmarks the project plans (issue 9); the whole-workflow one runs last.
EXPECTED = ["nanostring_ingest", "pet_quantify", "pet_models", "ihc_aggregate", "r_comparison", "workflow_scale"]
SMALL_OPTIONS = ("--small", "--quick", "--smoke")
COLUMNS = ["benchmark", "metric", "value", "target", "met"]
COMPARISONS = {
    "<=": operator.le,
    "≤": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    "≥": operator.ge,
    ">": operator.gt,
}


def discover() -> list[str]:
    """Benchmark names: the expected ones (present or not) then any other script, sorted."""
    present = sorted(p.stem for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))
    others = [name for name in present if name not in EXPECTED]
    ordered = [name for name in EXPECTED if name != "workflow_scale"] + others
    return ordered + ["workflow_scale"]


def script_options(script: Path) -> set[str]:
    """The long options a script's --help mentions (empty if --help fails)."""
    try:
        result = subprocess.run(
            [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=HERE.parent
        )
    except subprocess.TimeoutExpired:
        return set()
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout)) if result.returncode == 0 else set()


def arguments_for(options: set[str], full: bool) -> list[str]:
    if full:
        return ["--full"] if "--full" in options else []
    return next(([option] for option in SMALL_OPTIONS if option in options), [])


def judge(value: str, target: str) -> str:
    """yes/no when ``value`` can be compared with ``target`` ("<= 60", "yes", ...), else ""."""
    target = target.strip()
    if not target:
        return ""
    if value == "":
        return "not measured"
    match = re.fullmatch(r"(<=|>=|≤|≥|<|>)\s*([-+0-9.eE]+)\s*\S*", target)
    if match:
        try:
            return "yes" if COMPARISONS[match.group(1)](float(value), float(match.group(2))) else "no"
        except ValueError:
            return ""
    return "yes" if value.strip().lower() == target.lower() else "no"


def read_results(name: str, table: Path) -> list[dict]:
    rows = []
    with table.open(newline="") as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            record = {(key or "").strip().lower(): (value or "").strip() for key, value in record.items()}
            value = record.get("value", "")
            unit = record.get("unit", "")
            target = record.get("target", "")
            met = record.get("met", "") or judge(value, target)
            shown = f"{value} {unit}".strip() if value else ""
            rows.append(
                {
                    "benchmark": record.get("benchmark") or name,
                    "metric": record.get("metric", ""),
                    "value": shown,
                    "target": target or "-",
                    "met": "not measured" if not value else (met or "-"),
                }
            )
    return rows


def run_benchmark(name: str, full: bool, timeout: float | None) -> list[dict]:
    script = HERE / f"{name}.py"
    if not script.exists():
        return [
            {"benchmark": name, "metric": "(script not present)", "value": "", "target": "-", "met": "not measured"}
        ]
    arguments = arguments_for(script_options(script), full)
    table = RESULTS / f"{name}.tsv"
    print(f"== {name} {' '.join(arguments)}".rstrip(), flush=True)
    start = time.time()
    try:
        result = subprocess.run([sys.executable, str(script), *arguments], cwd=HERE.parent, timeout=timeout)
        failure = f"exit code {result.returncode}" if result.returncode != 0 else ""
    except subprocess.TimeoutExpired:
        failure = f"timed out after {timeout:g} s"
    if failure or not table.exists() or table.stat().st_mtime < start - 1:
        reason = failure or f"no {table.relative_to(HERE.parent)} written"
        return [{"benchmark": name, "metric": f"({reason})", "value": "", "target": "-", "met": "not measured"}]
    return read_results(name, table)


def format_table(rows: list[dict]) -> str:
    widths = {column: max(len(column), *(len(str(r[column])) for r in rows)) for column in COLUMNS}
    lines = ["  ".join(column.ljust(widths[column]) for column in COLUMNS)]
    lines.append("  ".join("-" * widths[column] for column in COLUMNS))
    lines += ["  ".join(str(r[column]).ljust(widths[column]) for column in COLUMNS) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="pass --full to benchmarks that offer it")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per benchmark")
    args = parser.parse_args(argv)
    names = [name for name in discover() if not args.only or name in args.only]
    RESULTS.mkdir(exist_ok=True)
    rows = [row for name in names for row in run_benchmark(name, args.full, args.timeout)]
    print()
    print(format_table(rows))
    summary = RESULTS / "summary.tsv"
    with summary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {summary.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
