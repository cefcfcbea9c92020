"""The nanostring methods paragraph: the run's QC thresholds and its lane table."""

from __future__ import annotations

import pandas as pd

from contexture.nanostring.methods import methods_paragraph


def _write_lanes(tmp_path):
    (tmp_path / "nanostring").mkdir()
    pd.DataFrame(
        {"sample_id": ["s1", "s2", "s3"], "qc_pass": [True, False, True], "included": [True, False, True]}
    ).to_csv(tmp_path / "nanostring/lanes.tsv", sep="\t", index=False)


def test_empty_without_lanes(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""


def test_default_thresholds_and_lane_counts(tmp_path, cohort_config):
    _write_lanes(tmp_path)
    text = methods_paragraph(tmp_path, cohort_config())
    assert text.startswith("## Gene expression (NanoString nCounter)\n\n3 RCC files were read")
    assert "(FOV counted/FOV count ≥ 0.75)" in text and "(R² ≥ 0.95)" in text
    assert "(POS_E above the mean + 2 SD of negative controls)" in text
    assert "1 lane(s) failed QC (s2) and 1 were excluded" in text and "nSolver method" in text


def test_changed_thresholds_reach_the_text(tmp_path, cohort_config):
    _write_lanes(tmp_path)
    options = {
        "nanostring": {
            "qc": {"imaging_min_fov_ratio": 0.8, "positive_linearity_min_r2": 0.9, "lod_sd_multiplier": 3},
            "normalization": {"method": "ruvg"},
        }
    }
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert "≥ 0.8)" in text and "(R² ≥ 0.9)" in text and "mean + 3 SD" in text
    assert "0.95" not in text and "0.75" not in text and "ruvg method and log2-transformed" in text
