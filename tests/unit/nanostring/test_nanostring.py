"""Lane QC, nSolver factors, background, RUVg and the sample sheet, against hand calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from contexture.errors import ConfigError, InputError
from contexture.nanostring.normalization import (
    QCThresholds,
    apply_background,
    at_or_below_detection_limit,
    background_per_lane,
    geometric_mean_floored,
    housekeeping_factors,
    lane_qc,
    log2_raw_counts,
    match_sample_sheet,
    positive_control_factors,
    positive_linearity_r2,
    process,
    relative_log_expression,
    ruvg,
    scaling_factors,
)

CONC = [128, 32, 8, 2, 0.5, 0.125]


def make_probes(n_hk: int = 3) -> pd.DataFrame:
    rows = [("Endogenous", "CD8A", "NM_1", np.nan), ("Endogenous", "GZMB", "NM_2", np.nan)]
    rows += [("Housekeeping", f"HK{i}", f"NM_H{i}", np.nan) for i in range(n_hk)]
    rows += [("Positive", f"POS_{c}", f"ERCC_P{c}", conc) for c, conc in zip("ABCDEF", CONC, strict=True)]
    rows += [("Negative", f"NEG_{c}", f"ERCC_N{c}", 0.0) for c in "ABCD"]
    return pd.DataFrame(rows, columns=["code_class", "name", "accession", "concentration"])


def make_lanes(n: int, **columns) -> pd.DataFrame:
    lanes = pd.DataFrame(
        {
            "sample_id": [f"S{i}" for i in range(n)],
            "fov_count": 280,
            "fov_counted": 280,
            "binding_density": 0.8,
            "scanner_id": "1504C0267",
        }
    )
    for key, value in columns.items():
        lanes[key] = value
    return lanes


def make_counts(n: int = 2, scale=None) -> np.ndarray:
    """Clean lanes: positives = 128 * concentration (integers), housekeeping 500, negatives 4-10."""
    scale = np.ones(n) if scale is None else np.asarray(scale, float)
    probes = make_probes()
    counts = np.zeros((len(probes), n))
    counts[probes["name"] == "CD8A"] = 800
    counts[probes["name"] == "GZMB"] = 60
    counts[probes["code_class"] == "Housekeeping"] = 500
    counts[probes["code_class"] == "Positive"] = np.array(CONC)[:, None] * 128
    counts[probes["code_class"] == "Negative"] = np.array([4, 6, 8, 10])[:, None]
    return np.round(counts * scale[None, :]).astype(np.int64)


def test_positive_factors_for_p_and_2p_are_1_5_and_0_75():
    np.testing.assert_allclose(scaling_factors([10.0, 20.0]), [1.5, 0.75])
    probes = make_probes()
    counts = make_counts(2, scale=[1, 2])
    geomeans, factors = positive_control_factors(probes, counts)
    assert geomeans[1] == pytest.approx(2 * geomeans[0])
    np.testing.assert_allclose(factors, [1.5, 0.75])


def test_geometric_mean_floors_counts_below_one():
    # exp(mean(log(max(x, 1)))) of (0, 4, 16) = (1 * 4 * 16) ** (1/3) = 4
    assert geometric_mean_floored(np.array([0, 4, 16])) == pytest.approx(4.0)


def test_housekeeping_factor_is_computed_after_positive_scaling():
    counts = np.array([[100, 400], [400, 100]])  # two HK genes, two lanes
    rows = np.array([True, True])
    pos = np.array([2.0, 0.5])
    # scaled: lane 1 -> (200, 800) geomean 400; lane 2 -> (200, 50) geomean 100; mean 250.
    geomeans, factors = housekeeping_factors(counts, rows, pos)
    np.testing.assert_allclose(geomeans, [400, 100])
    np.testing.assert_allclose(factors, [250 / 400, 250 / 100])


def test_linearity_r2_matches_scipy_linregress():
    rng = np.random.default_rng(1)
    x = np.log2(np.array(CONC[:5]))
    counts = np.exp2(x[:, None] + rng.normal(0, 0.3, (5, 4))) * 50
    r2 = positive_linearity_r2(x, counts)
    for j in range(4):
        expected = stats.linregress(x, np.log2(np.maximum(counts[:, j], 1))).rvalue ** 2
        assert r2[j] == pytest.approx(expected, rel=1e-12)


def _qc(lanes, counts=None, thresholds: QCThresholds | None = None):
    counts = make_counts(len(lanes)) if counts is None else counts
    return lane_qc(make_probes(), counts, lanes, thresholds or QCThresholds())


def test_clean_lanes_pass():
    qc = _qc(make_lanes(3))
    assert qc["qc_pass"].all() and (qc["qc_failures"] == "").all()
    assert qc["positive_linearity_r2"].min() > 0.999


def test_imaging_flag_fires_exactly_below_0_75():
    qc = _qc(make_lanes(3, fov_count=100, fov_counted=[75, 74, 100]))
    assert qc["flag_imaging"].tolist() == [False, True, False]
    assert qc["qc_failures"].tolist() == ["", "imaging", ""]


def test_impossible_imaging_records_fail_with_their_own_flag():
    # FovCount 0 used to give 278 / 0 = inf >= 0.75 and pass; FovCounted > FovCount is impossible too.
    qc = _qc(make_lanes(4, fov_count=[0, 280, 280, -1], fov_counted=[278, 281, 280, 0]))
    assert qc["flag_imaging_invalid"].tolist() == [True, True, False, True]
    assert qc["flag_imaging"].tolist() == [False, False, False, False]
    assert qc["qc_pass"].tolist() == [False, False, True, False]
    assert qc["qc_failures"].tolist() == ["imaging_invalid", "imaging_invalid", "", "imaging_invalid"]
    assert qc["fov_ratio"].isna().tolist() == [True, True, False, True]


def test_mixed_scan_resolutions_are_flagged_and_warned_not_failed():
    lanes = make_lanes(5, fov_count=[280, 280, 555, 280, 555], fov_counted=[280, 280, 555, 280, 555])
    result = process(make_probes(), make_counts(5), lanes)
    assert result.lanes["flag_fov_count_mixed"].tolist() == [False, False, True, False, True]
    assert result.lanes["qc_pass"].all()
    assert "FovCount 280: 3 lane(s), 555: 2 lane(s)" in result.warnings[0]
    assert not process(make_probes(), make_counts(2), make_lanes(2)).warnings


def test_a_failed_lane_leaves_the_other_lanes_factors_unchanged():
    # Positive geomeans 1 : 2 : 4 and an all-zero lane (floored to 1 count, so a geomean of 1
    # that would have pulled the reference mean down and scaled every good factor).
    good = make_counts(3, scale=[1, 2, 4])
    alone = process(make_probes(), good, make_lanes(3)).lanes
    with_zero = process(make_probes(), np.column_stack([good, np.zeros(len(good), np.int64)]), make_lanes(4)).lanes
    assert with_zero["in_reference"].tolist() == [True, True, True, False]
    assert with_zero["qc_pass"].tolist() == [True, True, True, False]
    np.testing.assert_allclose(with_zero["pos_factor"].iloc[:3], alone["pos_factor"], rtol=1e-15)
    np.testing.assert_allclose(with_zero["hk_factor"].iloc[:3], alone["hk_factor"], rtol=1e-15)
    # By hand: geomeans p, 2p, 4p -> reference 7p/3 -> factors 7/3, 7/6, 7/12.
    np.testing.assert_allclose(alone["pos_factor"], [7 / 3, 7 / 6, 7 / 12], rtol=1e-12)
    # The zero lane gets its factor against the good lanes' reference: 7p/3 / 1.
    p = geometric_mean_floored(good[make_probes()["code_class"] == "Positive"][:, 0])
    assert with_zero["pos_factor"].iloc[3] == pytest.approx(7 * p / 3)
    # Kept (exclude_failed: false), the failed lane still stays out of the reference.
    kept = process(
        make_probes(), np.column_stack([good, np.zeros(len(good), np.int64)]), make_lanes(4), exclude_failed=False
    )
    np.testing.assert_allclose(kept.lanes["pos_factor"].iloc[:3], alone["pos_factor"], rtol=1e-15)


def test_binding_density_limits_by_instrument():
    lanes = make_lanes(6, binding_density=[0.1, 0.0999, 2.25, 2.2501, 1.8, 1.8001])
    lanes["scanner_id"] = ["1504C0267"] * 4 + ["P1234", "P1234"]  # SPRINT serials start with P
    qc = _qc(lanes)
    assert qc["instrument"].tolist() == ["max_flex"] * 4 + ["sprint"] * 2
    assert qc["flag_binding_density"].tolist() == [False, True, False, True, False, True]
    forced = _qc(lanes, thresholds=QCThresholds(instrument="sprint"))
    assert forced["flag_binding_density"].tolist() == [False, True, True, True, False, True]


def test_linearity_flag_fires_exactly_below_threshold():
    qc = _qc(make_lanes(2))
    r2 = qc["positive_linearity_r2"].to_numpy()
    at = _qc(make_lanes(2), thresholds=QCThresholds(positive_linearity_min_r2=float(r2[0])))
    assert not at["flag_positive_linearity"].iloc[0]
    above = _qc(make_lanes(2), thresholds=QCThresholds(positive_linearity_min_r2=float(np.nextafter(r2[0], 2))))
    assert above["flag_positive_linearity"].iloc[0]


def test_limit_of_detection_fails_when_pos_e_equals_mean_plus_2sd():
    probes = make_probes()
    counts = make_counts(2)
    negatives = np.array([4, 6, 8, 10])  # mean 7, SD (n-1) = sqrt(20/3) = 2.5820
    threshold = negatives.mean() + 2 * negatives.std(ddof=1)
    pos_e = probes.index[probes["name"] == "POS_E"][0]
    counts[pos_e] = [int(np.floor(threshold)), int(np.floor(threshold)) + 1]  # 12 <= 12.16 fails; 13 passes
    qc = lane_qc(probes, counts, make_lanes(2))
    assert qc["lod_threshold"].iloc[0] == pytest.approx(7 + 2 * np.sqrt(20 / 3))
    assert qc["flag_limit_of_detection"].tolist() == [True, False]
    # Exactly at the threshold also fails (POS_E must exceed it).
    t = QCThresholds(lod_sd_multiplier=(13 - 7) / np.sqrt(20 / 3))
    qc = lane_qc(probes, counts, make_lanes(2), t)
    assert qc["lod_threshold"].iloc[1] == pytest.approx(13)
    assert qc["flag_limit_of_detection"].iloc[1] == bool(qc["pos_e_count"].iloc[1] <= qc["lod_threshold"].iloc[1])


def test_genes_at_or_below_the_lane_limit_of_detection():
    probes = make_probes()
    counts = make_counts(2)
    counts[probes["name"] == "GZMB"] = [[12, 13]]  # lane limit 7 + 2 sqrt(20/3) = 12.16: 12 at background, 13 not
    counts[probes["name"] == "HK0", 1] = 5
    result = process(probes, counts, make_lanes(2))
    below = at_or_below_detection_limit(result.raw_counts, result.lanes, ["S1", "S0"])
    assert list(below.columns) == ["S1", "S0"]
    assert list(below.index) == ["CD8A", "GZMB", "HK0", "HK1", "HK2"]  # the rows of normalized.tsv
    assert below.loc["GZMB"].tolist() == [False, True] and below.loc["HK0"].tolist() == [True, False]
    assert not below.loc[["CD8A", "HK1", "HK2"]].to_numpy().any()
    # A count exactly at the limit is at background.
    lanes = result.lanes.assign(lod_threshold=[12.0, 13.0])
    assert at_or_below_detection_limit(result.raw_counts, lanes, ["S0", "S1"]).loc["GZMB"].tolist() == [True, True]
    with pytest.raises(InputError, match="not in both raw_counts.tsv and lanes.tsv"):
        at_or_below_detection_limit(result.raw_counts, result.lanes, ["S9"])


def test_housekeeping_geomean_fail_and_borderline_at_32_and_100():
    probes = make_probes()
    counts = make_counts(4)
    counts[probes["code_class"] == "Housekeeping"] = np.array([31, 32, 99, 100])[None, :]
    qc = lane_qc(probes, counts, make_lanes(4), QCThresholds(housekeeping_factor_range=(0.01, 100)))
    assert qc["flag_housekeeping_low"].tolist() == [True, False, False, False]
    assert qc["flag_housekeeping_borderline"].tolist() == [False, True, True, False]
    assert qc["qc_pass"].tolist() == [False, True, True, True]  # borderline lanes are kept


def test_factor_flags_fire_outside_their_ranges_only():
    # Positive geomeans 1 : 1 : 10 -> mean 4 -> factors 4, 4, 0.4.
    counts = make_counts(3, scale=[1, 1, 10])
    factors = _qc(make_lanes(3), counts=counts)["pos_factor"].to_numpy()
    np.testing.assert_allclose(factors, [4, 4, 0.4])
    low, high = float(factors.min()), float(factors.max())
    at = _qc(make_lanes(3), counts=counts, thresholds=QCThresholds(positive_factor_range=(low, high)))
    assert not at["flag_positive_factor"].any()  # exactly at the limits passes
    inside = (float(np.nextafter(low, 1)), float(np.nextafter(high, 0)))
    beyond = _qc(make_lanes(3), counts=counts, thresholds=QCThresholds(positive_factor_range=inside))
    assert beyond["flag_positive_factor"].all()
    qc = _qc(make_lanes(3), counts=counts)  # default 0.3-3: 4 is outside
    assert qc["flag_positive_factor"].tolist() == [True, True, False]
    # Housekeeping factor: same positive scaling, housekeeping 1 : 1 : 40 after it.
    counts = make_counts(3)
    hk = make_probes()["code_class"] == "Housekeeping"
    counts[hk] = np.array([100, 100, 4000])[None, :]
    qc = _qc(make_lanes(3), counts=counts)  # mean 1400 -> 14, 14, 0.35
    np.testing.assert_allclose(qc["hk_factor"], [14, 14, 0.35])
    assert qc["flag_housekeeping_factor"].tolist() == [True, True, False]


def test_background_methods_and_modes():
    counts = np.array([[5, 50], [2, 2], [4, 10]])
    negative = np.array([False, True, True])
    np.testing.assert_allclose(background_per_lane(counts, negative, "mean"), [3, 6])
    np.testing.assert_allclose(background_per_lane(counts, negative, "max"), [4, 10])
    np.testing.assert_allclose(
        background_per_lane(counts, negative, "mean_2sd"),
        [3 + 2 * np.std([2, 4], ddof=1), 6 + 2 * np.std([2, 10], ddof=1)],
    )
    bg = np.array([3.0, 6.0])
    np.testing.assert_allclose(apply_background(counts, bg, "subtract")[0], [2, 44])
    np.testing.assert_allclose(apply_background(counts, bg, "subtract")[1], [0, 0])
    np.testing.assert_allclose(apply_background(counts, bg, "threshold")[1], [3, 6])


def test_process_nsolver_normalized_values_by_hand():
    probes = make_probes()
    counts = make_counts(2, scale=[1, 2])
    result = process(probes, counts, make_lanes(2))
    normalized = result.normalized.set_index("name")
    # Lane 2 has twice everything: after positive scaling (1.5 and 0.75) both lanes are
    # equal, so the housekeeping factors are 1 and CD8A = log2(800 * 1.5).
    np.testing.assert_allclose(result.lanes["hk_factor"], [1, 1])
    np.testing.assert_allclose(normalized.loc["CD8A"], np.log2(1200))
    assert list(normalized.index) == ["CD8A", "GZMB", "HK0", "HK1", "HK2"]


def test_failed_lanes_are_excluded_by_default_and_kept_when_asked():
    probes = make_probes()
    lanes = make_lanes(3, fov_count=100, fov_counted=[100, 50, 100])
    excluded = process(probes, make_counts(3), lanes)
    assert list(excluded.normalized.columns) == ["name", "S0", "S2"]
    assert excluded.lanes["included"].tolist() == [True, False, True]
    kept = process(probes, make_counts(3), lanes, exclude_failed=False)
    assert list(kept.normalized.columns) == ["name", "S0", "S1", "S2"]
    assert kept.lanes["qc_pass"].tolist() == [True, False, True]


def test_housekeeping_override_and_warning():
    probes = make_probes()
    result = process(probes, make_counts(2), make_lanes(2), housekeeping=["HK0", "CD8A"])
    assert result.housekeeping == ["CD8A", "HK0"]
    assert "fewer than 3" in result.warnings[0]
    with pytest.raises(ConfigError, match="NOTAGENE"):
        process(probes, make_counts(2), make_lanes(2), housekeeping=["NOTAGENE"])


def test_every_lane_failing_stops():
    with pytest.raises(InputError, match="every lane"):
        process(make_probes(), make_counts(2), make_lanes(2, binding_density=5.0))


def test_ruvg_removes_a_simulated_unwanted_factor():
    rng = np.random.default_rng(42)
    n_samples, n_genes, n_controls = 40, 200, 20
    unwanted = rng.normal(0, 1, n_samples)  # e.g. RNA quality, hits every gene
    biology = np.repeat([0.0, 1.0], n_samples // 2)  # a group effect on the first 50 genes
    loading = rng.uniform(0.5, 1.5, n_genes)
    effect = np.zeros(n_genes)
    effect[n_controls : n_controls + 50] = 1.0
    y = (
        rng.uniform(5, 10, n_genes)[:, None]
        + loading[:, None] * unwanted[None, :]
        + effect[:, None] * biology[None, :]
        + rng.normal(0, 0.1, (n_genes, n_samples))
    )
    controls = np.zeros(n_genes, bool)
    controls[:n_controls] = True
    corrected, w = ruvg(y, controls, k=1)
    assert abs(np.corrcoef(w[:, 0], unwanted)[0, 1]) > 0.99
    residual_corr = [abs(np.corrcoef(corrected[g], unwanted)[0, 1]) for g in range(n_controls + 50, n_genes)]
    before_corr = [abs(np.corrcoef(y[g], unwanted)[0, 1]) for g in range(n_controls + 50, n_genes)]
    assert np.median(before_corr) > 0.9 and np.median(residual_corr) < 0.15
    # The group effect survives: mean difference of the affected genes stays ~1.
    diff = corrected[n_controls : n_controls + 50, n_samples // 2 :].mean(1) - corrected[
        n_controls : n_controls + 50, : n_samples // 2
    ].mean(1)
    assert diff.mean() == pytest.approx(1.0, abs=0.15)
    np.testing.assert_allclose(corrected.mean(axis=1), y.mean(axis=1), atol=1e-9)  # gene means kept
    with pytest.raises(ConfigError, match="ruv_k"):
        ruvg(y, controls, k=40)


def test_process_ruvg_records_factors():
    rng = np.random.default_rng(3)
    probes = make_probes(n_hk=5)
    counts = np.vstack([rng.poisson(np.full(6, 500) * rng.lognormal(0, 0.3, 6)) for _ in range(len(probes))]).astype(
        np.int64
    )
    counts[probes["code_class"] == "Positive"] = (np.array(CONC)[:, None] * 128).astype(np.int64)
    counts[probes["code_class"] == "Negative"] = rng.poisson(5, (4, 6))
    lanes = make_lanes(6)
    result = process(probes, counts, lanes, method="ruvg", ruv_k=2)
    assert {"ruv_w1", "ruv_w2"} <= set(result.lanes.columns)
    assert result.normalized.shape == (7, 7)


def test_rle_is_centred_on_gene_medians():
    frame = pd.DataFrame({"a": [1.0, 5.0], "b": [2.0, 7.0], "c": [4.0, 6.0]})
    rle = relative_log_expression(frame)
    assert rle.to_numpy().tolist() == [[-1.0, 0.0, 2.0], [-1.0, 1.0, 0.0]]


def test_sample_sheet_matching():
    files = ["/x/20190115_A_S1_01.RCC", "/x/20190115_A_S2_02.RCC.gz"]
    sheet = pd.DataFrame(
        {
            "file": ["20190115_A_S2_02", "20190115_A_S1_01.RCC"],
            "sample_id": ["S2", "S1"],
            "patient_id": ["P2", "P1"],
            "timepoint": ["baseline", "on_treatment"],
        }
    )
    samples = match_sample_sheet(files, sheet)
    assert samples["sample_id"].tolist() == ["S1", "S2"]
    assert samples["timepoint"].tolist() == ["on_treatment", "baseline"]
    with pytest.raises(InputError, match=r"RCC files not in the sheet \(1\)"):
        match_sample_sheet([*files, "/x/extra.RCC"], sheet, "sheet.tsv")
    with pytest.raises(InputError, match="without a matching RCC file: row 1"):
        match_sample_sheet(files[:1], sheet.iloc[::-1].reset_index(drop=True).iloc[::-1], "sheet.tsv")
    default = match_sample_sheet(files, None)
    assert default["sample_id"].tolist() == ["20190115_A_S1_01", "20190115_A_S2_02"]


def test_log2_raw_counts_drops_controls_and_floors_at_one_count():
    raw = pd.DataFrame(
        {
            "code_class": ["Positive", "Negative", "Endogenous", "Housekeeping"],
            "name": ["POS_A", "NEG_A", "CD8A", "HK0"],
            "accession": ["p", "n", "NM_1", "NM_9"],
            "s1": [1000, 5, 8, 0],
            "s2": [900, 4, 1024, 2],
            "failed": [10, 1, 1, 1],
        }
    )
    before = log2_raw_counts(raw, ["s1", "s2"])
    assert list(before.columns) == ["name", "s1", "s2"]
    assert before["name"].tolist() == ["CD8A", "HK0"]
    # log2(8) = 3, log2(1024) = 10; 0 counts floored at 1 -> 0; log2(2) = 1.
    np.testing.assert_allclose(before[["s1", "s2"]].to_numpy(), [[3.0, 10.0], [0.0, 1.0]])


def test_gse117751_mixes_two_scan_resolutions(shared_fixtures):
    from contexture.io.rcc import find_rcc_files, read_rcc_files

    folder = shared_fixtures / "nanostring" / "GSE117751" / "rcc"
    if not folder.is_dir():
        pytest.skip("GSE117751 fixture absent")
    rccs = read_rcc_files(find_rcc_files(folder))
    result = process(rccs.probes, rccs.counts, rccs.lanes)
    lanes = result.lanes
    assert (lanes["fov_count"].astype(int) == 555).sum() == 8
    assert lanes["flag_fov_count_mixed"].tolist() == (lanes["fov_count"].astype(int) == 555).tolist()
    assert "FovCount 280: 34 lane(s), 555: 8 lane(s)" in " ".join(result.warnings)
