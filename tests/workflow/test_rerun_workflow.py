"""Reruns touch what changed: after a completed run of a real cohort, an edited option
reruns exactly the jobs that read it (snakemake's default rerun triggers, params among them).

The cohort is a real (not simulated) clinical + RECIST cohort of 8 patients, so the run
has the validation step every stage waits for, and a response stage that must stay put
when a survival option changes. One full run, then dry runs after config edits.
"""

from __future__ import annotations

import copy
import re

import pytest

from tests.conftest import run_snakemake, write_tsv

pytestmark = pytest.mark.workflow

PATIENTS = [f"P{i:02d}" for i in range(1, 9)]
# The rule of the top-level Snakefile that names the targets: a job without outputs that
# runs whenever anything upstream does. Not counted as work.
TARGET_RULES = {"default", "all"}


def build_cohort(folder):
    folder.mkdir()
    write_tsv(
        folder / "clinical.tsv",
        ["patient_id", "pfs_days", "pfs_event", "os_days", "os_event", "dmmr"],
        [
            (p, 60 + 45 * i, int(i % 3 != 0), 200 + 70 * i, i % 2, str(i % 3 == 0).lower())
            for i, p in enumerate(PATIENTS)
        ],
    )
    recist = []
    for i, patient in enumerate(PATIENTS):
        for day, shrink in ((-7, 1.0), (56, 0.6 + 0.1 * i), (112, 0.5 + 0.15 * i)):
            recist.append((patient, day, "L1", "target", round(30 * shrink, 1)))
            recist.append((patient, day, "L2", "target", round(20 * shrink, 1)))
    write_tsv(folder / "recist.tsv", ["patient_id", "assessment_day", "lesion_id", "kind", "diameter_mm"], recist)
    return {"clinical": str(folder / "clinical.tsv"), "recist": str(folder / "recist.tsv")}


def planned_jobs(workdir, config) -> dict[str, int]:
    """{rule: jobs} of a dry run (``--dry-run``'s "Job stats" table), target rules left out."""
    result = run_snakemake(workdir, config, "--dry-run")
    if "Nothing to be done" in result.stdout + result.stderr:
        return {}
    stats = (result.stdout + result.stderr).split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", stats, re.M)}
    return {rule: count for rule, count in jobs.items() if rule not in TARGET_RULES}


def pending_outputs(workdir, config) -> set[str]:
    """The outputs ``--summary`` plans to update (its ``plan`` column is not "no update")."""
    result = run_snakemake(workdir, config, "--summary")
    lines = [line.split("\t") for line in result.stdout.splitlines() if line.startswith("results/")]
    # columns: output_file, date, rule, log-file(s), status, plan
    return {line[0] for line in lines if line[-1] != "no update"}


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rerun")
    config = {"cohorts": {"trial": build_cohort(workdir / "inputs")}}
    run_snakemake(workdir, config)
    return workdir, config


def test_completed_run_has_nothing_to_do(completed_run):
    workdir, config = completed_run
    assert planned_jobs(workdir, config) == {}


def test_survival_conf_level_reruns_survival_its_figures_and_the_bundle(completed_run):
    workdir, config = completed_run
    edited = copy.deepcopy(config)
    edited["cohorts"]["trial"]["survival"] = {"conf_level": 0.9}
    assert planned_jobs(workdir, edited) == {"survival": 1, "survival_figures": 1, "bundle": 1}
    pending = pending_outputs(workdir, edited)
    assert "results/trial/tables/survival_km.tsv" in pending
    assert "results/trial/figures/survival_km_os.png" in pending
    assert "results/trial/trial_bundle.zip" in pending
    assert not {p for p in pending if "/validation/" in p or "recist" in p or "clinical/" in p}


def test_description_reruns_only_the_bundle(completed_run):
    workdir, config = completed_run
    edited = copy.deepcopy(config)
    edited["cohorts"]["trial"]["description"] = "Phase II trial, data cut 2024-06"
    assert planned_jobs(workdir, edited) == {"bundle": 1}


def test_toxicity_option_does_not_rerun_the_recist_assessment(completed_run):
    workdir, config = completed_run
    edited = copy.deepcopy(config)
    edited["cohorts"]["trial"]["response"] = {"toxicity": {"severe_grade": 2}}
    jobs = planned_jobs(workdir, edited)
    assert "recist" not in jobs and "validate_inputs" not in jobs
    assert jobs.get("response_toxicity") == 1 and jobs.get("bundle") == 1


def test_a_validation_option_reruns_the_validation(completed_run):
    workdir, config = completed_run
    edited = copy.deepcopy(config)
    edited["cohorts"]["trial"]["limits"] = {"table_mb": 512}
    assert planned_jobs(workdir, edited).get("validate_inputs") == 1
