"""Work split over processes, merged in a fixed order: same result on 1 core or N.

A heavy stage cuts its work into independent blocks (features, pairs), runs them with
:func:`map_in_order` on the cores its rule's ``threads:`` gives it, and merges the
block results in block order, so its tables are byte-identical whatever the number of
cores. Nothing random may depend on the worker: a block that draws random numbers
takes its own seed from its position, never from the process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


def map_in_order(function: Callable[..., R], items: Sequence[T] | Iterable[T], workers: int, *args) -> list[R]:
    """``[function(item, *args) for item in items]``, on up to ``workers`` processes.

    Results come back in the order of ``items``. With one worker (or one item) nothing
    is forked. Workers are forked where the platform allows it (no re-import of the
    package per worker), spawned otherwise; ``function`` must be a module-level function.
    """
    items = list(items)
    workers = min(usable_workers(workers), len(items))
    if workers <= 1:
        return [function(item, *args) for item in items]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        return list(pool.map(function, items, *[[a] * len(items) for a in args]))
