"""The report captions' numbers: read from the stage tables, formatted as stated."""

import math

import pandas as pd
import pytest

from contexture.io import write_table
from contexture.report.captions import FACTS, format_p, result_labels


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0312, "p = 0.031"),
        (0.3, "p = 0.3"),
        (0.00017, "p = 0.00017"),
        (0.0001, "p = 0.0001"),
        (0.00009, "p < 0.0001"),
        (1.0, "p = 1"),
        (math.nan, "p not computed"),
        (None, "p not computed"),
    ],
)
def test_format_p(p, text):
    assert format_p(p) == text


def test_km_caption_reads_n_events_and_logrank_p(tmp_path):
    write_table(
        pd.DataFrame(
            {"endpoint": ["os", "os", "os"], "stratifier": ["all", "dmmr", "dmmr"], "group": ["all", "pMMR", "dMMR"]}
        ).assign(n=[10, 6, 4], events=[7, 5, 2], median_months=[12.0, 9.0, 20.0]),
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
    labels = result_labels(tmp_path, "survival_km_os.png")
    assert labels == {
        "result": "Overall survival (Kaplan-Meier)",
        "summary": "n = 10 patients, 7 events; log-rank test: dmmr (n = 10) p = 0.042",
    }


def test_pet_factor_caption_and_missing_test(tmp_path):
    write_table(
        pd.DataFrame({"dmmr": ["dMMR", "pMMR", "pMMR"], "patient_id": ["P1", "P2", "P3"], "lesions": [2, 3, 1]}),
        tmp_path / "figures/pet_suvmax_by_dmmr.source.tsv",
    )
    write_table(
        pd.DataFrame(
            {"analysis": ["dmmr"], "term": ["test[dmmr]"], "p": [0.19], "method": ["likelihood-ratio chi-square, 1 df"]}
        ),
        tmp_path / "tables/pet_models.tsv",
    )
    summary = result_labels(tmp_path, "pet_suvmax_by_dmmr.png")["summary"]
    assert summary == "n = 3 patients, 6 lesions; linear mixed model, likelihood-ratio chi-square: p = 0.19"
    (tmp_path / "tables/pet_models.tsv").write_text("analysis\tterm\tp\tmethod\n")
    assert "test not run" in result_labels(tmp_path, "pet_suvmax_by_dmmr.png")["summary"]


def test_unknown_result_is_an_error():
    with pytest.raises(KeyError, match="contexture.report.captions.FACTS"):
        result_labels(".", "unknown.png")
    assert all(name.endswith((".png", ".tsv")) for name in FACTS)
