"""Every shipped signature on a real NanoString panel (GSE117751, Human Immunology v2).

The 42 deposited RCC files (whole blood; read by contexture.io.rcc, which
tests/unit/nanostring/test_nanostring_rcc.py checks against an independent parse) give
both the panel's genes and the lanes' limits of detection. log2 of the raw counts
(floored to 1) stands in for a normalized matrix: enough to check gene matching,
coverage reporting and the scoring arithmetic on real gene names and values. The panel
facts come from the RCC files, not from GEO's processed matrix, which leaves out 151
probes (IFNG, CXCL9, CXCL10, CXCL13, PDCD1 among them; see the fixture's README).
"""

import csv
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contexture.io.rcc import find_rcc_files, rcc_stem, read_rcc_files
from contexture.nanostring.normalization import at_or_below_detection_limit, lane_qc, log2_raw_counts
from contexture.signatures.scores import (
    RESOURCE_DIR,
    UnscorableSignatureError,
    read_signature,
    score_signature,
    score_signatures,
)

# What the Immunology v2 CodeSet (NS_Immunology_v2_C2328) lacks per shipped signature, from its RCC files.
MISSING = {
    "immunosign21_proxy": ("NKG7",),  # 20 of 21
    "ayers_tcell_inflamed_gep18": ("HLA-E", "NKG7"),  # 16 of 18
    "ayers_ifng6": (),  # complete
    "ayers_expanded_immune18": ("NKG7", "HLA-E"),  # 16 of 18
    "cyt": (),
}
# 6 of 11 GEP normalizers; the panel's housekeeping genes are another set.
MISSING_NORMALIZERS = {"ayers_tcell_inflamed_gep18": ("NRDE2", "STK11IP", "TBC1D10B", "UBB", "ZBTB34")}
STATUS = {
    "immunosign21_proxy": "partial",
    "ayers_tcell_inflamed_gep18": "skipped",  # 6 of 11 normalizers < 9, and locked with 2 weighted genes missing
    "ayers_ifng6": "complete",
    "ayers_expanded_immune18": "partial",
    "cyt": "complete",
}


@pytest.fixture(scope="module")
def rcc_files(shared_fixtures):
    folder = shared_fixtures / "nanostring" / "GSE117751" / "rcc"
    if not folder.is_dir():
        pytest.skip("GSE117751 fixture absent")
    return find_rcc_files(folder)


@pytest.fixture(scope="module")
def panel(rcc_files):
    """(raw counts table as raw_counts.tsv, lanes with QC, log2 raw counts genes x samples)."""
    samples = [rcc_stem(f.name) for f in rcc_files]
    rccs = read_rcc_files(rcc_files, samples)
    raw = rccs.probes[["code_class", "name", "accession"]].copy()
    raw = pd.concat([raw, pd.DataFrame(rccs.counts, columns=samples, index=raw.index)], axis=1)
    lanes = lane_qc(rccs.probes, rccs.counts, rccs.lanes)
    log2 = log2_raw_counts(raw, samples).set_index("name")
    assert not log2.index.duplicated().any()
    return raw, lanes, log2


@pytest.fixture(scope="module")
def below_lod(panel):
    raw, lanes, log2 = panel
    return at_or_below_detection_limit(raw, lanes, list(log2.columns))


def _plain_below_lod(path: Path) -> dict[str, bool]:
    """Independent reference: csv and statistics on one RCC file's Code_Summary.

    A gene is at or below background when its count <= mean + 2 SD (n - 1) of the lane's
    negative controls.
    """
    lines = path.read_text().splitlines()
    start, end = lines.index("<Code_Summary>"), lines.index("</Code_Summary>")
    rows = list(csv.reader(lines[start + 2 : end]))
    negatives = [int(r[3]) for r in rows if r[0] == "Negative"]
    limit = statistics.mean(negatives) + 2 * statistics.stdev(negatives)
    return {r[1]: int(r[3]) <= limit for r in rows if r[0] in ("Endogenous", "Housekeeping")}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_each_signature_scores_or_names_exactly_the_missing_genes(panel, name):
    _, _, log2 = panel
    signature = read_signature(RESOURCE_DIR / f"{name}.yaml")
    if name not in MISSING_NORMALIZERS:
        scores, coverage = score_signature(log2, signature, baseline_samples=log2.columns)
        assert scores.notna().all() and len(scores) == 42
        assert coverage.missing == MISSING[name]
        assert len(coverage.rows) == len(signature.genes) - len(MISSING[name])
        return
    with pytest.raises(UnscorableSignatureError) as error:
        score_signature(log2, signature)
    message = str(error.value)
    assert f"signature '{name}' cannot be scored" in message
    assert "6 of its 11 normalizer genes" in message
    assert f"missing: {', '.join(MISSING_NORMALIZERS[name])}" in message


