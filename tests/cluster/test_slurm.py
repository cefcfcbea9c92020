"""The workflow under a real (one-node) SLURM gives the same tables as a local run.

A cluster of munged + slurmctld + slurmd is started under a temporary folder (see
``tests/cluster/local_slurm.py``); the test is skipped, with the reason, where that is
impossible (not root, packages missing, daemons refusing to start). The SLURM run uses
the shipped profile ``resources/profiles/slurm`` and overrides only what a throwaway
cluster needs: its partition, small memory/runtime requests and short status polling.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cluster.local_slurm import LocalSlurm, SlurmUnavailable, unavailable_reason
from tests.conftest import REPO, SNAKEMAKE, run_snakemake

UNAVAILABLE = unavailable_reason()
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.workflow,
    # Decided before any fixture runs, so a machine without SLURM skips at once.
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no local SLURM: {UNAVAILABLE}"),
]

# The plugin checks job states this many seconds after a round of submissions, then
# adds 10 s per round in which nothing finished; a job here (sbatch -> snakemake ->
# srun -> snakemake -> script) takes 5-15 s, so one check usually sees it done.
FIRST_STATUS_CHECK_SECONDS = 15


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node cluster; stopped (by the PIDs it started) after the module."""
    cluster = LocalSlurm()
    try:
        cluster.start()
    except SlurmUnavailable as error:
        pytest.skip(f"local SLURM did not start: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


def result_tables(workdir: Path) -> dict[str, bytes]:
    """Every results/**/*.tsv except logs and benchmarks (timings differ by design)."""
    tables = {}
    for path in sorted((workdir / "results").rglob("*.tsv")):
        relative = path.relative_to(workdir)
        if {"logs", "benchmarks"} & set(relative.parts):
            continue
        tables[relative.as_posix()] = path.read_bytes()
    return tables


# A small cohort with the stages whose jobs chain deepest (clinical -> RECIST -> patient
# table -> survival, figures, bundle): every kind of dependency crosses SLURM, while the
# test's wall time stays in minutes on a 2-core CI machine.
CLUSTER_CONFIG = {"cohorts": {"small": {"simulate": {"patients": 12, "seed": 3, "modalities": ["clinical", "recist"]}}}}


def test_slurm_run_gives_the_local_run_tables(slurm_cluster, tmp_path):
    local_run = tmp_path / "local"
    run_snakemake(local_run, CLUSTER_CONFIG)
    tmp_path = tmp_path / "cluster"
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(CLUSTER_CONFIG, sort_keys=False))
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--profile",
        str(REPO / "resources" / "profiles" / "slurm"),
        "--jobs",
        "4",
        "--default-resources",
        f"slurm_partition={slurm_cluster.partition}",
        "mem_mb=500",
        "runtime=15",
        "--slurm-init-seconds-before-status-checks",
        str(FIRST_STATUS_CHECK_SECONDS),
        "--seconds-between-status-checks",
        "1",
        "--max-threads",  # a rule asking for more threads than the node has still runs
        str(slurm_cluster.cpus),
        "--latency-wait",
        "5",
        "--slurm-keep-successful-logs",
    ]
    result = subprocess.run(command, env=slurm_cluster.env, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"snakemake under SLURM failed:\n{output[-6000:]}\n{slurm_cluster.logs()}"

    # Every job but the target rule went through sbatch, and SLURM saw each complete.
    submitted = output.count("has been submitted with SLURM jobid")
    jobs = slurm_cluster.run("squeue", "--states=all", "--noheader", "--format=%i|%T").stdout.split()
    assert submitted >= 4 and len(jobs) == submitted
    assert all(line.endswith("|COMPLETED") for line in jobs), jobs
    # Each job ran snakemake with this interpreter (the project's .venv), not a `python` on PATH.
    for job_id in (line.split("|")[0] for line in jobs):
        script = slurm_cluster.run("scontrol", "write", "batch_script", job_id, "-").stdout
        assert f"{sys.executable} -m snakemake" in script, script

    local, cluster = result_tables(local_run), result_tables(tmp_path)
    assert "results/small/tables/patients.tsv" in local
    assert sorted(cluster) == sorted(local)
    differing = [name for name in local if cluster[name] != local[name]]
    assert not differing, f"tables differ between the SLURM and the local run: {differing}"
