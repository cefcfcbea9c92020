"""Signature files, scoring formulas, partial panels, group cuts and patient features."""

import logging
import math

import numpy as np
import pandas as pd
import pytest

from contexture.errors import ConfigError, InputError
from contexture.signatures.scores import (
    RESOURCE_DIR,
    UnscorableSignatureError,
    assign_groups,
    gene_coverage,
    minimum_present,
    patient_features,
    quantile_type7,
    read_signature,
    score_signature,
    score_signatures,
    signature_from_dict,
)

SHIPPED = ["immunosign21_proxy", "ayers_tcell_inflamed_gep18", "ayers_ifng6", "ayers_expanded_immune18", "cyt"]


def shipped(name):
    return read_signature(RESOURCE_DIR / f"{name}.yaml")


def matrix(rows: dict[str, list[float]], samples=None) -> pd.DataFrame:
    frame = pd.DataFrame(rows).T
    frame.columns = samples or [f"S{i + 1}" for i in range(frame.shape[1])]
    return frame.astype(float)


# --- the shipped files ------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_are_valid_and_cite_a_source(name):
    signature = shipped(name)
    assert signature.name == name
    assert "doi" in signature.citation.lower()
    assert signature.provenance


def test_gep18_genes_weights_and_normalizers_are_the_published_ones():
    gep = shipped("ayers_tcell_inflamed_gep18")
    assert len(gep.genes) == 18 and len(gep.normalizer_genes) == 11
    assert gep.weights["STAT1"] == 0.250229 and gep.weights["CD276"] == -0.0239
    assert gep.weight_sum == pytest.approx(1.142788, abs=1e-12)
    assert gep.log_base == 10
    assert sorted(gep.normalizer_genes) == sorted(
        ["ABCF1", "G6PD", "NRDE2", "OAZ1", "POLR2A", "SDHA", "STK11IP", "TBC1D10B", "TBP", "UBB", "ZBTB34"]
    )


def test_immunosign_proxy_says_it_is_a_proxy_and_has_21_genes():
    proxy = shipped("immunosign21_proxy")
    assert proxy.proxy is True and len(proxy.genes) == 21
    assert "PROXY" in proxy.provenance and "not" in proxy.title.lower()
    assert {"CXCL9", "CXCL10", "CXCL13", "CCL5"} <= set(proxy.genes)
    assert proxy.method == "mean_z"


def test_invalid_signature_files_are_reported_with_every_problem():
    with pytest.raises(InputError) as error:
        signature_from_dict(
            {
                "name": "bad",
                "title": "t",
                "citation": "c",
                "provenance": "p",
                "method": "weighted_normalized",
                "genes": ["A", "B"],
                "weights": {"A": 1.0},
            }
        )
    text = str(error.value)
    assert "genes without a weight ['B']" in text and "needs normalizer genes" in text and "log_base" in text
    with pytest.raises(InputError, match="'median' is not one of"):
        signature_from_dict(
            {"name": "x", "title": "t", "citation": "c", "provenance": "p", "method": "median", "genes": ["A"]}
        )


def test_signature_name_must_match_its_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: other\ntitle: t\ncitation: c\nprovenance: p\nmethod: mean\ngenes: [A]\n")
    with pytest.raises(InputError, match="differs from the file name 'mine'"):
        read_signature(path)


# --- scoring formulas -------------------------------------------------------------------


def gep_matrix(gene_values: float, normalizer_values: np.ndarray) -> pd.DataFrame:
    gep = shipped("ayers_tcell_inflamed_gep18")
    rows = {g: [gene_values] * len(normalizer_values[0]) for g in gep.genes}
    rows.update({h: list(normalizer_values[i]) for i, h in enumerate(gep.normalizer_genes)})
    return matrix(rows)


