"""Shared fixtures: the repository root, the ../shared fixtures and a real snakemake run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures``; tests that need it skip with a reason when it is absent."""
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (they live beside the project root)")
    return path


def write_tsv(path: Path, header: list[str], rows) -> None:
    """A tab-separated table: ``header`` then one line per row of ``rows``, values as ``str()``."""
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))


def run_snakemake(workdir: Path, config: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real workflow in ``workdir`` with ``config`` written as its config/config.yaml.

    Returns the completed process (stdout and stderr captured as text). With ``check``,
    a non-zero exit fails the test and shows snakemake's output.
    """
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    if check and result.returncode != 0:
        pytest.fail(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """One real run of the whole workflow on a small simulated cohort, shared by tests.

    Returns the run's folder; outputs are under ``results/small/``.
    """
    workdir = tmp_path_factory.mktemp("demo_run")
    run_snakemake(workdir, {"cohorts": {"small": {"simulate": {"patients": 24, "seed": 7}}}})
    return workdir
