"""The NanoString stage's report captions: lanes and QC failures counted from lanes.tsv."""

import pandas as pd

from contexture.captioning import Cohort
from contexture.io import write_table
from contexture.nanostring.captions import FACTS


def test_lane_qc_counts_lanes_and_failures(tmp_path):
    write_table(
        pd.DataFrame({"sample_id": ["a", "b", "c", "d"], "qc_pass": [True, False, True, False]}),
        tmp_path / "nanostring/lanes.tsv",
    )
    title, summary = FACTS["nanostring_binding_density.png"](Cohort(tmp_path), "nanostring_binding_density.png")
    assert title == "NanoString binding density per lane"
    assert summary == "n = 4 lanes, 2 failing QC (nSolver thresholds; no test)"
    assert FACTS["lanes.tsv"](Cohort(tmp_path), "lanes.tsv") == ("NanoString lane QC", summary)


def test_lane_qc_without_flags_counts_no_failures(tmp_path):
    write_table(pd.DataFrame({"sample_id": ["a", "b"]}), tmp_path / "nanostring/lanes.tsv")
    _, summary = FACTS["nanostring_imaging.png"](Cohort(tmp_path), "nanostring_imaging.png")
    assert summary == "n = 2 lanes, 0 failing QC (nSolver thresholds; no test)"
