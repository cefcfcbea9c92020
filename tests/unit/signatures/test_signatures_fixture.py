"""Every shipped signature on a real NanoString panel (GSE117751, Human Immunology v2).

The GEO count matrix of GSE117751 (42 whole-blood samples) stands in for a normalized
matrix: log2 of the raw counts (no count is 0), which is enough to check gene matching,
coverage reporting and the scoring arithmetic on real gene names and values.
"""

import math

import numpy as np
import pandas as pd
import pytest

from contexture.signatures.scores import (
    RESOURCE_DIR,
    UnscorableSignatureError,
    read_signature,
    score_signature,
    score_signatures,
)

# What the Immunology v2 panel lacks, per shipped signature (found on the GEO matrix).
MISSING = {
    "immunosign21_proxy": ("NKG7", "IFNG", "CXCL9", "CXCL10", "CXCL13", "PDCD1"),
    "ayers_tcell_inflamed_gep18": ("CD276", "CXCL9", "HLA-DQA1", "HLA-E", "NKG7", "PDCD1LG2"),
    "ayers_ifng6": ("CXCL10", "CXCL9", "IFNG"),
    "ayers_expanded_immune18": ("CXCL13", "NKG7", "HLA-E", "CXCL10"),
    "cyt": (),
}
MISSING_NORMALIZERS = {"ayers_tcell_inflamed_gep18": ("NRDE2", "STK11IP", "TBC1D10B", "UBB", "ZBTB34")}


@pytest.fixture(scope="module")
def counts(shared_fixtures):
    table = pd.read_csv(shared_fixtures / "nanostring" / "GSE117751" / "geo_raw_count_matrix.csv")
    return table.set_index("Name").drop(columns=["CodeClass", "Accession"])


@pytest.fixture(scope="module")
def log2_expression(counts):
    assert (counts.to_numpy() > 0).all()
    return np.log2(counts.astype(float))


@pytest.mark.parametrize("name", sorted(MISSING))
def test_each_signature_scores_or_names_exactly_the_missing_genes(log2_expression, name):
    signature = read_signature(RESOURCE_DIR / f"{name}.yaml")
    if not MISSING[name]:
        scores, coverage = score_signature(log2_expression, signature)
        assert scores.notna().all() and len(scores) == 42
        return
    with pytest.raises(UnscorableSignatureError) as error:
        score_signature(log2_expression, signature)
    message = str(error.value)
    assert f"signature '{name}' cannot be scored" in message
    assert f"missing: {', '.join(MISSING[name])}" in message
    if name in MISSING_NORMALIZERS:
        assert f"missing: {', '.join(MISSING_NORMALIZERS[name])}" in message


def test_workflow_mode_records_the_panel_gaps(log2_expression):
    samples = pd.DataFrame(
        {"sample_id": log2_expression.columns, "patient_id": log2_expression.columns, "timepoint": "baseline"}
    )
    signatures = [read_signature(RESOURCE_DIR / f"{name}.yaml") for name in MISSING]
    scores, coverage = score_signatures(log2_expression, samples, signatures)
    coverage = coverage.set_index("signature")
    assert coverage["status"].to_dict() == {name: "complete" if name == "cyt" else "skipped" for name in MISSING}
    for name, missing in MISSING.items():
        assert coverage.loc[name, "missing_genes"] == ",".join(missing)
    assert coverage.loc["ayers_tcell_inflamed_gep18", "missing_normalizers"] == ",".join(
        MISSING_NORMALIZERS["ayers_tcell_inflamed_gep18"]
    )
    assert set(scores["signature"]) == {"cyt"} and len(scores) == 42


def test_cyt_on_the_first_sample_by_hand(log2_expression, counts):
    scores, _ = score_signature(log2_expression, read_signature(RESOURCE_DIR / "cyt.yaml"))
    # GSM3308226: GZMA 629, PRF1 3125 counts; CYT = log2 sqrt(629 * 3125)
    assert counts.loc["GZMA", "GSM3308226"] == 629 and counts.loc["PRF1", "GSM3308226"] == 3125
    assert scores["GSM3308226"] == pytest.approx(math.log2(math.sqrt(629 * 3125)), rel=1e-12)


def test_gep_from_the_genes_present_matches_an_independent_log10_calculation(log2_expression, counts):
    gep = read_signature(RESOURCE_DIR / "ayers_tcell_inflamed_gep18.yaml")
    # Locked: with weighted genes missing it is not scored unless the cohort opts in.
    with pytest.raises(UnscorableSignatureError, match=r"locked weighted score and 6 of its weighted genes"):
        score_signature(log2_expression, gep, min_fraction=0.5)
    scores, coverage = score_signature(log2_expression, gep, min_fraction=0.5, allow_partial_weighted=True)
    assert len(coverage.rows) == 12 and len(coverage.normalizer_rows) == 6
    present = [g for g in gep.genes if g in counts.index]
    normalizers = [h for h in gep.normalizer_genes if h in counts.index]
    for sample in ("GSM3308226", "GSM3308267"):
        reference = sum(math.log10(counts.at[h, sample]) for h in normalizers) / len(normalizers)
        expected = sum(gep.weights[g] * (math.log10(counts.at[g, sample]) - reference) for g in present)
        assert scores[sample] == pytest.approx(expected, abs=1e-12)
