"""Broken and hostile configs (issue 15): one real snakemake run per case.

Each config is the user's own file, given with ``--configfile`` as the README says, in
a run folder that also holds the embedded demo's config/config.yaml (which a user's
config replaces). Every broken case must stop with its message, print no
``Traceback``, write no ``tables/patients.tsv`` and leave the inputs and the config
byte-identical. Config problems are found when the workflow is parsed, so dry runs
(``-n``) show them; only the replacement of the demo config is a real run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, SNAKEMAKE

pytestmark = pytest.mark.workflow

CLINICAL = "patient_id\tos_days\tos_event\tpfs_days\tpfs_event\n" + "".join(
    f"P{i}\t{100 * i}\t{i % 2}\t{50 * i}\t1\n" for i in range(1, 9)
)
COHORT = "cohorts:\n  trial:\n    clinical: inputs/clinical.tsv\n"


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".snakemake" not in p.parts and "results" not in p.parts
    }


def run(tmp_path: Path, config_text: str, *args: str) -> subprocess.CompletedProcess:
    """Run snakemake in ``tmp_path`` with ``config_text`` as ``--configfile my_cohort.yaml``."""
    (tmp_path / "inputs").mkdir(exist_ok=True)
    (tmp_path / "inputs" / "clinical.tsv").write_text(CLINICAL)
    (tmp_path / "config").mkdir(exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    (tmp_path / "my_cohort.yaml").write_text(config_text)
    before = checksums(tmp_path)
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    command += ["--cores", "2", "--configfile", str(tmp_path / "my_cohort.yaml"), *args]
    # The timeout only keeps a regression from hanging the suite; the alias bomb's
    # test asserts where it is refused, not how fast.
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert checksums(tmp_path) == before, "an input or config file was modified"
    return result


def assert_refused(result: subprocess.CompletedProcess, *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for needle in needles:
        assert needle in output, f"{needle!r} not in the message:\n{output[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "InputFunctionException" not in output, output[-3000:]


def test_duplicate_cohort_name(tmp_path):
    text = COHORT + "    description: first\n  trial:\n    clinical: inputs/other.tsv\n"
    result = run(tmp_path, text, "-n")
    assert_refused(result, "my_cohort.yaml", "key 'cohorts.trial' is given twice (lines 2 and 5)")


def test_clinical_given_twice_in_one_cohort(tmp_path):
    result = run(tmp_path, COHORT + "    clinical: inputs/clinical_v2.tsv\n", "-n")
    assert_refused(result, "my_cohort.yaml", "key 'cohorts.trial.clinical' is given twice (lines 3 and 4)")


def test_alias_bomb(tmp_path):
    levels = "abcdefghi"
    lines = ['      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"      {x}: &{x} [{', '.join([f'*{prev}'] * 9)}]" for prev, x in zip(levels, levels[1:], strict=False)]
    result = run(tmp_path, COHORT + "    description:\n" + "\n".join(lines) + "\n", "-n")
    assert_refused(result, "line 5, key 'cohorts.trial.description.a'", "anchors and aliases")


def test_unknown_signature_name(tmp_path):
    result = run(tmp_path, COHORT + "    signatures:\n      use: [cyt, immunosign_21]\n", "-n")
    assert_refused(result, "cohorts.trial.signatures.use: no shipped signature named 'immunosign_21'")


def test_results_folder_is_a_file(tmp_path):
    (tmp_path / "results").write_text("not a folder\n")
    result = run(tmp_path, COHORT, "-n")
    assert_refused(result, "the results folder 'results' is a file")
    assert (tmp_path / "results").read_text() == "not a folder\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_results_folder_is_read_only(tmp_path):
    (tmp_path / "results" / "trial").mkdir(parents=True)
    (tmp_path / "results" / "trial").chmod(0o555)
    try:
        result = run(tmp_path, COHORT)
    finally:
        (tmp_path / "results" / "trial").chmod(0o755)
    assert_refused(result, "the results folder 'results/trial' is not writable")


def test_user_configfile_replaces_the_demo(tmp_path):
    """A clinical-only cohort analysed alone: nothing of the demo is simulated or built."""
    result = run(tmp_path, COHORT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (tmp_path / "results/trial/tables/patients.tsv").is_file()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["trial"]


def test_user_cohort_may_be_named_demo(tmp_path):
    """It used to be merged with the demo's `simulate:` and refused for declaring both."""
    result = run(tmp_path, COHORT.replace("trial", "demo"), "-n")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "simulate_cohort" not in output and "validate_inputs" in output
