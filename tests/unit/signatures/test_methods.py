"""The signatures methods paragraph: options and coverage of the run."""

from __future__ import annotations

import pandas as pd

from contexture.signatures.methods import methods_paragraph
from contexture.signatures.scores import COVERAGE_COLUMNS

BACKGROUND = ("n_samples", "genes_below_lod", "fraction_below_lod", "n_samples_flagged_below_lod", "excluded_below_lod")
# The rows below list every column but the limit-of-detection ones (a run without lane limits).
COLUMNS = [c for c in COVERAGE_COLUMNS if c not in BACKGROUND]


def _write_coverage(tmp_path):
    rows = [
        ["immunosign21_proxy", "mean_z", True, "complete", 21, 21, 1.0, "", 0, 0, "", None, None, ""],
        ["ayers_ifng6", "mean", False, "skipped", 6, 3, 0.5, "CXCL10,CXCL9,IFNG", 0, 0, "", None, None, "x"],
        ["cyt", "mean", False, "partial", 5, 4, 0.8, "PRF1", 0, 0, "", None, None, ""],
        # every gene measured, but too few normalizer genes: the panel lacks no signature gene
        [
            "tis",
            "weighted_sum",
            False,
            "skipped",
            18,
            18,
            1.0,
            "",
            10,
            5,
            "ABCF1,G6PD,NRDE2,OAZ1,POLR2A",
            None,
            None,
            "x",
        ],
        # a z-score signature with one baseline sample: the reason is the recorded message
        [
            "z",
            "mean_z",
            False,
            "skipped",
            4,
            4,
            1.0,
            "",
            0,
            0,
            "",
            None,
            None,
            "signature 'z' (method mean_z) needs at least 2 baseline samples to standardize genes; got 1",
        ],
    ]
    (tmp_path / "tables").mkdir()
    pd.DataFrame(rows, columns=COLUMNS).reindex(columns=list(COVERAGE_COLUMNS)).to_csv(
        tmp_path / "tables/signature_coverage.tsv", sep="\t", index=False
    )


def test_empty_without_the_coverage_table(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""


def test_names_skipped_and_partial_signatures_and_the_proxy(tmp_path, cohort_config):
    _write_coverage(tmp_path)
    text = methods_paragraph(tmp_path, cohort_config())
    assert "a documented 21-gene public proxy" in text
    # 3 of 6 < ceil(0.8 * 6) = 5
    assert (
        "ayers_ifng6 was not scored (3 of its 6 genes measured, at least 5 needed; missing CXCL10, CXCL9, IFNG)" in text
    )
    assert (
        "tis was not scored (5 of its 10 normalizer genes measured; missing ABCF1, G6PD, NRDE2, OAZ1, POLR2A)" in text
    )
    assert "z was not scored (needs at least 2 baseline samples to standardize genes; got 1)" in text
    assert "panel lacks" not in text and "nan" not in text
    assert "cyt was scored from 4 of 5 genes (missing PRF1)" in text
    assert "at least 80% of their genes" in text
    assert "weighted signatures (the gene expression profile) only with all their weighted genes" in text
    assert "25% quantile (R type 7)" in text and "from baseline to on-treatment" in text
    assert "(responders: best overall response CR, PR, SD or NON-CR/NON-PD)" in text  # response.responder


def test_changed_options_reach_the_text(tmp_path, cohort_config):
    _write_coverage(tmp_path)
    options = {
        "signatures": {"low_quantile": 0.4, "min_gene_fraction": 0.6, "pre_timepoint": "on_treatment",
                       "post_timepoint": "relapse", "allow_partial_weighted": True}
    }  # fmt: skip
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert "40% quantile (R type 7)" in text and "at least 60% of their genes" in text
    assert "from on-treatment to relapse" in text and "25%" not in text
    assert "weighted signatures were also scored with weighted genes missing" in text
    text = methods_paragraph(tmp_path, cohort_config({"response": {"responder": ["CR", "PR"]}}))
    assert "(responders: best overall response CR or PR)" in text


def test_no_analysis_claimed_when_nothing_was_scored(tmp_path, cohort_config):
    (tmp_path / "tables").mkdir()
    row = ["cyt", "mean", False, "skipped", 2, 0, 0.0, "GZMA,PRF1", 0, 0, "", None, None, "x"]
    pd.DataFrame([row], columns=COLUMNS).reindex(columns=list(COVERAGE_COLUMNS)).to_csv(
        tmp_path / "tables/signature_coverage.tsv", sep="\t", index=False
    )
    text = methods_paragraph(tmp_path, cohort_config())
    assert "cyt was not scored (0 of its 2 genes measured, at least 2 needed; missing GZMA, PRF1)." in text
    assert text.endswith("No signature could be scored, so no high/low groups, changes or correlations were analysed.")
    assert "quantile" not in text and "Wilcoxon" not in text


def test_background_flags_and_exclusions_reach_the_text(tmp_path, cohort_config):
    _write_coverage(tmp_path)
    path = tmp_path / "tables/signature_coverage.tsv"
    table = pd.read_csv(path, sep="\t")
    table["n_samples"] = 42
    table["fraction_below_lod"] = 0.1
    table["n_samples_flagged_below_lod"] = [3, None, 0, None, None]
    table["excluded_below_lod"] = ["CXCL9,CXCL13", "", "", "", ""]
    table.to_csv(path, sep="\t", index=False)
    options = {
        "nanostring": {"rcc": "rcc/", "qc": {"lod_sd_multiplier": 3}},
        "signatures": {"below_lod_warn_fraction": 0.25, "exclude_below_lod": True, "exclude_below_lod_fraction": 0.6},
    }
    text = methods_paragraph(tmp_path, cohort_config(options))
    assert (
        "Genes whose raw count was at or below their lane's limit of detection (mean + 3 SD of the negative "
        "controls) in more than 60% of the samples were left out of the scores, as in NanoTube's background filter "
        "(Class et al. 2023): immunosign21_proxy (CXCL9, CXCL13)." in text
    )
    assert (
        "Scores with more than 25% of their genes at or below the lane's limit of detection (raw count at most "
        "mean + 3 SD of the negative controls) were flagged (immunosign21_proxy 3 of 42 samples)." in text
    )


def test_no_background_sentence_without_lane_limits(tmp_path, cohort_config):
    _write_coverage(tmp_path)
    assert "limit of detection" not in methods_paragraph(tmp_path, cohort_config())