def test_gep_is_zero_when_every_gene_equals_the_normalizer_mean():
    gep = shipped("ayers_tcell_inflamed_gep18")
    rng = np.random.default_rng(1)
    normalizers = rng.uniform(6, 12, size=(11, 3))
    expression = gep_matrix(0.0, normalizers)
    # every scored gene at the (log2) normalizer mean of its own sample
    for gene in gep.genes:
        expression.loc[gene] = normalizers.mean(axis=0)
    for base in (10, 2, math.e):
        scores, _ = score_signature(expression, gep, log_base=base)
        np.testing.assert_allclose(scores.to_numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize("base", [10.0, 2.0])
def test_gep_moves_by_the_weight_sum_per_log_unit(base):
    gep = shipped("ayers_tcell_inflamed_gep18")
    normalizers = np.full((11, 2), 8.0)
    expression = gep_matrix(8.0, normalizers)
    # sample 2: every scored gene one log_base unit higher = log2(base) log2 units
    expression.loc[list(gep.genes), "S2"] += math.log2(base)
    scores, _ = score_signature(expression, gep, log_base=base)
    assert scores["S1"] == pytest.approx(0.0, abs=1e-12)
    assert scores["S2"] - scores["S1"] == pytest.approx(1.142788, abs=1e-12)


def test_gep_uses_the_file_log_base_by_default_and_a_hand_example():
    gep = shipped("ayers_tcell_inflamed_gep18")
    normalizers = np.array([[7.0], [9.0]] + [[8.0]] * 9)  # log2 mean 8.0
    expression = gep_matrix(8.0, normalizers)
    expression.loc["STAT1", "S1"] = 8.0 + math.log2(10) * 2  # two log10 units above
    scores, _ = score_signature(expression, gep)  # log base 10 from the file
    assert scores["S1"] == pytest.approx(2 * 0.250229, abs=1e-12)


def test_cyt_is_the_mean_of_log2_gzma_and_prf1():
    expression = matrix({"GZMA": [5.0, 8.0], "PRF1": [7.0, 9.0], "CD3E": [1.0, 1.0]})
    scores, coverage = score_signature(expression, shipped("cyt"))
    np.testing.assert_allclose(scores.to_numpy(), [6.0, 8.5])
    # = log2 of the geometric mean of the linear values (Rooney et al. 2015)
    assert scores["S1"] == pytest.approx(math.log2(math.sqrt(2**5 * 2**7)))
    assert coverage.missing == ()


def test_mean_z_standardizes_with_baseline_samples_only():
    signature = signature_from_dict(
        {"name": "z", "title": "t", "citation": "c", "provenance": "p", "method": "mean_z", "genes": ["A", "B"]}
    )
    # baseline S1..S3: A = 1, 2, 3 (mean 2, sd 1); B = 10, 10, 16 (mean 12, sd sqrt(12))
    expression = matrix({"A": [1, 2, 3, 5], "B": [10, 10, 16, 12]})
    scores, _ = score_signature(expression, signature, baseline_samples=["S1", "S2", "S3"])
    sd_b = math.sqrt(12)
    expected = [(-1 + (-2 / sd_b)) / 2, (0 + (-2 / sd_b)) / 2, (1 + 4 / sd_b) / 2, (3 + 0) / 2]
    np.testing.assert_allclose(scores.to_numpy(), expected, rtol=1e-12)
    with pytest.raises(UnscorableSignatureError, match="at least 2 baseline samples"):
        score_signature(expression, signature, baseline_samples=["S1"])


def test_mean_z_leaves_out_genes_constant_at_baseline(caplog):
    signature = signature_from_dict(
        {"name": "z", "title": "t", "citation": "c", "provenance": "p", "method": "mean_z", "genes": ["A", "B"]}
    )
    expression = matrix({"A": [1, 2, 3], "B": [4, 4, 9]})
    with caplog.at_level(logging.WARNING):
        scores, _ = score_signature(expression, signature, baseline_samples=["S1", "S2"])
    assert "constant at baseline" in caplog.text and "B" in caplog.text
    np.testing.assert_allclose(scores.to_numpy(), (np.array([1, 2, 3]) - 1.5) / math.sqrt(0.5))


# --- partial panels ---------------------------------------------------------------------


def five_gene_signature():
    return signature_from_dict(
        {"name": "five", "title": "t", "citation": "c", "provenance": "p", "method": "mean", "genes": list("ABCDE")}
    )


def test_minimum_present_rounds_up_exactly_at_the_threshold():
    assert minimum_present(5, 0.8) == 4
    assert minimum_present(18, 0.8) == 15  # 14.4 -> 15
    assert minimum_present(21, 0.8) == 17  # 16.8 -> 17
    assert minimum_present(10, 0.8) == 8
    assert minimum_present(2, 1.0) == 2


def test_partial_panel_at_the_threshold_scores_with_a_warning(caplog):
    expression = matrix({"A": [1, 2], "B": [3, 4], "C": [5, 6], "D": [7, 8]})  # 4 of 5 = 80%
    with caplog.at_level(logging.WARNING):
        scores, coverage = score_signature(expression, five_gene_signature(), min_fraction=0.8)
    assert "'five' scored from 4 of 5 genes (missing: E)" in caplog.text
    assert coverage.missing == ("E",)
    np.testing.assert_allclose(scores.to_numpy(), [4.0, 5.0])


def test_partial_panel_below_the_threshold_is_an_error_naming_the_genes():
    expression = matrix({"A": [1, 2], "B": [3, 4], "C": [5, 6]})  # 3 of 5 = 60%
    with pytest.raises(UnscorableSignatureError) as error:
        score_signature(expression, five_gene_signature(), min_fraction=0.8)
    assert str(error.value) == (
        "signature 'five' cannot be scored: 3 of its 5 genes are in the expression matrix "
        "(needs at least 4, 80%); missing: D, E"
    )
    # the threshold is configurable
    scores, _ = score_signature(expression, five_gene_signature(), min_fraction=0.6)
    np.testing.assert_allclose(scores.to_numpy(), [3.0, 4.0])


def test_missing_normalizers_are_judged_separately():
    gep = shipped("ayers_tcell_inflamed_gep18")
    available = list(gep.genes) + list(gep.normalizer_genes[:8])  # 8 of 11 normalizers < 9
    with pytest.raises(UnscorableSignatureError, match="8 of its 11 normalizer genes .* missing: TBP, UBB, ZBTB34"):
        gene_coverage(gep, available)


def test_aliases_match_previous_symbols():
    gep = shipped("ayers_tcell_inflamed_gep18")
    available = list(gep.genes) + [h for h in gep.normalizer_genes if h != "NRDE2"] + ["C14orf102"]
    coverage = gene_coverage(gep, available)
    assert coverage.normalizer_rows["NRDE2"] == "C14orf102" and coverage.missing_normalizers == ()


def test_workflow_mode_skips_or_errors_and_records_coverage():
    expression = matrix({"A": [1, 2, 3], "B": [3, 4, 5], "C": [5, 6, 7], "GZMA": [4, 6, 8], "PRF1": [6, 6, 6]})
    samples = pd.DataFrame(
        {
            "sample_id": ["S1", "S2", "S3"],
            "patient_id": ["P1", "P2", "P1"],
            "timepoint": ["baseline", "baseline", "on_treatment"],
        }
    )
    signatures = [five_gene_signature(), shipped("cyt")]
    scores, coverage = score_signatures(expression, samples, signatures)
    assert list(scores["signature"].unique()) == ["cyt"]
    np.testing.assert_allclose(scores["score"], [5.0, 6.0, 7.0])
    row = coverage.set_index("signature").loc["five"]
    assert row["status"] == "skipped" and row["missing_genes"] == "D,E" and row["n_present"] == 3
    assert "missing: D, E" in row["message"]
    assert coverage.set_index("signature").loc["cyt", "status"] == "complete"
    with pytest.raises(UnscorableSignatureError, match="'five'"):
        score_signatures(expression, samples, signatures, on_insufficient="error")


# --- groups and patient features --------------------------------------------------------


def test_quantile_matches_r_type_7():
    # R: quantile(c(2.1, 3.7, 5.0, 1.2, 8.4, 4.4), 0.25, type = 7)  ->  2.5
    assert quantile_type7([2.1, 3.7, 5.0, 1.2, 8.4, 4.4], 0.25) == pytest.approx(2.5, abs=1e-12)
    # R: quantile(c(3, 1, 4, 1, 5, 9, 2), 0.25, type = 7)  ->  1.5
    assert quantile_type7([3, 1, 4, 1, 5, 9, 2], 0.25) == pytest.approx(1.5, abs=1e-12)


def test_groups_cut_at_the_baseline_25th_percentile():
    baseline = [2.1, 3.7, 5.0, 1.2, 8.4, 4.4]  # cut 2.5 (R type 7, above)
    scores = pd.DataFrame(
        {
            "sample_id": [f"B{i}" for i in range(6)] + ["T0", "T3"],
            "patient_id": [f"P{i}" for i in range(6)] + ["P0", "P3"],
            "timepoint": ["baseline"] * 6 + ["on_treatment"] * 2,
            "signature": "s",
            "score": baseline + [0.5, 2.5],
        }
    )
    grouped, cuts = assign_groups(scores, 0.25)
    assert cuts["s"] == pytest.approx(2.5)
    assert grouped["group"].tolist() == ["low", "high", "high", "low", "high", "high", "low", "high"]
    features = patient_features(grouped, "s", 0.25)
    assert features["immunosign_high"].tolist() == [False, True, True, False, True, True]
    np.testing.assert_allclose(features["immunosign_score"], baseline)


def test_patient_baseline_score_averages_replicates_and_keeps_patients_without_baseline():
    scores = pd.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d", "e"],
            "patient_id": ["P1", "P1", "P2", "P3", "P4"],
            "timepoint": ["baseline", "baseline", "baseline", "baseline", "on_treatment"],
            "signature": "s",
            "score": [1.0, 3.0, 0.0, 4.0, 9.0],
        }
    )
    features = patient_features(scores, "s", 0.25)
    assert features["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    assert features["immunosign_score"].tolist()[:3] == [2.0, 0.0, 4.0]
    assert pd.isna(features["immunosign_score"].iloc[3]) and pd.isna(features["immunosign_high"].iloc[3])
    # cut = R quantile(c(2, 0, 4), 0.25) = 1
    assert features["immunosign_high"].tolist()[:3] == [True, False, True]


def test_unknown_signature_names_are_listed_with_their_cohort():
    from contexture.signatures.scores import check_signature_names

    cohorts = {
        "b": {"signatures": {"use": ["cyt", "nope", "mine.yaml"]}},
        "a": {"signatures": {"use": ["typo"]}},
        "c": {"clinical": "c.tsv"},
    }
    with pytest.raises(ConfigError) as error:
        check_signature_names(cohorts)
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("cohorts.a.signatures.use: no shipped signature named 'typo'")
    assert lines[1].startswith("cohorts.b.signatures.use: no shipped signature named 'nope'")
    check_signature_names({"a": {"signatures": {"use": ["cyt", "own/path.yaml"]}}})  # no error


def test_a_locked_weighted_score_with_a_weighted_gene_missing_is_not_scored_unless_opted_in():
    gep = shipped("ayers_tcell_inflamed_gep18")
    normalizers = np.full((11, 1), 8.0)
    expression = gep_matrix(8.0, normalizers).drop(index="CD276")  # 17 of 18: above min_fraction
    expression.loc["STAT1", "S1"] = 8.0 + math.log2(10)  # one log10 unit above the normalizers
    with pytest.raises(UnscorableSignatureError, match=r"locked weighted score and 1 of its weighted genes .*CD276"):
        score_signature(expression, gep)
    scores, _ = score_signature(expression, gep, allow_partial_weighted=True)
    assert scores["S1"] == pytest.approx(0.250229, abs=1e-12)  # STAT1's published weight, not rescaled
    long, coverage = score_signatures(
        expression, pd.DataFrame({"sample_id": ["S1"], "patient_id": ["P1"], "timepoint": ["baseline"]}), [gep]
    )
    assert long.empty and coverage["status"].tolist() == ["skipped"]
    assert coverage["weight_sum"].iloc[0] == pytest.approx(1.142788) and pd.isna(coverage["weight_sum_used"].iloc[0])
    long, coverage = score_signatures(
        expression,
        pd.DataFrame({"sample_id": ["S1"], "patient_id": ["P1"], "timepoint": ["baseline"]}),
        [gep],
        allow_partial_weighted=True,
    )
    assert coverage["status"].tolist() == ["partial"]
    # CD276 is the one negative weight (-0.0239): the genes present sum to 1.142788 + 0.0239 = 1.166688
    assert coverage["weight_sum_used"].iloc[0] == pytest.approx(1.166688, abs=1e-12)


# --- genes at or below the lane's limit of detection (issue 19) ----------------------------


def _five_gene_signature():
    return signature_from_dict(
        {"name": "five", "title": "t", "citation": "c", "method": "mean", "provenance": "p",
         "genes": ["G1", "G2", "G3", "G4", "G5"]}
    )  # fmt: skip


def test_each_score_records_its_fraction_below_the_limit_and_is_flagged_above_the_rule(caplog):
    expression = matrix({g: [5.0, 6.0, 7.0] for g in ("G1", "G2", "G3", "G4", "G5")})
    samples = pd.DataFrame({"sample_id": ["S1", "S2", "S3"], "patient_id": ["P1", "P2", "P3"], "timepoint": "baseline"})
    # S1: 1 of 5 genes at background (20 %), S2: 2 of 5 (40 %), S3: none.
    below = pd.DataFrame(False, index=expression.index, columns=expression.columns)
    below.loc["G1", ["S1", "S2"]] = True
    below.loc["G2", "S2"] = True
    with caplog.at_level(logging.WARNING):
        long, coverage = score_signatures(expression, samples, [_five_gene_signature()], below_lod=below)
    assert long["fraction_below_lod"].tolist() == [0.2, 0.4, 0.0]
    assert long["flag_below_lod"].tolist() == [False, True, False]  # above 30 %
    row = coverage.iloc[0]
    assert row["genes_below_lod"] == "G1:2/3,G2:1/3" and row["n_samples"] == 3
    assert row["fraction_below_lod"] == pytest.approx(3 / 15, abs=1e-15)
    assert row["n_samples_flagged_below_lod"] == 1 and row["excluded_below_lod"] == ""
    assert "1 of 3 samples have more than 30% of its 5 scored genes" in caplog.text
    # The rule is "above": 40 % is not flagged at a 40 % rule.
    long, _ = score_signatures(
        expression, samples, [_five_gene_signature()], below_lod=below, below_lod_warn_fraction=0.4
    )
    assert not long["flag_below_lod"].any()
    # Without lane limits the columns are empty.
    long, coverage = score_signatures(expression, samples, [_five_gene_signature()])
    assert long["fraction_below_lod"].isna().all() and long["flag_below_lod"].isna().all()
    assert pd.isna(coverage["fraction_below_lod"].iloc[0])


def test_exclusion_leaves_out_genes_at_background_in_more_than_half_the_samples():
    expression = matrix({g: [5.0, 6.0, 7.0, 8.0] for g in ("G1", "G2", "G3", "G4", "G5")})
    expression.loc["G1"] = [1.0, 1.0, 1.0, 9.0]
    samples = pd.DataFrame({"sample_id": ["S1", "S2", "S3", "S4"], "patient_id": list("ABCD"), "timepoint": "baseline"})
    below = pd.DataFrame(False, index=expression.index, columns=expression.columns)
    below.loc["G1", ["S1", "S2", "S3"]] = True  # 3 of 4: left out
    below.loc["G2", ["S1", "S2"]] = True  # exactly half: kept (NanoTube keeps a gene above background in half)
    long, coverage = score_signatures(
        expression, samples, [_five_gene_signature()], below_lod=below, exclude_below_lod=True
    )
    assert coverage["excluded_below_lod"].iloc[0] == "G1" and coverage["status"].iloc[0] == "partial"
    assert coverage["n_present"].iloc[0] == 4 and coverage["missing_genes"].iloc[0] == ""
    assert long["score"].tolist() == [5.0, 6.0, 7.0, 8.0]  # the mean of G2-G5
    assert long["fraction_below_lod"].tolist() == [0.25, 0.25, 0.0, 0.0]  # G2 of the 4 scored genes
    # Excluded genes count as absent for min_gene_fraction: 4 of 5 = 80 % passes, at 0.9 it is skipped.
    long, coverage = score_signatures(
        expression, samples, [_five_gene_signature()], below_lod=below, exclude_below_lod=True, min_fraction=0.9
    )
    assert long.empty and "excluded below the limit of detection: G1" in coverage["message"].iloc[0]


def test_exclusion_needs_lane_limits():
    expression = matrix({"G1": [1.0, 2.0]})
    samples = pd.DataFrame({"sample_id": ["S1", "S2"], "patient_id": ["A", "B"], "timepoint": "baseline"})
    with pytest.raises(ConfigError, match="exclude_below_lod needs the lanes' limits"):
        score_signatures(expression, samples, [_five_gene_signature()], exclude_below_lod=True)


def test_samples_without_a_patient_feed_no_patient_row():
    # A run without a sample sheet: patient and timepoint empty; no "nan" patient appears.
    scores = pd.DataFrame(
        {"sample_id": ["S1", "S2"], "patient_id": [None, np.nan], "timepoint": [None, None], "signature": "cyt",
         "score": [1.0, 2.0]}
    )  # fmt: skip
    table = patient_features(scores, "cyt", patients=[])
    assert table.empty and list(table.columns) == [
        "patient_id",
        "immunosign_score",
        "immunosign_high",
        "immunosign_signature",
        "immunosign_run",
    ]
