"""The methods text follows the run's config: a changed threshold reaches methods.md."""

import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_changed_thresholds_reach_the_methods_text(tmp_path):
    # A small clinical + RECIST cohort, with thresholds away from their defaults.
    config = {
        "cohorts": {
            "tiny": {
                "simulate": {"patients": 12, "seed": 3, "modalities": ["clinical", "recist"]},
                "response": {"confirmation_days": 35, "toxicity": {"severe_grade": 2}},
                "survival": {"conf_level": 0.9, "cox": {"min_events_per_variable": 4}},
            }
        }
    }
    run_snakemake(tmp_path, config, "results/tiny/bundle")
    methods = (tmp_path / "results/tiny/bundle/methods.md").read_text()
    assert "The analysis included 12 patients." in methods
    assert "with confirmation of CR/PR (≥ 35 days)" in methods and "CR/PR (≥ 28 days)" not in methods
    assert "grade ≥ 2" in methods
    assert "'log'-transformed 90% confidence intervals" in methods and "fewer than 4 events per variable" in methods
    # Stages without inputs write no paragraph.
    assert "## CD8 PET" not in methods and "NanoString" not in methods
