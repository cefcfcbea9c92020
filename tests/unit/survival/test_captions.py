"""The survival stage's report captions: n, events, log-rank p, Cox HRs, median follow-up."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.survival.captions import FACTS


def _facts(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)


def _km_and_logrank(tmp_path):
    write_table(
        pd.DataFrame(
            {"endpoint": ["os", "os", "os"], "stratifier": ["all", "dmmr", "dmmr"], "group": ["all", "pMMR", "dMMR"]}
        ).assign(n=[10, 6, 4], events=[7, 5, 2], median_months=[12.04, 9.0, 20.0]),
        tmp_path / "tables/survival_km.tsv",
    )
    write_table(
        pd.DataFrame(
            {
                "endpoint": ["os", "os"],
                "stratifier": ["dmmr", "dmmr"],
                "test": ["log-rank", "log-rank trend"],
                "p": [0.0421, 0.5],
                "n": [10, 10],
            }
        ),
        tmp_path / "tables/survival_logrank.tsv",
    )


def test_km_caption_reads_n_events_and_logrank_p(tmp_path):
    _km_and_logrank(tmp_path)
    assert _facts(tmp_path, "survival_km_os.png") == (
        "Overall survival (Kaplan-Meier)",
        "n = 10 patients, 7 events; log-rank test: dmmr (n = 10) p = 0.042",
    )
    assert _facts(tmp_path, "survival_km_pfs.png") == (
        "Progression-free survival (Kaplan-Meier)",
        "n = 0 patients with follow-up",
    )


def test_forest_lists_the_univariable_hazard_ratios(tmp_path):
    _km_and_logrank(tmp_path)
    write_table(
        pd.DataFrame(
            {
                "endpoint": ["os", "os", "pfs"],
                "model": ["univariable", "multivariable", "univariable"],
                "term": ["pet_geomean_suvmax_baseline", "pet_geomean_suvmax_baseline", "immunosign_high"],
                "scale": ["per SD decrease", "per SD decrease", "high vs low"],
                "hr": [1.594, 1.4, 0.512],
                "p": [0.0071, 0.04, 0.00001],
                "n": [38, 36, 26],
            }
        ),
        tmp_path / "tables/survival_cox.tsv",
    )
    assert _facts(tmp_path, "survival_cox_forest.png")[1] == (
        "n = 38 patients; univariable Cox, Wald test: os pet_geomean_suvmax_baseline (per SD decrease) "
        "HR 1.59, p = 0.0071; pfs immunosign_high (high vs low) HR 0.51, p < 0.0001"
    )
    assert _facts(tmp_path, "survival_cox.tsv") == (
        "Cox models",
        "os n = 10, 7 events, median 12.0 months; 3 Cox models, 3 terms (Wald tests)",
    )


def test_tables_state_median_survival(tmp_path):
    _km_and_logrank(tmp_path)
    assert _facts(tmp_path, "survival_km.tsv") == ("Kaplan-Meier estimates", "os n = 10, 7 events, median 12.0 months")
    assert _facts(tmp_path, "survival_logrank.tsv") == (
        "Log-rank tests",
        "os n = 10, 7 events, median 12.0 months; 2 tests (log-rank and trend)",
    )
    assert _facts(tmp_path, "survival_cox_forest.png")[1] == "n = 0 patients; no model fitted"
