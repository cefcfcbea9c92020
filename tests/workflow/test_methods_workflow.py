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


def test_methods_count_every_family_of_tests_and_the_adjustment_is_the_tables(demo_run):
    """The multiplicity section's counts are the rows with a p value of each table the run
    wrote, and a family called adjusted holds Benjamini-Hochberg q within that family."""
    import re
    from pathlib import Path

    import numpy as np

    from contexture.io import read_result_table
    from contexture.report.multiplicity import BH, FAMILIES
    from contexture.stats.rank_tests import benjamini_hochberg

    cohort_dir = demo_run / "results/small"
    methods = (cohort_dir / "bundle/methods.md").read_text()
    section = methods.split("## Multiplicity\n\n")[1].split("\n## ")[0]
    bullets = {
        re.search(r"\(`([\w.]+)`\)", line).group(1): line for line in section.splitlines() if line.startswith("- ")
    }
    expected, total = {}, 0
    for family in FAMILIES:
        path = cohort_dir / family.table
        if not path.is_file():
            continue
        table = read_result_table(path)
        tested = table[table["p"].notna()]
        if tested.empty:
            continue
        expected[path.name] = len(tested)
        total += len(tested)
        line = bullets[path.name]
        assert f": {len(tested):,} test" in line, line
        if family.adjustment == BH:
            groups = tested.groupby(list(family.by)) if family.by else [((), tested)]
            for _, group in groups:
                np.testing.assert_allclose(group["q"], benjamini_hochberg(group["p"]), rtol=1e-9)
            assert f"by {BH}" in line, line
        else:
            assert "not adjusted for multiplicity" in line, line
    assert set(bullets) == set(expected)
    # This cohort's tests: survival, PET, and at least one adjusted family (its toxicity
    # groups are too small to test).
    assert {"survival_cox.tsv", "survival_logrank.tsv", "pet_models.tsv", "classifier.tsv"} <= set(expected)
    adjusted = {Path(f.table).name for f in FAMILIES if f.adjustment}
    assert adjusted & set(expected), sorted(expected)
    assert f"The run computed {total:,} p values" in section
