"""The IHC stage's report captions: slide counts per class and the Kendall correlation."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.ihc.captions import FACTS
from contexture.io import write_table


def _summary(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)[1]


def test_pet_correlation_states_each_timepoint_of_the_plotted_density(tmp_path):
    write_table(
        pd.DataFrame({"lesion_id": ["L1", "L2"], "suvmax": [3.0, 5.0], "cd8_density_stroma": [10.0, 50.0]}),
        tmp_path / "figures/ihc_suvmax_vs_cd8_density.source.tsv",
    )
    method = "Kendall tau-b; 95% CI percentile bootstrap of patients (2000 resamples)"
    write_table(
        pd.DataFrame(
            {
                "timepoint": ["baseline", "baseline", "on_treatment"],
                "density": ["cd8_density_stroma", "cd8_density_tumor", "cd8_density_stroma"],
                "n": [9, 14, 12],
                "n_patients": [9, 12, 10],
                "n_irradiated_excluded": [1, 1, 0],
                "tau": [0.1, 0.2, 0.456],
                "ci_low": [-0.3, -0.1, 0.1],
                "ci_high": [0.5, 0.5, 0.7],
                "p": [0.7, 0.3, 0.0381],
                "method": [method] * 3,
            }
        ),
        tmp_path / "tables/ihc_pet_correlation.tsv",
    )
    assert _summary(tmp_path, "ihc_suvmax_vs_cd8_density.png") == (
        "baseline n = 9 lesions of 9 patients, Kendall tau-b = 0.10 (95% CI -0.30 to 0.50, bootstrap of patients), "
        "p = 0.7; on_treatment n = 12 lesions of 10 patients, Kendall tau-b = 0.46 (95% CI 0.10 to 0.70, "
        "bootstrap of patients), p = 0.038; 1 irradiated lesion(s) excluded"
    )
    # The table's caption has no figure source, so it falls back to the tumour density.
    assert _summary(tmp_path, "ihc_pet_correlation.tsv").startswith("baseline n = 14 lesions of 12 patients")
    (tmp_path / "tables/ihc_pet_correlation.tsv").write_text("timepoint\tdensity\tn\ttau\tp\n")
    assert _summary(tmp_path, "ihc_suvmax_vs_cd8_density.png") == "n = 2 biopsied lesions; test not run"


def test_descriptive_captions_count_slides_and_cells(tmp_path):
    write_table(
        pd.DataFrame({"slide_id": ["s1", "s2", "s3"], "ihc_phenotype": ["inflamed", "desert", "inflamed"]}),
        tmp_path / "figures/ihc_cd8_density_by_phenotype.source.tsv",
    )
    write_table(
        pd.DataFrame({"slide_id": ["s1", "s2"], "immunoscore": ["high", "low"]}),
        tmp_path / "figures/ihc_immunoscore_distribution.source.tsv",
    )
    write_table(
        pd.DataFrame({"x": [1, 2, 3], "cell": ["CD8+", "tumor", "CD8+"]}),
        tmp_path / "figures/ihc_cell_map.source.tsv",
    )
    write_table(
        pd.DataFrame({"slide_id": ["s1", "s2", "s3"], "patient_id": ["P1", "P1", "P2"]}),
        tmp_path / "tables/ihc_slides.tsv",
    )
    assert _summary(tmp_path, "ihc_cd8_density_by_phenotype.png") == (
        "n = 3 slides (desert 1, inflamed 2); descriptive, no test"
    )
    assert _summary(tmp_path, "ihc_immunoscore_distribution.png") == (
        "n = 2 slides (high 1, low 1); descriptive, no test"
    )
    assert _summary(tmp_path, "ihc_cell_map.png") == "n = 3 cells of one slide (CD8+ 2, tumor 1); no test"
    assert _summary(tmp_path, "ihc_slides.tsv") == "n = 3 slides of 2 patients"


def test_cell_map_of_a_density_table_cohort(tmp_path):
    write_table(pd.DataFrame({"note": []}), tmp_path / "figures/ihc_cell_map.source.tsv")
    assert _summary(tmp_path, "ihc_cell_map.png") == "n = 0 cells (densities supplied as a table)"
