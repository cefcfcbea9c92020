"""contexture.parallel.map_units: unit order, in-process at one thread, errors and logs as on one core."""

import logging
import os

import pytest

from contexture.errors import InputError
from contexture.parallel import map_units

log = logging.getLogger("contexture.test_parallel")


def _square_and_pid(value):
    log.warning("unit %d", value)
    return value * value, os.getpid()


def _fail_on_odd(value):
    if value % 2:
        raise InputError(f"unit {value} refused")
    return value


def test_one_thread_runs_in_process_and_two_in_workers_in_unit_order(caplog):
    units = list(range(7, 0, -1))
    with caplog.at_level("WARNING", logger="contexture"):
        serial = list(map_units(_square_and_pid, units, 1))
        serial_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        parallel = list(map_units(_square_and_pid, units, 2, chunksize=1))
        parallel_log = [r.getMessage() for r in caplog.records]
    assert [v for v, _ in serial] == [v for v, _ in parallel] == [49, 36, 25, 16, 9, 4, 1]
    assert {pid for _, pid in serial} == {os.getpid()}
    workers = {pid for _, pid in parallel}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    # The workers' records are re-emitted here, in unit order.
    assert parallel_log == serial_log == [f"unit {v}" for v in units]


def test_the_first_failing_unit_in_unit_order_is_raised():
    for threads in (1, 2):
        with pytest.raises(InputError, match="unit 3 refused"):
            list(map_units(_fail_on_odd, [2, 4, 3, 6, 5], threads, chunksize=1))


def test_one_unit_or_none_needs_no_pool():
    assert list(map_units(_square_and_pid, [], 4)) == []
    assert list(map_units(_square_and_pid, [3], 4)) == [(9, os.getpid())]


def _native_pool_sizes(_unit):
    """The BLAS/OpenMP and Arrow thread counts a unit sees."""
    import pyarrow
    from threadpoolctl import threadpool_info

    return sorted({pool["num_threads"] for pool in threadpool_info()}), pyarrow.cpu_count()


def test_native_pools_get_the_rule_budget_and_no_more():
    """A run on N threads gives each of its N workers one native thread, a run in this
    process gets the budget, and the process's own pools are restored afterwards."""
    import pyarrow
    from threadpoolctl import threadpool_info

    from contexture.parallel import native_threads

    before = ({pool["num_threads"] for pool in threadpool_info()}, pyarrow.cpu_count())
    # Two workers for two units: each gets 2 // 2 = 1 native thread.
    assert list(map_units(_native_pool_sizes, [0, 1], 2)) == [([1], 1), ([1], 1)]
    # One thread: the units run here, capped at one.
    assert list(map_units(_native_pool_sizes, [0, 1], 1)) == [([1], 1), ([1], 1)]
    # Four threads for one unit: it runs here with all four.
    assert list(map_units(_native_pool_sizes, [0], 4)) == [([4], 4)]
    with native_threads(3):
        assert _native_pool_sizes(None) == ([3], 3)
    assert ({pool["num_threads"] for pool in threadpool_info()}, pyarrow.cpu_count()) == before
