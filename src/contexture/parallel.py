"""Independent units of work (scans, slides, resamples) over the cores a rule was given.

:func:`map_units` is ``map(function, units)`` spread across a process pool of
``threads`` workers (``concurrent.futures.ProcessPoolExecutor``): it yields the results
in the order of ``units`` whatever order the workers finish in, each as soon as it and
those before it are done (so a caller can log progress). With ``threads == 1`` (or a
single unit) it runs in this process, with no pool, so tests and small cohorts pay
nothing.

Results do not depend on ``threads``: a unit's result depends only on its own arguments
(callers draw random numbers before splitting, or give each unit its own seed), and
results are merged in unit order. Log records a unit emits in a worker are collected
there and re-emitted here, in unit order, after the unit returns, so a rule's log reads
the same at any thread count. An exception raised by a unit is re-raised here, the first
failing unit in unit order (the one a one-core run stops at), and the units not yet
started are cancelled.

Workers are forked where the platform can (Linux, macOS) so that they inherit the
imported package and need not re-run the Snakemake script (which ``spawn`` would import
again); elsewhere the default start method is used.

A rule given ``threads`` cores uses that many and no more. Native libraries start their
own thread pools sized to the machine (OpenBLAS / OpenMP behind numpy, scipy and
scikit-learn; Arrow's CPU pool behind its CSV reader, used for QuPath exports), so
without a cap a "one-thread" run already used 1.25 of 2 cores and ``threads`` workers
each started a pool of their own (oversubscription). :func:`native_threads` caps both
(threadpoolctl for BLAS/OpenMP, ``pyarrow.set_cpu_count`` for Arrow): while units run,
each worker gets ``threads // workers`` native threads, and a run in this process gets
``threads``. Measured (``benchmarks/pet_quantify.py --small``, quiet 2-core machine):
the 2-against-1 speed-up went from 1.49x to 1.78x, because the one-thread anchor now
runs on one core as Snakemake was told.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

__all__ = [
    "HEAVY_RULE_THREADS",
    "map_units",
    "map_in_order",
    "blocks",
    "usable_workers",
    "native_threads",
    "threads_for_work",
    "input_megabytes",
    "table_rows",
]

# The most threads a heavy rule asks for (Snakemake caps it at --cores; SLURM: cpus per task).
HEAVY_RULE_THREADS = 8


@contextlib.contextmanager
def native_threads(limit: int) -> Iterator[None]:
    """Cap the thread pools of native libraries at ``limit`` threads while the block runs.

    BLAS and OpenMP pools through threadpoolctl, Arrow's CPU pool through
    ``pyarrow.set_cpu_count``; both are restored afterwards.
    """
    from threadpoolctl import threadpool_limits

    limit = max(1, int(limit))
    arrow = _arrow()
    before = arrow.cpu_count() if arrow is not None else None
    if arrow is not None:
        arrow.set_cpu_count(limit)
    try:
        with threadpool_limits(limits=limit):
            yield
    finally:
        if arrow is not None:
            arrow.set_cpu_count(before)


def _arrow():
    # pyarrow is a dependency (pandas' CSV engine for QuPath exports, Parquet); pandas
    # imports it anyway, so this costs nothing, and the cap must be set before Arrow's pool
    # first starts.
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    return pyarrow


class _Collect(logging.Handler):
    """Keeps a worker's log records, made picklable, for re-emission in the parent."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        record.exc_info = record.exc_text = record.stack_info = None
        self.records.append(record)


def _init_worker(level: int, contexture_level: int, native: int) -> None:
    # A worker logs only into _Collect (installed per unit); the parent writes the log.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("contexture").setLevel(contexture_level)
    # The worker's share of the rule's cores, for the life of the worker.
    _share_native_threads(native)


def _share_native_threads(limit: int) -> None:
    """Cap native pools at ``limit`` threads in a worker, setting only those not there yet.

    A forked worker inherits the caps :func:`map_units` set before forking, and setting
    OpenBLAS's count again there is not free: OpenBLAS stops its threads at fork, and
    ``openblas_set_num_threads`` in the child starts new ones, which busy-wait ~0.1 s each
    before they sleep. With numpy's and scipy's OpenBLAS that was 0.2 CPU-s per worker
    (``getrusage`` of an idle forked child), taken on 2 cores from the workers' first
    units. A worker started another way (spawn) gets its caps here.
    """
    from threadpoolctl import ThreadpoolController

    for library in ThreadpoolController().lib_controllers:
        if library.num_threads != limit:
            library.set_num_threads(limit)
    arrow = _arrow()
    if arrow is not None and arrow.cpu_count() != limit:
        arrow.set_cpu_count(limit)


