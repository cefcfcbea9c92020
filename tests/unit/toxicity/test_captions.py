"""The toxicity stage's report captions: severe vs other patients and each Mann-Whitney p."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.toxicity.captions import FACTS


def test_toxicity_lists_the_mann_whitney_tests(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "toxicity": ["grade >= 3 irAE"] * 3,
                "biomarker": ["immunosign_score", "pet_geomean_suvmax_baseline", "immunosign_high"],
                "test": ["mann_whitney", "mann_whitney", "fisher"],
                "n_severe": [4, 4, 4],
                "n_other": [20, 20, 20],
                "p": [0.0312, 0.5, 0.01],
            }
        ),
        tmp_path / "tables/toxicity.tsv",
    )
    expected = (
        "Baseline biomarkers by immune-related adverse event severity",
        "n = 4 severe vs 20 other patients (grade >= 3 irAE); Mann-Whitney: "
        "immunosign_score p = 0.031, pet_geomean_suvmax_baseline p = 0.5",
    )
    assert FACTS["toxicity.tsv"](Cohort(tmp_path), "toxicity.tsv") == expected
    assert FACTS["toxicity_biomarkers.png"](Cohort(tmp_path), "toxicity_biomarkers.png") == expected


def test_toxicity_without_tests(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables/toxicity.tsv").write_text("toxicity\tbiomarker\n")
    assert FACTS["toxicity.tsv"](Cohort(tmp_path), "toxicity.tsv")[1] == (
        "n = 0 comparisons; too few severe events to test"
    )
