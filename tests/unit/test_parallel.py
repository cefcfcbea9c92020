"""contexture.parallel: map_units (unit order, in-process at one thread, errors and logs as on one core) and the threads a heavy rule asks for."""

import logging
import os

import pytest

from contexture.errors import InputError
from contexture.parallel import HEAVY_RULE_THREADS, input_megabytes, map_units, table_rows, threads_for_work

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


def _touch(path):
    path.write_text("done")
    return path.name


def test_a_generator_of_units_is_worked_on_while_it_is_still_producing(tmp_path):
    # The generator waits, before producing its last unit, until a worker has finished the
    # first one: were the units gathered into a list before any work started, it would
    # wait in vain (and fail after 60 s).
    import time

    def planned():
        for k in range(5):
            yield tmp_path / f"unit{k}"
        deadline = time.monotonic() + 60
        while not (tmp_path / "unit0").exists():
            assert time.monotonic() < deadline, "no unit was worked on before the last was produced"
            time.sleep(0.01)
        yield tmp_path / "unit5"

    assert list(map_units(_touch, planned(), 2, chunksize=1)) == [f"unit{k}" for k in range(6)]
    # One thread: the plain map, the same results.
    assert list(map_units(_touch, (tmp_path / f"unit{k}" for k in range(6)), 1)) == [f"unit{k}" for k in range(6)]


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


def _threads_of_this_process(_):
    import numpy  # noqa: F401  (OpenBLAS loaded, as in every stage)
    import scipy.spatial  # noqa: F401  (scipy's own OpenBLAS)

    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_a_forked_worker_starts_no_native_threads_of_its_own():
    """Workers inherit their native caps from the fork, so none re-sets OpenBLAS: setting
    it in the child started new BLAS threads (2 with numpy's and scipy's OpenBLAS), which
    busy-wait ~0.1 s each, on the cores the workers need (parallel._share_native_threads)."""
    import numpy  # noqa: F401
    import scipy.spatial  # noqa: F401

    from contexture.parallel import native_threads

    with native_threads(2):  # as under runner.job_process(2)
        assert list(map_units(_threads_of_this_process, range(4), 2, chunksize=1)) == [1, 1, 1, 1]


def test_threads_for_work_is_one_per_share_of_work_between_one_and_the_most():
    # ceil(work / work per thread), clipped to [1, most]: 22 MB at 50 MB a thread is 1,
    # 580 MB is 12 -> the most (8); nothing (a dry run's missing inputs) is 1.
    assert threads_for_work(22, 50) == 1
    assert threads_for_work(50, 50) == 1
    assert threads_for_work(50.001, 50) == 2
    assert threads_for_work(580, 50) == HEAVY_RULE_THREADS == 8
    assert threads_for_work(580, 50, most=4) == 4
    assert threads_for_work(0, 50) == threads_for_work(float("nan"), 50) == 1


def test_input_megabytes_counts_files_and_everything_below_folders(tmp_path):
    (tmp_path / "scans" / "P1").mkdir(parents=True)
    (tmp_path / "scans" / "P1" / "pet.nii.gz").write_bytes(b"x" * 1_500_000)
    (tmp_path / "scans" / "labels.tsv").write_bytes(b"x" * 250_000)
    (tmp_path / "table.tsv").write_bytes(b"x" * 250_000)
    paths = [tmp_path / "scans", tmp_path / "table.tsv", tmp_path / "not_yet_made.tsv"]
    assert input_megabytes(map(str, paths)) == 2.0


def test_table_rows_counts_lines_after_the_header(tmp_path):
    table = tmp_path / "patients.tsv"
    table.write_text("patient_id\tx\nP1\t1\nP2\t2\nP3\t3\n")
    assert table_rows(table) == 3
    (tmp_path / "header_only.tsv").write_text("patient_id\n")
    assert table_rows(tmp_path / "header_only.tsv") == 0
    assert table_rows(tmp_path / "missing.tsv") == 0