def test_workflow_mode_records_the_panel_gaps(panel):
    _, _, log2 = panel
    samples = pd.DataFrame({"sample_id": log2.columns, "patient_id": log2.columns, "timepoint": "baseline"})
    signatures = [read_signature(RESOURCE_DIR / f"{name}.yaml") for name in MISSING]
    scores, coverage = score_signatures(log2, samples, signatures)
    coverage = coverage.set_index("signature")
    assert coverage["status"].to_dict() == STATUS
    assert coverage["n_present"].to_dict() == {
        "immunosign21_proxy": 20,
        "ayers_tcell_inflamed_gep18": 16,
        "ayers_ifng6": 6,
        "ayers_expanded_immune18": 16,
        "cyt": 2,
    }
    for name, missing in MISSING.items():
        assert coverage.loc[name, "missing_genes"] == ",".join(missing)
    assert coverage.loc["ayers_tcell_inflamed_gep18", "missing_normalizers"] == ",".join(
        MISSING_NORMALIZERS["ayers_tcell_inflamed_gep18"]
    )
    assert coverage.loc["ayers_tcell_inflamed_gep18", "n_normalizers_present"] == 6
    assert set(scores["signature"]) == {n for n, s in STATUS.items() if s != "skipped"} and len(scores) == 4 * 42


def test_cyt_on_the_first_sample_by_hand(panel):
    raw, _, log2 = panel
    scores, _ = score_signature(log2, read_signature(RESOURCE_DIR / "cyt.yaml"))
    sample = "GSM3308226_20160715_5609WV-C"
    # GSM3308226's RCC: GZMA 395, PRF1 1965 counts; CYT = log2 sqrt(395 * 1965)
    counts = raw.set_index("name")[sample]
    assert counts["GZMA"] == 395 and counts["PRF1"] == 1965
    assert scores[sample] == pytest.approx(math.log2(math.sqrt(395 * 1965)), rel=1e-12)


def test_gep_from_the_genes_present_matches_an_independent_log10_calculation(panel):
    raw, _, log2 = panel
    counts = raw.set_index("name")
    gep = read_signature(RESOURCE_DIR / "ayers_tcell_inflamed_gep18.yaml")
    # Locked: with weighted genes missing it is not scored unless the cohort opts in.
    with pytest.raises(UnscorableSignatureError, match=r"locked weighted score and 2 of its weighted genes"):
        score_signature(log2, gep, min_fraction=0.5)
    scores, coverage = score_signature(log2, gep, min_fraction=0.5, allow_partial_weighted=True)
    assert len(coverage.rows) == 16 and len(coverage.normalizer_rows) == 6
    present = [g for g in gep.genes if g in counts.index]
    normalizers = [h for h in gep.normalizer_genes if h in counts.index]
    for sample in ("GSM3308226_20160715_5609WV-C", "GSM3308267_20170911_9660TM-A"):
        value = {g: max(int(counts.at[g, sample]), 1) for g in present + normalizers}
        reference = sum(math.log10(value[h]) for h in normalizers) / len(normalizers)
        expected = sum(gep.weights[g] * (math.log10(value[g]) - reference) for g in present)
        assert scores[sample] == pytest.approx(expected, abs=1e-12)


# --- background: genes at or below the lane's limit of detection (issue 19) ---------------


def test_limit_of_detection_cells_equal_an_independent_parse(rcc_files, below_lod):
    for path in rcc_files:
        reference = _plain_below_lod(path)
        column = below_lod[rcc_stem(path.name)]
        assert column.to_dict() == reference, path.name


def test_chemokines_at_background_on_gse117751(below_lod):
    # The numbers: CXCL9 at or below background in 95 % of lanes (40/42), CXCL13 in all.
    assert below_lod.loc["CXCL9"].sum() == 40 and below_lod.loc["CXCL13"].all()
    assert below_lod.loc["IFNG"].sum() == 21 and below_lod.loc["CXCL10"].sum() == 15