def _run_unit(function: Callable, unit) -> tuple[object, list[logging.LogRecord]]:
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        return function(unit), collect.records
    finally:
        root.removeHandler(collect)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork") if "fork" in methods else None


def map_units(function: Callable, units: Iterable, threads: int = 1, *, chunksize: int | None = None) -> Iterator:
    """``function(unit)`` of each unit, in unit order, computed on up to ``threads`` worker processes.

    ``function`` must be a module-level function and each unit picklable (they are sent
    to the workers). ``chunksize`` (default: the units split into four chunks per
    worker) groups small units per message to the workers.

    ``units`` without a length (a generator) are not gathered first: the workers start
    on the first chunks (``chunksize``, default 1) while this process still produces the
    rest, so a caller whose units must be drawn one after another in one random stream
    does not leave the other cores idle meanwhile.
    """
    streamed = not hasattr(units, "__len__")
    budget = max(1, int(threads or 1))
    if not streamed:
        units = list(units)
        threads = min(budget, len(units)) if units else 1
    else:
        threads = budget
    if threads == 1:
        with native_threads(budget):
            yield from map(function, units)
        return
    if chunksize is None:
        chunksize = 1 if streamed else max(1, len(units) // (4 * threads))
    native = max(1, budget // threads)
    initargs = (logging.getLogger().level, logging.getLogger("contexture").level, native)
    # The workers are forked with their share of native threads already set, which they
    # inherit (_share_native_threads); this process waits for them meanwhile.
    with (
        native_threads(native),
        ProcessPoolExecutor(
            max_workers=threads, mp_context=_context(), initializer=_init_worker, initargs=initargs
        ) as pool,
    ):
        try:
            for result, records in pool.map(_run_unit, itertools.repeat(function), units, chunksize=chunksize):
                for record in records:
                    logger = logging.getLogger(record.name)
                    if logger.isEnabledFor(record.levelno):
                        logger.handle(record)
                yield result
        except BaseException:  # a unit's error, or the caller stopped early
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def usable_workers(requested: int | None) -> int:
    """``requested`` (a rule's threads) clipped to 1 .. the CPUs this process may use."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(int(requested or 1), available))


def blocks(n_items: int, workers: int, min_block: int) -> list[range]:
    """Contiguous index ranges covering ``range(n_items)``, at most ``workers`` of them and
    none shorter than ``min_block`` (one range when the work is too small to split)."""
    count = max(1, min(workers, n_items // max(min_block, 1)))
    edges = [round(i * n_items / count) for i in range(count + 1)]
    return [range(edges[i], edges[i + 1]) for i in range(count)]


class _WithArguments:
    """``function(item, *arguments)`` as a picklable one-argument callable for :func:`map_units`."""

    def __init__(self, function: Callable, arguments: tuple) -> None:
        self.function, self.arguments = function, arguments

    def __call__(self, item):
        return self.function(item, *self.arguments)


def map_in_order(function: Callable, items: Iterable, workers: int, *arguments) -> list:
    """``[function(item, *arguments) for item in items]`` on up to ``workers`` processes
    (at most the CPUs this process may use), in the order of ``items``: :func:`map_units`."""
    return list(map_units(_WithArguments(function, arguments), items, usable_workers(workers), chunksize=1))


def threads_for_work(work: float, work_per_thread: float, most: int = HEAVY_RULE_THREADS) -> int:
    """The threads a heavy rule asks Snakemake for: one per ``work_per_thread`` units of
    work (scans' megabytes, patients, genes), at least 1 and at most ``most``.

    A small job on a pool gains less than the core it holds: Snakemake reserves every
    thread a job asks for, so a 2-thread job that spends most of its time in serial parts
    (imports, figures, the merged statistics) leaves a core idle that another job could
    use. Results never depend on the count (see the module docstring).
    """
    if not work > 0:
        return 1
    return max(1, min(int(most), math.ceil(work / work_per_thread)))


def input_megabytes(paths: Iterable[str | os.PathLike]) -> float:
    """Total size in MB (10^6 bytes) of the files in ``paths``, a directory counting every
    file below it; a path that does not exist yet (a dry run) counts 0."""
    total = 0
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                total += sum(os.path.getsize(os.path.join(folder, name)) for name in files)
        elif os.path.isfile(path):
            total += os.path.getsize(path)
    return total / 1e6


def table_rows(path: str | os.PathLike) -> int:
    """Data rows of a header-first text table (lines after the first; 0 if it does not exist)."""
    if not os.path.isfile(path):
        return 0
    with open(path, "rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)
