"""contexture used as a Snakemake module from another folder gives the direct run's tables.

This is how a catalog user deploys it (`module: snakefile: github(..., path=
"workflow/Snakefile")`); here the module is named by its local path.
"""

import subprocess

import pytest
import yaml

from tests.conftest import REPO, SNAKEMAKE, run_snakemake

pytestmark = pytest.mark.workflow

COHORT = {"simulate": {"patients": 12, "seed": 5, "modalities": ["clinical", "recist"]}}
TABLES = [
    "tables/patients.tsv",
    "tables/recist_timepoints.tsv",
    "tables/response_rates.tsv",
    "tables/survival_km.tsv",
    "tables/survival_cox.tsv",
]


def test_the_workflow_runs_as_a_module_and_gives_the_direct_runs_tables(tmp_path):
    direct = tmp_path / "direct"
    run_snakemake(direct, {"cohorts": {"tiny": COHORT}}, *[f"results/tiny/{t}" for t in TABLES])

    deployed = tmp_path / "deployed"
    (deployed / "config").mkdir(parents=True)
    (deployed / "config" / "config.yaml").write_text(yaml.safe_dump({"cohorts": {"tiny": COHORT}}))
    (deployed / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module contexture:\n"
        f'    snakefile: "{REPO / "workflow" / "Snakefile"}"\n'
        "    config: config\n\n\n"
        "use rule * from contexture\n"
    )
    command = [str(SNAKEMAKE), "--cores", "2", *[f"results/tiny/{t}" for t in TABLES]]
    result = subprocess.run(command, cwd=deployed, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-6000:]
    for table in TABLES:
        assert (deployed / "results/tiny" / table).read_bytes() == (direct / "results/tiny" / table).read_bytes(), table
