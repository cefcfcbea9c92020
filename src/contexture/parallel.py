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
"""

from __future__ import annotations

__all__ = ["blocks", "map_in_order", "map_units", "usable_workers"]

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)


class _Collect(logging.Handler):
    """Keeps a worker's log records, made picklable, for re-emission in the parent."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        record.exc_info = record.exc_text = record.stack_info = None
        self.records.append(record)


def _init_worker(level: int, contexture_level: int) -> None:
    # A worker logs only into _Collect (installed per unit); the parent writes the log.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("contexture").setLevel(contexture_level)


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
    """
    units = list(units)
    threads = max(1, min(int(threads or 1), len(units)))
    if threads == 1:
        yield from map(function, units)
        return
    if chunksize is None:
        chunksize = max(1, len(units) // (4 * threads))
    levels = (logging.getLogger().level, logging.getLogger("contexture").level)
    with ProcessPoolExecutor(
        max_workers=threads, mp_context=_context(), initializer=_init_worker, initargs=levels
    ) as pool:
        try:
            for result, records in pool.map(_run_unit, [function] * len(units), units, chunksize=chunksize):
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