def test_coverage_and_scores_report_the_genes_below_background(panel, below_lod):
    _, _, log2 = panel
    samples = pd.DataFrame({"sample_id": log2.columns, "patient_id": log2.columns, "timepoint": "baseline"})
    signatures = [read_signature(RESOURCE_DIR / f"{name}.yaml") for name in MISSING]
    scores, coverage = score_signatures(log2, samples, signatures, below_lod=below_lod)
    coverage = coverage.set_index("signature")
    assert coverage.loc["immunosign21_proxy", "genes_below_lod"].startswith("CXCL13:42/42,CXCL9:40/42,IFNG:21/42,")
    assert coverage.loc["ayers_ifng6", "genes_below_lod"] == "CXCL9:40/42,IFNG:21/42,CXCL10:15/42,IDO1:1/42"
    # Cells (gene x lane) at or below background: IFN-gamma 6 (40 + 21 + 15 + 1) / (6 * 42) = 31 %;
    # the proxy 139 / (20 * 42) = 17 %; the GEP (skipped: over its 16 genes present) 114 / (16 * 42) = 17 %.
    assert coverage.loc["ayers_ifng6", "fraction_below_lod"] == pytest.approx(77 / 252, abs=1e-15)
    assert coverage.loc["immunosign21_proxy", "fraction_below_lod"] == pytest.approx(139 / 840, abs=1e-15)
    assert coverage.loc["ayers_tcell_inflamed_gep18", "fraction_below_lod"] == pytest.approx(114 / 672, abs=1e-15)
    assert coverage.loc["cyt", "fraction_below_lod"] == 0 and coverage.loc["cyt", "genes_below_lod"] == ""
    ifng = scores[scores["signature"] == "ayers_ifng6"].set_index("sample_id")
    # Per lane: the fraction of the 6 genes at background; flagged above 30 % (2 or more of 6).
    expected = below_lod.loc[["IFNG", "STAT1", "IDO1", "CXCL10", "CXCL9", "HLA-DRA"]].sum(axis=0) / 6
    assert np.allclose(ifng["fraction_below_lod"], expected[ifng.index], atol=1e-15)
    assert (ifng["flag_below_lod"] == (expected[ifng.index] > 0.3)).all()
    assert ifng["flag_below_lod"].sum() == coverage.loc["ayers_ifng6", "n_samples_flagged_below_lod"] == 24
    assert coverage.loc["immunosign21_proxy", "n_samples_flagged_below_lod"] == 1


def test_exclude_below_lod_drops_genes_at_background_in_most_lanes(panel, below_lod):
    _, _, log2 = panel
    samples = pd.DataFrame({"sample_id": log2.columns, "patient_id": log2.columns, "timepoint": "baseline"})
    signatures = [read_signature(RESOURCE_DIR / f"{name}.yaml") for name in MISSING]
    scores, coverage = score_signatures(log2, samples, signatures, below_lod=below_lod, exclude_below_lod=True)
    coverage = coverage.set_index("signature")
    # More than half the lanes: CXCL9 (40/42), CXCL13 (42/42), CD276 (37/42); IFNG at exactly 21/42 stays.
    assert coverage["excluded_below_lod"].to_dict() == {
        "immunosign21_proxy": "CXCL9,CXCL13",
        "ayers_tcell_inflamed_gep18": "CD276,CXCL9",
        "ayers_ifng6": "CXCL9",
        "ayers_expanded_immune18": "CXCL13",
        "cyt": "",
    }
    assert coverage.loc["ayers_ifng6", "status"] == "partial" and coverage.loc["ayers_ifng6", "n_present"] == 5
    assert coverage.loc["ayers_ifng6", "missing_genes"] == ""
    ifng = scores[scores["signature"] == "ayers_ifng6"].set_index("sample_id")["score"]
    expected = log2.loc[["IFNG", "STAT1", "IDO1", "CXCL10", "HLA-DRA"]].mean(axis=0)
    assert np.allclose(ifng, expected[ifng.index], atol=1e-12)
    gep = coverage.loc["ayers_tcell_inflamed_gep18"]
    assert gep["status"] == "skipped" and "excluded below the limit of detection: CD276, CXCL9" in gep["message"]
