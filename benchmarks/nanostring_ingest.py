"""Benchmark: read + QC N synthetic ~800-probe RCC files in one call.

    python benchmarks/nanostring_ingest.py            # 10,000 files
    python benchmarks/nanostring_ingest.py --files 500

Writes the files to a temporary folder (deleted afterwards), then times
``read_rcc_files`` + ``lane_qc`` together and prints files per second and the peak
resident memory of the process (resource.getrusage, ru_maxrss in kB on Linux).
Not a test: speed is machine-dependent and never asserted.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from contexture.io.rcc import find_rcc_files, read_rcc_files
from contexture.nanostring import lane_qc

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
            "StagePosition,1\nBindingDensity,0.70\nCartridgeID,C1\nCartridgeBarcode,C1\n</Lane_Attributes>\n\n"
            f"<Code_Summary>\nCodeClass,Name,Accession,Count\n{body}</Code_Summary>\n\n<Messages>\n</Messages>\n"
        )
        (folder / f"sample_{j:06d}.RCC").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="number of RCC files (default 10,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rcc_bench_") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_files(folder, args.files)
        written = time.perf_counter() - start
        start = time.perf_counter()
        rccs = read_rcc_files(find_rcc_files(folder))
        qc = lane_qc(rccs.probes, rccs.counts, rccs.lanes)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"files: {args.files}  probes: {rccs.counts.shape[0]}  lanes passing QC: {int(qc['qc_pass'].sum())}")
    print(f"wrote in {written:.1f} s; read + QC in {elapsed:.2f} s = {args.files / elapsed:,.0f} files/second")
    print(f"peak resident memory: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
