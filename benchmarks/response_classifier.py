"""Benchmark: the response classifier's resampling (bootstrap CI + permutation test) on 1 and N workers.

    python benchmarks/response_classifier.py [--patients 38 200] [--threads 1 2]

For each cohort size, simulates ``--patients`` patients with six baseline features (one
carrying signal, logit slope 1) and runs
:func:`contexture.response.classifier.evaluate_classifier` with the schema's defaults
(5 folds x 20 repeats, 200 bootstrap resamples, 100 permutations) once per ``--threads``
value -- what rule ``response_classifier`` does with that many threads. Reports the wall
time at each, the speed-up of the last over the first and whether the tables are
byte-identical (sha256 of their TSV text). The machine's load average is printed with
the times: on a shared machine the speed-up is bounded by the cores actually free.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np
import pandas as pd
from _results import cpu_seconds, write_results

from contexture.response.classifier import evaluate_classifier

FEATURES = [f"feature_{k}" for k in range(6)]


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    x[rng.random(x.shape) < 0.1] = np.nan  # some missing values, imputed inside each fold
    responder = rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(x[:, 0])))
    return pd.DataFrame(x, columns=FEATURES).assign(responder=responder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[38, 200])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="worker counts to time (first = anchor)")
    parser.add_argument("--small", action="store_true", help="the demo's size only (38 patients)")
    args = parser.parse_args()
    if args.small:
        args.patients = [38]
    first, last = args.threads[0], args.threads[-1]
    rows = []
    for n in args.patients:
        patients = cohort(n)
        elapsed, cpu, digests = {}, {}, {}
        for threads in args.threads:
            load = os.getloadavg()[0]
            start, cpu_start = time.perf_counter(), cpu_seconds()
            table, roc = evaluate_classifier(patients, FEATURES, seed=7, threads=threads)
            elapsed[threads], cpu[threads] = time.perf_counter() - start, cpu_seconds() - cpu_start
            text = table.to_csv(sep="\t", index=False) + roc.to_csv(sep="\t", index=False)
            digests[threads] = hashlib.sha256(text.encode()).hexdigest()
            print(
                f"{n} patients, threads {threads}: {elapsed[threads]:.1f} s (load average before: {load:.2f}), CPU {cpu[threads]:.1f} s; "
                f"sha256 {digests[threads][:16]}"
            )
        rows += [(f"{n} patients, {t} thread(s): wall time", f"{elapsed[t]:.2f}", "s") for t in args.threads]
        rows += [
            (f"{n} patients, {t} thread(s): CPU time (process + workers)", f"{cpu[t]:.2f}", "s") for t in args.threads
        ]
        if last != first:
            identical = len(set(digests.values())) == 1
            rows.append(
                (f"{n} patients: speed-up, {last} vs {first} thread(s)", f"{elapsed[first] / elapsed[last]:.2f}", "x")
            )
            rows.append((f"{n} patients: tables byte-identical", "yes" if identical else "no", "", "yes"))
    write_results("response_classifier", rows)


if __name__ == "__main__":
    main()
