"""The response stage's report captions: patient counts, ORR with its CI, the classifier."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.response.captions import FACTS


def _facts(tmp_path, name):
    return FACTS[name](Cohort(tmp_path), name)


def _rates(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "criteria": ["RECIST 1.1", "RECIST 1.1", "iRECIST"],
                "endpoint": ["DCR", "ORR", "ORR"],
                "count": [20, 5, 6],
                "n": [38, 38, 38],
                "rate": [0.526, 0.1316, 0.158],
                "ci_low": [0.36, 0.0441, 0.06],
                "ci_high": [0.69, 0.2809, 0.31],
            }
        ),
        tmp_path / "tables/response_rates.tsv",
    )


def test_waterfall_swimmer_and_rates_state_the_orr(tmp_path):
    _rates(tmp_path)
    write_table(
        pd.DataFrame({"patient_id": ["P1", "P2", "P3"]}), tmp_path / "figures/best_percent_change_waterfall.source.tsv"
    )
    write_table(pd.DataFrame({"patient_id": ["P1", "P2"]}), tmp_path / "figures/response_swimmer.source.tsv")
    orr = "ORR 5/38 = 13% (95% CI 4-28%, Clopper-Pearson)"
    assert _facts(tmp_path, "best_percent_change_waterfall.png")[1] == f"n = 3 patients with a follow-up sum; {orr}"
    assert _facts(tmp_path, "response_swimmer.png")[1] == f"n = 2 patients; {orr}"
    assert _facts(tmp_path, "response_rates.tsv") == ("Response rates", f"n = 38 patients; {orr}")


def test_without_rates_the_orr_is_left_out(tmp_path):
    write_table(pd.DataFrame({"patient_id": ["P1"]}), tmp_path / "figures/response_swimmer.source.tsv")
    assert _facts(tmp_path, "response_swimmer.png")[1] == "n = 1 patients"
    assert _facts(tmp_path, "response_rates.tsv")[1] == "n = 0 patients"


def test_spider_and_recist_count_assessments(tmp_path):
    frame = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2", "P2"], "week": [0, 6, 0, 6, 12]})
    write_table(frame, tmp_path / "figures/target_sum_change_spider.source.tsv")
    write_table(frame, tmp_path / "tables/recist_timepoints.tsv")
    assert _facts(tmp_path, "target_sum_change_spider.png")[1] == "n = 2 patients, 5 assessments (no test)"
    assert _facts(tmp_path, "recist_timepoints.tsv")[1] == "n = 2 patients, 5 assessments"


def test_classifier_states_auc_ci_and_permutation_p(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "analysis": ["coefficient", "cv_auc"],
                "n": [28, 28],
                "n_responders": [15, 15],
                "estimate": [0.3, 0.6667],
                "ci_low": [None, 0.452],
                "ci_high": [None, 0.871],
                "p": [None, 0.0499],
            }
        ),
        tmp_path / "tables/classifier.tsv",
    )
    summary = "n = 28 patients (15 responders); cross-validated AUC 0.67 (95% CI 0.45-0.87); permutation test p = 0.05"
    assert _facts(tmp_path, "response_classifier_roc.png") == ("Response classifier ROC curve", summary)
    assert _facts(tmp_path, "classifier.tsv") == ("Response classifier", summary)
    (tmp_path / "tables/classifier.tsv").write_text(
        "analysis\tn\tn_responders\testimate\nclassifier\t\t\t\ncv_auc\t4\t0\t\n"
    )
    assert _facts(tmp_path, "classifier.tsv")[1] == "n = 0 patients; classifier not fitted"
