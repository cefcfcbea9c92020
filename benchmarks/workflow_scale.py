"""Whole-workflow scale benchmark: demo wall time, no-op rerun, and simulated cohorts.

Measures, each in a fresh temporary folder with the real ``snakemake`` of this
environment (``--cores 2``):

* the embedded demo (``config/config.yaml``) end to end (target <= 30 s, issue 21);
* a no-op rerun of it (median of three), i.e. the cost of building the DAG and checking every output
  (target <= 2 s);
* simulated cohorts of 100 and 1,000 patients (``--full`` adds 10,000) end to end:
  wall time (1,000 patients: target <= 120 s), peak resident memory of the snakemake process tree (sum over the process
  and all its descendants, sampled every 50 ms with psutil), the largest single
  process (target <= the SLURM profile's default ``mem_mb``, so every job fits its
  default request), and the number of jobs, which must not grow with the number of
  patients (a job per cohort stage, vectorized inside; DESIGN.md "Scale").

Results go to ``benchmarks/results/workflow_scale.tsv`` (columns benchmark, metric,
value, unit, target, met); nothing here is asserted by the test suite.

    .venv/bin/python benchmarks/workflow_scale.py            # demo, rerun, 100, 1,000
    .venv/bin/python benchmarks/workflow_scale.py --full     # ... and 10,000
    .venv/bin/python benchmarks/workflow_scale.py --sizes 100 --keep /tmp/scale
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml
from _results import write_results

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
RESULTS = REPO / "benchmarks" / "results" / "workflow_scale.tsv"
DEMO_TARGET_SECONDS = 30.0
NOOP_TARGET_SECONDS = 2.0
# Wall-time targets of simulated cohorts by size (issue 21).
COHORT_TARGET_SECONDS = {1000: 120.0}


def slurm_profile_mem_mb() -> float:
    """The default per-job memory request of resources/profiles/slurm (MB)."""
    profile = yaml.safe_load((REPO / "resources/profiles/slurm/config.yaml").read_text())
    return float(profile["default-resources"]["mem_mb"])


@dataclass
class Run:
    seconds: float
    peak_tree_mb: float
    peak_process_mb: float
    jobs: int
    output: str


class TreeMemorySampler(threading.Thread):
    """Samples the resident memory of a process and all its descendants until it ends."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_tree = 0
        self.peak_process = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            sizes = []
            for process in processes:
                try:
                    sizes.append(process.memory_info().rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            if sizes:
                self.peak_tree = max(self.peak_tree, sum(sizes))
                self.peak_process = max(self.peak_process, max(sizes))
            self.done.wait(self.interval)


def run_workflow(workdir: Path, cores: int = 2) -> Run:
    """One snakemake run in ``workdir`` (its config/config.yaml), timed and sampled."""
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--cores", str(cores)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeMemorySampler(process.pid)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"snakemake failed in {workdir} ({process.returncode}):\n{output[-4000:]}")
    # snakemake prints "Finished jobid: N (Rule: name)" once per job it ran.
    jobs = len(re.findall(r"^Finished jobid: \d+", output, flags=re.MULTILINE))
    mb = 1024 * 1024
    return Run(seconds, sampler.peak_tree / mb, sampler.peak_process / mb, jobs, output)


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def row(metric: str, value, unit: str, target: str = "", met: str = "") -> dict:
    if isinstance(value, float):
        value = f"{value:.2f}"
    return {"benchmark": "workflow_scale", "metric": metric, "value": value, "unit": unit, "target": target, "met": met}


def yes_no(condition: bool) -> str:
    return "yes" if condition else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also run a 10,000-patient cohort")
    parser.add_argument("--sizes", type=int, nargs="+", help="cohort sizes to run (default 100 1000)")
    parser.add_argument("--skip-demo", action="store_true", help="skip the demo and no-op rerun")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"result table (default {RESULTS})")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([100, 1000, 10000] if args.full else [100, 1000])

    base = args.keep or Path(tempfile.mkdtemp(prefix="contexture-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    mem_limit = slurm_profile_mem_mb()
    rows: list[dict] = []
    job_counts: dict[str, int] = {}
    try:
        if not args.skip_demo:
            demo = base / "demo"
            write_config(demo, yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
            first = run_workflow(demo)
            target = f"<= {DEMO_TARGET_SECONDS:g}"
            rows.append(
                row("demo_wall_seconds", first.seconds, "s", target, yes_no(first.seconds <= DEMO_TARGET_SECONDS))
            )
            rows.append(row("demo_peak_tree_rss", first.peak_tree_mb, "MB"))
            rows.append(row("demo_jobs", first.jobs, "jobs"))
            job_counts["demo"] = first.jobs
            print(f"demo: {first.seconds:.1f} s, {first.jobs} jobs, peak tree {first.peak_tree_mb:.0f} MB", flush=True)
            # The median of three no-op reruns: a shared machine's noise should not decide.
            reruns = [run_workflow(demo) for _ in range(3)]
            noop_seconds = statistics.median(r.seconds for r in reruns)
            nothing = all("Nothing to be done" in r.output and r.jobs == 0 for r in reruns)
            target = f"<= {NOOP_TARGET_SECONDS:g}"
            rows.append(
                row("noop_rerun_seconds", noop_seconds, "s", target, yes_no(noop_seconds <= NOOP_TARGET_SECONDS))
            )
            rows.append(row("noop_rerun_runs_nothing", yes_no(nothing), "", "yes", yes_no(nothing)))
            print(f"no-op rerun (median of 3): {noop_seconds:.2f} s, nothing to do: {nothing}", flush=True)
        for patients in sizes:
            workdir = base / f"patients_{patients}"
            write_config(workdir, {"cohorts": {"scale": {"simulate": {"patients": patients, "seed": 1}}}})
            run = run_workflow(workdir)
            prefix = f"patients_{patients}"
            limit = COHORT_TARGET_SECONDS.get(patients)
            if limit is None:
                rows.append(row(f"{prefix}_wall_seconds", run.seconds, "s"))
            else:
                rows.append(
                    row(f"{prefix}_wall_seconds", run.seconds, "s", f"<= {limit:g}", yes_no(run.seconds <= limit))
                )
            rows.append(row(f"{prefix}_peak_tree_rss", run.peak_tree_mb, "MB"))
            within = run.peak_process_mb <= mem_limit
            rows.append(
                row(f"{prefix}_peak_process_rss", run.peak_process_mb, "MB", f"<= {mem_limit:g}", yes_no(within))
            )
            rows.append(row(f"{prefix}_jobs", run.jobs, "jobs"))
            job_counts[prefix] = run.jobs
            print(
                f"{patients} patients: {run.seconds:.1f} s, {run.jobs} jobs, peak tree {run.peak_tree_mb:.0f} MB, "
                f"largest process {run.peak_process_mb:.0f} MB",
                flush=True,
            )
        sized = [count for name, count in job_counts.items() if name.startswith("patients_")]
        if len(sized) > 1:
            constant = len(set(sized)) == 1
            rows.append(row("jobs_constant_across_sizes", yes_no(constant), "", "yes", yes_no(constant)))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)

    write_results("workflow_scale", rows, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
