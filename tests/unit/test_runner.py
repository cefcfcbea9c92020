"""contexture.runner: a freed 200 MB array stays in the process (glibc); the scheduler's timers end with the run."""

import os
import subprocess
import sys

import pytest

from contexture.runner import RETAINED_BYTES

# Allocate and touch a 200 MB array, free it, and report the resident memory (kB) before
# and after the free, and the page faults a second array of the same size costs.
SCRIPT = """
import resource, sys
import numpy as np
from contexture.runner import retain_freed_memory
retained = retain_freed_memory() if sys.argv[1] == "retain" else False
def rss():
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS")))
block = np.ones(25_000_000)  # 200 MB, every page touched
before = rss()
del block
after = rss()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
again = np.ones(25_000_000)
print(retained, before, after, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
"""


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def _run(mode: str) -> tuple[bool, int, int, int]:
    # A fresh interpreter: the setting is for the life of a process (a Snakemake job).
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    retained, before, after, faults = out.split()
    return retained == "True", int(before), int(after), int(faults)


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt only (Linux)")
def test_freed_memory_is_kept_and_reused_without_page_faults():
    retained, before, after, faults = _run("retain")
    assert retained and RETAINED_BYTES >= 200 * 10**6
    # Kept: the resident size does not drop by the freed 200 MB (195,312 kB) ...
    assert before - after < 10_000
    # ... and the next 200 MB array reuses those pages without a page fault (a fresh
    # mapping costs ~800 faults with transparent huge pages, ~49,000 with 4 kB pages).
    assert faults < 100
    # Without it, glibc unmaps the block on free: the resident size drops by ~195,000 kB.
    _, before, after, _ = _run("default")
    assert before - after > 150_000


def test_the_schedulers_pending_timer_is_cancelled_so_the_run_ends_with_its_last_job():
    """What Snakemake's scheduler leaves after its last pass: a non-daemon timer the
    interpreter would wait for at exit. Cancelled, it ends at once without firing."""
    import threading
    import time

    from contexture.runner import end_scheduler_timers

    fired = threading.Event()
    timer = threading.Timer(30.0, fired.set)
    timer.start()
    other = threading.Thread(target=time.sleep, args=(0.01,))  # not a timer: left alone
    other.start()
    assert end_scheduler_timers() >= 1
    timer.join(timeout=5.0)
    assert not timer.is_alive() and not fired.is_set()
    other.join()
    assert end_scheduler_timers() == 0
