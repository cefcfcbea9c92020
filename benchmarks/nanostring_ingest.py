"""Benchmark: read + QC N synthetic ~800-probe RCC files in one call, against NanoStringQCPro.

    python benchmarks/nanostring_ingest.py            # 2,000 files
    python benchmarks/nanostring_ingest.py --small    # 500 files
    python benchmarks/nanostring_ingest.py --full     # 10,000 files (issue 9's size)

Writes the files to a temporary folder (deleted afterwards), then times
``read_rcc_files`` + ``lane_qc`` together and reports files per second and the peak
resident memory of the process (resource.getrusage, ru_maxrss in kB on Linux). It then
times the workflow's own path for a real cohort, in this process: rule
``validate_inputs`` (every check, each file parsed once, the merged set written with
``write_rcc_set``) then rule ``nanostring`` (``process_cohort(parsed=...)``: read that
set, QC, normalize), and, for comparison, the path before RCC files were read once
(validation, then the stage parsing every file again). In the
same run, NanoStringQCPro's ``newRccSet(rccFiles = ...)`` (Bioconductor; Debian package
r-bioc-nanostringqcpro) reads the same files, timed inside R with ``system.time`` so R's
start-up is not counted; without Rscript or the package that row is "not measured".
Target: at least 5x NanoStringQCPro's files per second, for the reader and for the
workflow path. Results go to
``benchmarks/results/nanostring_ingest.tsv`` (the ``make bench`` contract). Not a test:
speed is machine-dependent and never asserted.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results

from contexture.io.rcc import find_rcc_files, read_rcc_files
from contexture.nanostring.normalization import lane_qc

RESULTS = Path(__file__).resolve().parent / "results" / "nanostring_ingest.tsv"
TARGET_SPEEDUP = 5.0
R_SCRIPT = """
suppressPackageStartupMessages(library(NanoStringQCPro))
files <- list.files(commandArgs(trailingOnly = TRUE)[1], pattern = "[.]RCC$", full.names = TRUE)
seconds <- system.time(rcc <- newRccSet(rccFiles = files))[["elapsed"]]
cat(sprintf("%.6f %d\\n", seconds, ncol(rcc)))
"""
CONCENTRATIONS = {"A": 128, "B": 32, "C": 8, "D": 2, "E": 0.5, "F": 0.125}


def write_files(folder: Path, n_files: int, n_genes: int = 770, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    names = [("Endogenous", f"GENE{i:04d}", f"NM_{100000 + i}.1") for i in range(n_genes)]
    names += [("Housekeeping", f"HK{i:02d}", f"NM_{900000 + i}.1") for i in range(10)]
    names += [("Positive", f"POS_{k}({c:g})", f"ERCC_{i:05d}.1") for i, (k, c) in enumerate(CONCENTRATIONS.items())]
    names += [("Negative", f"NEG_{k}(0)", f"ERCC_{50 + i:05d}.1") for i, k in enumerate("ABCDEFGH")]
    prefix = [f"{c},{n},{a}," for c, n, a in names]
    base = np.concatenate(
        [
            rng.uniform(10, 5000, n_genes),
            rng.uniform(200, 3000, 10),
            117 * np.array(list(CONCENTRATIONS.values())),
            np.full(8, 8.0),
        ]
    )
    for j in range(n_files):
        counts = rng.poisson(base * rng.lognormal(0, 0.2))
        body = "".join(p + str(c) + "\n" for p, c in zip(prefix, counts, strict=True))
        text = (
            "<Header>\nFileVersion,1.7\nSoftwareVersion,4.0.0.3\n</Header>\n\n"
            f"<Sample_Attributes>\nID,S{j}\nOwner,\nComments,\nDate,20200101\nGeneRLF,NS_Bench_C0001\n"
            "SystemAPF,n6_vDV1\n</Sample_Attributes>\n\n"
            f"<Lane_Attributes>\nID,{j % 12 + 1}\nFovCount,280\nFovCounted,278\nScannerID,1504C0267\n"
            f"StagePosition,1\nBindingDensity,0.70\nCartridgeID,C{j // 12}\nCartridgeBarcode,C{j // 12}\n</Lane_Attributes>\n\n"
            f"<Code_Summary>\nCodeClass,Name,Accession,Count\n{body}</Code_Summary>\n\n<Messages>\n</Messages>\n"
        )
        (folder / f"sample_{j:06d}.RCC").write_text(text)


def workflow_seconds(folder: Path) -> tuple[float, float]:
    """Seconds of rules validate_inputs + nanostring on the folder, now and as before (parsing twice)."""
    import contexture.nanostring.checks  # noqa: F401 - imported by validation; not timed, as R's library()
    from contexture.inputs import validate_cohort_inputs
    from contexture.io.rcc import write_rcc_set
    from contexture.nanostring import parsed_run_folder, process_cohort

    cohort = {"nanostring": {"rcc": str(folder)}}
    with tempfile.TemporaryDirectory(prefix="rcc_parsed_") as parsed_folder:
        start = time.perf_counter()
        parsed: dict = {}
        validate_cohort_inputs("bench", cohort, parsed)
        # As rule validate_inputs: one merged set per run (the single-set form is "run1").
        (run_name, rccs), *others = parsed.pop("nanostring").items()
        assert not others, "the benchmark's cohort is one run"
        write_rcc_set(rccs, parsed_run_folder(parsed_folder, run_name))
        process_cohort([], parsed=parsed_run_folder(parsed_folder, run_name))
        workflow = time.perf_counter() - start
    start = time.perf_counter()
    validate_cohort_inputs("bench", cohort)
    process_cohort([str(folder)])
    return workflow, time.perf_counter() - start


def nanostringqcpro_seconds(folder: Path) -> tuple[float, int] | str:
    """Seconds NanoStringQCPro's newRccSet takes on the folder's RCC files, or why not measured."""
    if shutil.which("Rscript") is None:
        return "Rscript not installed"
    script = folder / "newRccSet.R"
    script.write_text(R_SCRIPT)
    result = subprocess.run(["Rscript", str(script), str(folder)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return "NanoStringQCPro failed or missing: " + result.stderr.strip().splitlines()[-1][:120]
    seconds, samples = result.stdout.split()[-2:]
    return float(seconds), int(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2_000, help="number of RCC files (default 2,000)")
    parser.add_argument("--small", action="store_true", help="500 files")
    parser.add_argument("--full", action="store_true", help="10,000 files")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    n_files = 500 if args.small else 10_000 if args.full else args.files
    with tempfile.TemporaryDirectory(prefix="rcc_bench_") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_files(folder, n_files)
        written = time.perf_counter() - start
        start = time.perf_counter()
        rccs = read_rcc_files(find_rcc_files(folder))
        qc = lane_qc(rccs.probes, rccs.counts, rccs.lanes)
        elapsed = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workflow, reparsing = workflow_seconds(folder)
        reference = nanostringqcpro_seconds(folder)
    ours = n_files / elapsed
    print(f"files: {n_files}  probes: {rccs.counts.shape[0]}  lanes passing QC: {int(qc['qc_pass'].sum())}")
    print(f"wrote in {written:.1f} s; read + QC in {elapsed:.2f} s = {ours:,.0f} files/second")
    print(f"peak resident memory: {peak_mb:,.0f} MB")
    print(
        f"workflow path (validate_inputs + nanostring): {workflow:.2f} s = {n_files / workflow:,.0f} files/second; "
        f"parsing every file twice, as before: {reparsing:.2f} s"
    )
    rows = [
        ("files", n_files, "", "", ""),
        ("contexture_read_qc_files_per_second", f"{ours:.1f}", "files/s", "", ""),
        ("contexture_peak_memory", f"{peak_mb:.0f}", "MB", "", ""),
        ("workflow_validate_and_stage_seconds", f"{workflow:.2f}", "s", "", ""),
        ("workflow_parsing_twice_seconds (before)", f"{reparsing:.2f}", "s", "", ""),
    ]
    if isinstance(reference, str):
        print(f"NanoStringQCPro: not measured ({reference})")
        rows.append(
            (f"speedup_over_nanostringqcpro ({reference})", "", "ratio", f">= {TARGET_SPEEDUP:g}", "not measured")
        )
    else:
        seconds, samples = reference
        theirs = samples / seconds
        speedup = ours / theirs
        print(f"NanoStringQCPro newRccSet: {seconds:.2f} s = {theirs:,.1f} files/second; speed-up {speedup:.1f}x")
        through = (n_files / workflow) / theirs
        print(f"workflow path speed-up over NanoStringQCPro: {through:.1f}x")
        rows += [
            (
                "workflow_speedup_over_nanostringqcpro",
                f"{through:.1f}",
                "ratio",
                f">= {TARGET_SPEEDUP:g}",
                "yes" if through >= TARGET_SPEEDUP else "no",
            ),
            ("nanostringqcpro_newrccset_files_per_second", f"{theirs:.1f}", "files/s", "", ""),
            (
                "speedup_over_nanostringqcpro",
                f"{speedup:.1f}",
                "ratio",
                f">= {TARGET_SPEEDUP:g}",
                "yes" if speedup >= TARGET_SPEEDUP else "no",
            ),
        ]
    write_results("nanostring_ingest", rows, args.output)


if __name__ == "__main__":
    main()
