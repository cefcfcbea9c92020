"""The signatures methods paragraph: options and coverage of the run."""

from __future__ import annotations

import pandas as pd

from contexture.signatures.methods import methods_paragraph
from contexture.signatures.scores import COVERAGE_COLUMNS


def _write_coverage(tmp_path):
    rows = [
        ["immunosign21_proxy", "mean_z", True, "complete", 21, 21, 1.0, "", 0, 0, "", None, None, ""],
        ["ayers_ifng6", "mean", False, "skipped", 6, 3, 0.5, "CXCL10,CXCL9,IFNG", 0, 0, "", None, None, "x"],
        ["cyt", "mean", False, "partial", 5, 4, 0.8, "PRF1", 0, 0, "", None, None, ""],
    ]
    (tmp_path / "tables").mkdir()
    pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS)).to_csv(
        tmp_path / "tables/signature_coverage.tsv", sep="\t", index=False
    )


def test_empty_without_the_coverage_table(tmp_path, cohort_config):
    assert methods_paragraph(tmp_path, cohort_config()) == ""


def test_names_skipped_and_partial_signatures_and_the_proxy(tmp_path, cohort_config):
    _write_coverage(tmp_path)
    text = methods_paragraph(tmp_path, cohort_config())
    assert "a documented 21-gene public proxy" in text
    assert "ayers_ifng6 was not scored (panel lacks CXCL10, CXCL9, IFNG)" in text
    assert "cyt was scored from 4 of 5 genes (missing PRF1)" in text
    assert "at least 80% of their genes" in text
    assert "weighted signatures (the gene expression profile) only with all their weighted genes" in text
    assert "25% quantile (R type 7)" in text and "from baseline to on-treatment" in text


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
