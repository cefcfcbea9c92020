"""The boundary between a Snakemake script and the package.

Scripts call :func:`run` with their main function. It sends stderr and Python logging
to the rule's log, and turns a :class:`contexture.errors.ContextureError` into one
readable paragraph in the log and on the console with a non-zero exit, instead of a
traceback from deep inside pandas. Any other exception is a bug: it propagates with
its traceback (also to the log).
"""

from __future__ import annotations

__all__ = ["end_scheduler_timers", "job_process", "retain_freed_memory", "run"]

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Callable, Iterator

from contexture.errors import ContextureError
from contexture.parallel import native_threads

log = logging.getLogger("contexture")


# glibc's mallopt(3) parameters (malloc.h) and the most freed memory a job keeps.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
RETAINED_BYTES = 1 << 30


def retain_freed_memory(limit: int = RETAINED_BYTES) -> bool:
    """Let this process reuse the memory it frees, up to ``limit`` bytes, instead of
    returning it to the kernel (glibc's ``mallopt``).

    By default glibc gives every block over 32 MB its own ``mmap`` and unmaps it when it
    is freed, so a job that reads one volume after another (a PET scan, a mask, a QuPath
    export) has the kernel zero and map the same ~100 MB again for every unit: ~23,000
    page faults and ~50 ms a 200 x 200 x 300 scan, about 40 % of its time (measured with
    ``getrusage``). With blocks up to ``limit`` taken from the heap, and up to ``limit``
    of free heap kept, the next unit reuses the pages. Workers forked by
    :func:`contexture.parallel.map_units` inherit the setting. The cost: a job's resident
    memory stays at its peak until it ends, which is what a scheduler reserves anyway.
    Returns whether glibc took both settings; elsewhere (macOS, musl) nothing changes.
    """
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a glibc system
        glibc = False
    if not glibc:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mapped, trimmed = mallopt(_M_MMAP_THRESHOLD, limit), mallopt(_M_TRIM_THRESHOLD, limit)  # both, always
    return bool(mapped and trimmed)


@contextlib.contextmanager
def job_process(threads: int) -> Iterator[None]:
    """What a job's process runs its stage under: the memory it frees kept for its next
    unit of work (:func:`retain_freed_memory`), and native libraries' thread pools capped
    at the ``threads`` Snakemake granted (:func:`contexture.parallel.native_threads`).

    :func:`run` uses it for every job; the stage benchmarks measure a stage under it, in
    a fresh process as Snakemake starts one.
    """
    retain_freed_memory()
    with native_threads(max(1, int(threads or 1))):
        yield


def run(main: Callable[[object], None], snakemake: object) -> None:
    """Run ``main(snakemake)`` with logging to ``snakemake.log[0]`` and clean user errors."""
    console = sys.__stderr__
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handle = open(log_path, "w", buffering=1) if log_path else console
    sys.stderr = handle
    # The project's own messages at INFO; third-party libraries (fontTools' PDF subsetting,
    # matplotlib, numexpr) only from WARNING, so a rule's log is about the rule.
    logging.basicConfig(
        stream=handle, level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    log.setLevel(logging.INFO)
    try:
        # The job uses the cores Snakemake granted it, native libraries' pools included.
        with job_process(getattr(snakemake, "threads", 1)):
            main(snakemake)
    except ContextureError as error:
        rule = getattr(snakemake, "rule", "?")
        paragraph = f"contexture error in rule '{rule}' ({type(error).__name__}):\n{error}\n"
        handle.write(paragraph)
        if handle is not console:
            console.write(paragraph)
        console.flush()
        handle.flush()
        sys.exit(1)


def end_scheduler_timers() -> int:
    """Cancel the scheduler's pending re-evaluation timers when a run has ended; returns
    how many were cancelled.

    Snakemake's scheduler starts a non-daemon ``threading.Timer`` (its job rate limiter's
    timespan, 1 s by default, at least 1 s on the command line) after each scheduling pass
    (``JobScheduler._schedule_reevalutation``), and the interpreter waits for such threads
    at exit: every run ended up to a second after its last job (the demo: 1.0-1.2 s, its
    final ``threading._shutdown`` in py-spy). Called from the Snakefile's ``onsuccess`` and
    ``onerror`` hooks, after the scheduler has returned, when a timer's only effect would
    be to wake a scheduler that no longer runs.
    """
    import threading

    timers = [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]
    for timer in timers:
        timer.cancel()
    return len(timers)
