"""CD8 IHC: densities, phenotype, Immunoscore, spatial measures and tau against hand values."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from contexture.errors import InputError
from contexture.ihc.densities import immune_phenotype
from contexture.ihc.immunoscore import FIVE_GROUPS, THREE_GROUPS, categorize, immunoscore, percentile_rank
from contexture.ihc.pet import (
    cluster_bootstrap_tau,
    kendall_tau_b,
    pair_with_lesions,
    paired_change,
    pet_correlation,
    tau_b_rows,
)
from contexture.ihc.slides import (
    options_with_defaults,
    patient_features,
    read_slide_sheet,
    score_slides,
    slides_from_density_table,
    summarize_slide,
    summarize_slides,
)
from contexture.ihc.spatial import proximity_measures

# ---------------------------------------------------------------- a hand-built export

ANNOTATIONS = pd.DataFrame(
    {
        "Image": "slide.svs",
        "Name": ["", "", "", "", ""],
        "Class": ["Tissue", "Tumor", "Invasive margin", "Stroma", "Stroma"],
        "Parent": ["Image", "Tissue", "Tissue", "Tissue", "Tissue"],
        # Stroma given as two pieces (0.6 + 0.4 mm²): their areas add up.
        "Area µm^2": [10e6, 2e6, 0.5e6, 0.6e6, 0.4e6],
    }
)
# (class, parent, how many): tumour 2 mm², margin 0.5 mm², stroma 1 mm².
CELLS = [
    ("CD8", "Tumor", 6),
    ("CD3: CD8", "Tumor", 4),  # dual-positive: counts as CD8+ and CD3+
    ("CD3", "Tumor", 8),
    ("Tumor", "Tumor", 100),
    ("", "Tumor", 5),  # unclassified
    ("CD8", "Invasive margin", 3),
    ("CD3", "Invasive margin", 2),
    ("CD8", "Stroma", 7),
    ("Stroma", "Stroma", 40),
    ("CD8", "Tissue", 50),  # inside tissue but no region: not counted
    ("CD8", "Image", 20),  # outside every annotation: not counted
]


def _write_export(folder, *, cells_name="cells.csv.gz", class_header="Classification", x_header="Centroid X um"):
    rows = [(cls, parent) for cls, parent, n in CELLS for _ in range(n)]
    rng = np.random.default_rng(0)
    cells = pd.DataFrame(
        {
            "Image": "slide.svs",
            "Object ID": [f"id{i}" for i in range(len(rows))],
            class_header: [c for c, _ in rows],
            "Parent": [p for _, p in rows],
            x_header: rng.uniform(0, 1000, len(rows)),
            "Centroid Y um": rng.uniform(0, 1000, len(rows)),
            "Nucleus: Area µm^2": 30.0,
        }
    )
    cells_path = folder / cells_name
    separator = "," if ".csv" in cells_name else "\t"
    if cells_name.endswith(".gz"):
        with gzip.open(cells_path, "wt", encoding="utf-8") as handle:
            cells.to_csv(handle, sep=separator, index=False)
    else:
        cells.to_csv(cells_path, sep=separator, index=False)
    annotations_path = folder / "annotations.tsv"
    ANNOTATIONS.to_csv(annotations_path, sep="\t", index=False)
    return str(cells_path), str(annotations_path)


def test_densities_on_a_hand_built_export(tmp_path):
    cells, annotations = _write_export(tmp_path)
    record, _ = summarize_slide(cells, annotations, options_with_defaults({}))
    assert record["area_mm2_tumor"] == pytest.approx(2.0)
    assert record["area_mm2_stroma"] == pytest.approx(1.0)
    # Hand counts / areas (cells per mm²).
    assert record["cd8_density_tumor"] == pytest.approx(10 / 2.0)
    assert record["cd3_density_tumor"] == pytest.approx(12 / 2.0)
    assert record["cd8_density_margin"] == pytest.approx(3 / 0.5)
    assert record["cd3_density_margin"] == pytest.approx(2 / 0.5)
    assert record["cd8_density_stroma"] == pytest.approx(7 / 1.0)
    assert record["cd3_density_stroma"] == pytest.approx(0.0)
    assert record["cd8_density_overall"] == pytest.approx(20 / 3.5)
    assert record["cd3_density_overall"] == pytest.approx(14 / 3.5)
    assert record["cd8_count_tumor"] == 10 and record["n_cells"] == sum(n for *_, n in CELLS)


def test_qupath_column_spellings_are_accepted(tmp_path):
    """µ (U+00B5) as QuPath writes it, Class (QuPath <= 0.3), plain TSV."""
    cells, annotations = _write_export(tmp_path, cells_name="cells.tsv", class_header="Class", x_header="Centroid X µm")
    record, _ = summarize_slide(cells, annotations, options_with_defaults({}))
    assert record["cd8_density_tumor"] == pytest.approx(5.0)


def test_missing_column_names_file_and_column(tmp_path):
    cells, annotations = _write_export(tmp_path)
    table = pd.read_csv(cells).drop(columns="Parent")
    table.to_csv(cells, index=False)
    with pytest.raises(InputError, match=r"cells\.csv\.gz.*lacks required column") as error:
        summarize_slide(cells, annotations, options_with_defaults({}))
    assert "'Parent'" in str(error.value)


def test_unknown_cell_class_names_file_column_and_class(tmp_path):
    cells, annotations = _write_export(tmp_path)
    table = pd.read_csv(cells)
    table.loc[0, "Classification"] = "CD20"
    table.to_csv(cells, index=False)
    with pytest.raises(
        InputError, match=r"cells\.csv\.gz', column 'Classification': unknown cell class\(es\) \['CD20'\]"
    ):
        summarize_slide(cells, annotations, options_with_defaults({}))


def test_unknown_annotation_class_and_zero_area(tmp_path):
    cells, annotations = _write_export(tmp_path)
    bad = ANNOTATIONS.copy()
    bad.loc[1, "Class"] = "Tumour bed"
    bad.to_csv(annotations, sep="\t", index=False)
    with pytest.raises(InputError, match=r"annotations\.tsv', column 'Class': unknown annotation class"):
        summarize_slide(cells, annotations, options_with_defaults({}))
    bad = ANNOTATIONS.copy()
    bad.loc[2, "Area µm^2"] = 0.0
    bad.to_csv(annotations, sep="\t", index=False)
    with pytest.raises(InputError, match=r"annotations\.tsv', row 3 \(line 4\), column 'Area µm\^2'.*area > 0"):
        summarize_slide(cells, annotations, options_with_defaults({}))


def test_parent_without_annotation_is_an_error(tmp_path):
    cells, annotations = _write_export(tmp_path)
    ANNOTATIONS[ANNOTATIONS["Class"] != "Invasive margin"].to_csv(annotations, sep="\t", index=False)
    with pytest.raises(InputError, match=r"column 'Parent': parent\(s\) \['Invasive margin'\] match no annotation"):
        summarize_slide(cells, annotations, options_with_defaults({}))


def test_slide_sheet_resolves_relative_paths(tmp_path):
    (tmp_path / "exports").mkdir()
    _write_export(tmp_path / "exports")
    sheet_path = tmp_path / "slides.tsv"
    sheet_path.write_text(
        "slide_id\tpatient_id\ttimepoint\tcells\tannotations\n"
        "S1\tP1\tbaseline\texports/cells.csv.gz\texports/annotations.tsv\n"
    )
    sheet = read_slide_sheet(sheet_path)
    slides = summarize_slides(sheet, {})
    assert slides.loc[0, "cd8_density_tumor"] == pytest.approx(5.0)
    assert slides.loc[0, "slide_id"] == "S1"


# ---------------------------------------------------------------- phenotype


def test_phenotype_at_the_threshold_edges():
    tumor = np.array([100.0, 99.999, 99.999, 0.0, np.nan, 50.0])
    stroma = np.array([0.0, 100.0, 99.999, 500.0, 500.0, np.nan])
    phenotype = immune_phenotype(tumor, stroma, inflamed_min_tumor_density=100.0, stromal_min_stroma_density=100.0)
    assert list(phenotype) == ["inflamed", "stromal", "desert", "stromal", None, "desert"]


def test_stromal_density_is_the_larger_of_stroma_and_margin():
    slides = pd.DataFrame(
        {
            "slide_id": ["a", "b"],
            "patient_id": ["P1", "P2"],
            "timepoint": "baseline",
            "lesion_id": None,
            "cd8_density_tumor": [10.0, 10.0],
            "cd8_density_margin": [150.0, 20.0],
            "cd8_density_stroma": [20.0, np.nan],
            **{f"cd3_density_{r}": [1.0, 2.0] for r in ("tumor", "margin")},
            "cd8_density_overall": [30.0, 12.0],
        }
    )
    scored = score_slides(slides, {})
    assert list(scored["ihc_phenotype"]) == ["stromal", "desert"]


# ---------------------------------------------------------------- Immunoscore


def test_percentile_rank_matches_scipy_mean_kind():
    reference = np.array([10.0, 20.0, 20.0, 30.0, 40.0, np.nan])
    values = np.array([5.0, 10.0, 20.0, 25.0, 40.0, 41.0, np.nan])
    expected = [stats.percentileofscore(reference[:-1], v, kind="mean") for v in values[:-1]]
    got = percentile_rank(values, reference)
    np.testing.assert_allclose(got[:-1], expected)
    assert np.isnan(got[-1])
    # Hand: 20 in [10, 20, 20, 30, 40] -> (1 below + 0.5 * 2 equal) / 5 = 40 %.
    assert got[2] == pytest.approx(40.0)


def test_immunoscore_percentiles_and_categories_on_a_hand_example():
    reference = pd.DataFrame(
        {
            c: [10.0, 20.0, 30.0, 40.0]
            for c in ("cd3_density_tumor", "cd3_density_margin", "cd8_density_tumor", "cd8_density_margin")
        }
    )
    slides = pd.DataFrame(
        {
            "cd3_density_tumor": [5.0, 25.0, 10.0, 100.0, 20.0, 25.0],
            "cd3_density_margin": [5.0, 25.0, 20.0, 100.0, 20.0, np.nan],
            "cd8_density_tumor": [5.0, 25.0, 30.0, 100.0, 20.0, 25.0],
            "cd8_density_margin": [5.0, 25.0, 40.0, 100.0, 30.0, 25.0],
        }
    )
    result = immunoscore(slides, reference)
    # Per-density percentiles by hand: 5 -> 0; 25 -> 50; 10, 20, 30, 40 -> 12.5, 37.5, 62.5, 87.5; 100 -> 100.
    np.testing.assert_allclose(result["cd3_density_margin_percentile"].iloc[:5], [0, 50, 37.5, 100, 37.5])
    # Means: 0; 50; (12.5+37.5+62.5+87.5)/4 = 50; 100; (37.5*3 + 62.5)/4 = 43.75; missing.
    np.testing.assert_allclose(result["immunoscore_percentile"].iloc[:5], [0, 50, 50, 100, 43.75])
    assert np.isnan(result["immunoscore_percentile"].iloc[5])
    assert list(result["immunoscore"]) == ["Low", "Intermediate", "Intermediate", "High", "Intermediate", None]
    assert list(result["immunoscore_group"]) == ["IS0", "IS2", "IS2", "IS4", "IS2", None]


def test_immunoscore_category_edges_are_inclusive_upper_bounds():
    values = [0.0, 10.0, 10.01, 25.0, 25.01, 70.0, 70.01, 95.0, 95.01, 100.0]
    assert list(categorize(values, THREE_GROUPS)) == [
        "Low", "Low", "Low", "Low", "Intermediate", "Intermediate", "High", "High", "High", "High"
    ]  # fmt: skip
    assert list(categorize(values, FIVE_GROUPS)) == [
        "IS0", "IS0", "IS1", "IS1", "IS2", "IS2", "IS3", "IS3", "IS4", "IS4"
    ]  # fmt: skip


# ---------------------------------------------------------------- spatial


def test_spatial_measures_on_a_known_lattice():
    # Tumour cells on a 50 µm lattice; CD8 cells at known offsets from lattice points,
    # so the nearest tumour cell is at distance min(d, 50 - d) = d for d <= 25.
    grid = np.arange(0, 501, 50.0)
    tumor = np.array([(x, y) for x in grid for y in grid])
    offsets = np.array([5.0, 10.0, 15.0, 20.0, 24.0])
    cd8 = np.column_stack([200.0 + offsets, np.full(5, 250.0)])
    measures = proximity_measures(cd8, tumor, radius_um=20.0)
    assert measures["cd8_tumor_distance_median_um"] == pytest.approx(15.0)
    assert measures["cd8_near_tumor_fraction"] == pytest.approx(4 / 5)  # 20 µm counts as within
    # Diagonal offsets: distance sqrt(2) * 10.
    diagonal = proximity_measures(np.array([[110.0, 110.0]]), tumor, radius_um=14.0)
    assert diagonal["cd8_tumor_distance_median_um"] == pytest.approx(np.sqrt(200.0))
    assert diagonal["cd8_near_tumor_fraction"] == 0.0
    empty = proximity_measures(cd8, np.empty((0, 2)))
    assert np.isnan(empty["cd8_tumor_distance_median_um"])


# ---------------------------------------------------------------- PET and change


def test_kendall_tau_b_against_hand_and_scipy():
    # 10 pairs: 8 concordant, 2 discordant -> tau = (8 - 2) / 10 = 0.6.
    result = kendall_tau_b([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    assert result["tau"] == pytest.approx(0.6)
    assert result["n"] == 5
    assert result["p"] == pytest.approx(stats.kendalltau([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]).pvalue)
    # With ties: C = 4, D = 0, one tie in x and one in y -> 4 / sqrt(5 * 5) = 0.8 (tau-b).
    tied = kendall_tau_b([1, 2, 2, 3, np.nan], [1, 2, 3, 3, 7])
    assert tied["tau"] == pytest.approx(0.8)
    assert tied["n"] == 4
    assert tied["tau"] == pytest.approx(stats.kendalltau([1, 2, 2, 3], [1, 2, 3, 3], variant="b").statistic)


def test_pairing_slides_with_pet_lesions():
    slides = pd.DataFrame(
        {
            "slide_id": ["S1", "S2", "S3", "S4"],
            "patient_id": ["P1", "P2", "P3", "P1"],
            "timepoint": ["baseline", "baseline", "baseline", "on_treatment"],
            "lesion_id": ["P1-L01", "P2-L03", None, "P1-L01"],
            "cd8_density_tumor": [10.0, 300.0, 50.0, 40.0],
        }
    )
    lesions = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P1"],
            "lesion_id": ["P1-L01", "P1-L02", "P2-L03", "P1-L01"],
            "timepoint": ["baseline", "baseline", "baseline", "on_treatment"],
            "suvmax": [3.0, 9.0, 8.0, 5.0],
        }
    )
    pairs = pair_with_lesions(slides, lesions)
    assert list(pairs["slide_id"]) == ["S1", "S2", "S4"]
    assert list(pairs["suvmax"]) == [3.0, 8.0, 5.0]
    assert not pairs["irradiated"].any()  # lesions.tsv without the column: none irradiated
    table = pet_correlation(pairs, ["cd8_density_tumor"], bootstrap=50)
    # Per timepoint only: baseline and on-treatment pairs of the same lesion are never pooled.
    assert table["timepoint"].tolist() == ["baseline", "on_treatment"]
    assert table["n"].tolist() == [2, 1] and table["tau"].isna().all()  # fewer than 3 pairs: no tau


def _pairs(n_patients=10, lesions_per_patient=3, seed=0, irradiated=0):
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"P{k:02d}" for k in range(n_patients)], lesions_per_patient)
    shared = np.repeat(rng.normal(size=n_patients), lesions_per_patient)
    frame = pd.DataFrame(
        {
            "slide_id": [f"S{k:03d}" for k in range(patient.size)],
            "patient_id": patient,
            "timepoint": "baseline",
            "cd8_density_tumor": np.exp(shared + rng.normal(size=patient.size)),
            "suvmax": np.exp(0.5 * shared + 0.5 * rng.normal(size=patient.size)),
            "irradiated": False,
        }
    )
    frame.loc[: irradiated - 1, "irradiated"] = True
    return frame


def test_tau_b_rows_equal_scipy_with_ties_and_padding():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=(4, 12)), 0)  # many ties
    y = np.round(x + rng.normal(size=(4, 12)), 0)
    x[1, 9:] = y[1, 9:] = np.nan  # a shorter row, padded
    rows = tau_b_rows(x, y)
    for row in range(4):
        keep = ~np.isnan(x[row])
        assert rows[row] == pytest.approx(stats.kendalltau(x[row, keep], y[row, keep], variant="b").statistic)


def test_cluster_bootstrap_tau_is_the_interval_of_each_resample_written_out():
    # The reference writes each resample out (cluster k taken w_k times, its lesions
    # copied) and takes scipy's tau-b of it; the function's quadratic forms over
    # clusters must give the same resample taus, hence the same percentile interval.
    rng = np.random.default_rng(8)
    sizes = rng.integers(1, 4, 25)
    cluster = np.repeat([f"P{k:02d}" for k in rng.permutation(25)], sizes)
    x = np.round(rng.normal(size=cluster.size), 1)  # ties
    y = np.round(x + rng.normal(size=cluster.size))
    x[[2, 7]] = np.nan  # a lesion without a density takes part in no pair
    low, high = cluster_bootstrap_tau(x, y, cluster, resamples=300, conf_level=0.9, seed=5)
    codes = pd.factorize(pd.Series(cluster))[0]
    draws = np.random.default_rng(5).integers(0, 25, size=(300, 25))
    taus = []
    for row in draws:
        index = np.concatenate([np.flatnonzero(codes == k) for k in row])
        keep = index[~np.isnan(x[index])]
        taus.append(stats.kendalltau(x[keep], y[keep], variant="b").statistic)
    expected = np.quantile(np.asarray(taus)[np.isfinite(taus)], [0.05, 0.95])
    assert (low, high) == pytest.approx(tuple(expected), abs=1e-12)


def test_pet_correlation_excludes_irradiated_and_notes_clustering():
    pairs = _pairs(irradiated=2)
    table = pet_correlation(pairs, ["cd8_density_tumor"], bootstrap=200, seed=4)
    row = table.iloc[0]
    kept = pairs[~pairs["irradiated"]]
    expected = stats.kendalltau(kept["cd8_density_tumor"], kept["suvmax"], variant="b")
    assert (row["n"], row["n_patients"], row["n_irradiated_excluded"]) == (28, 10, 2)
    assert row["tau"] == pytest.approx(expected.statistic) and row["p"] == pytest.approx(expected.pvalue)
    assert row["ci_low"] < row["tau"] < row["ci_high"]
    assert row["note"].startswith("28 lesions from 10 patients: the p-value assumes independent lesions")
    assert "bootstrap of patients (200 resamples)" in row["method"]
    again = pet_correlation(pairs, ["cd8_density_tumor"], bootstrap=200, seed=4)
    pd.testing.assert_frame_equal(table, again)
    kept_all = pet_correlation(pairs, ["cd8_density_tumor"], bootstrap=0, exclude_irradiated=False).iloc[0]
    assert (kept_all["n"], kept_all["n_irradiated_excluded"]) == (30, 0) and np.isnan(kept_all["ci_low"])


def test_patient_bootstrap_interval_covers_the_population_tau():
    # Lesions share a patient effect in both density and uptake (within-patient clustering).
    # Population tau-b of this design, from 400 cohorts of 200 patients: 0.33. Measured
    # coverage: 0.93 resampling patients, 0.90 resampling lesions as if independent.
    population = np.mean(
        [
            stats.kendalltau(p["cd8_density_tumor"], p["suvmax"]).statistic
            for p in (_pairs(200, 3, seed=10_000 + k) for k in range(400))
        ]
    )
    covered = []
    for seed in range(150):
        pairs = _pairs(12, 3, seed=seed)
        low, high = cluster_bootstrap_tau(
            pairs["cd8_density_tumor"].to_numpy(),
            pairs["suvmax"].to_numpy(),
            pairs["patient_id"].to_numpy(),
            resamples=400,
            conf_level=0.95,
            seed=seed,
        )
        covered.append(low <= population <= high)
    # Nominal 95 %; 150 cohorts give a Monte Carlo SE of about 1.8 points.
    assert np.mean(covered) >= 0.89


def test_paired_change_and_wilcoxon():
    features = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2", "P3", "P3", "P4"],
            "timepoint": ["baseline", "on_treatment"] * 3 + ["baseline"],
            "cd8_density_tumor": [10.0, 30.0, 0.0, 7.0, 100.0, 95.0, 5.0],
        }
    )
    per_patient, summary = paired_change(features, ["cd8_density_tumor"])
    assert list(per_patient["patient_id"]) == ["P1", "P2", "P3"]
    np.testing.assert_allclose(per_patient["change"], [20.0, 7.0, -5.0])
    np.testing.assert_allclose(per_patient["log2_ratio"], np.log2([31 / 11, 8 / 1, 96 / 101]))
    row = summary.iloc[0]
    assert row["n"] == 3 and row["median_change"] == pytest.approx(7.0)
    # R: wilcox.test(c(30, 7, 95), c(10, 0, 100), paired = TRUE)  ->  V = 5, p = 0.5 (exact)
    assert row["p"] == pytest.approx(0.5, rel=1e-12)


def test_paired_change_uses_r_rules_with_zeros_and_ties():
    # The signatures stage's rules (contexture.stats.rank_tests.signed_rank_test): zero changes
    # dropped, normal approximation with tie and continuity correction. scipy's defaults
    # (no continuity correction) gave 0.0625 here.
    before = [100.0, 90.0, 40.0, 150.0, 60.0, 100.0, 95.0, 10.0]
    after = [120.0, 85.0, 40.0, 210.0, 66.0, 150.0, 95.0, 30.0]
    features = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(8) for _ in range(2)],
            "timepoint": ["baseline", "on_treatment"] * 8,
            "cd8_density_tumor": [value for pair in zip(before, after, strict=True) for value in pair],
        }
    )
    _, summary = paired_change(features, ["cd8_density_tumor"])
    # R: wilcox.test(c(120, 85, 40, 210, 66, 150, 95, 30), c(100, 90, 40, 150, 60, 100, 95, 10),
    #                paired = TRUE)  ->  V = 20, p = 0.0584752615656529 (two zeros, tied |d| = 20)
    assert summary.iloc[0]["n"] == 8
    assert summary.iloc[0]["p"] == pytest.approx(0.0584752615656529, rel=1e-10)


# ---------------------------------------------------------------- density-table input


def test_density_table_input_gives_phenotype_and_patient_features(tmp_path):
    path = tmp_path / "densities.tsv"
    rows = []
    for slide, patient, timepoint, tumor, stroma in (
        ("S1", "P1", "baseline", 250.0, 80.0),
        ("S2", "P2", "baseline", 30.0, 400.0),
        ("S3", "P3", "baseline", 5.0, 10.0),
        ("S4", "P1", "on_treatment", 300.0, 90.0),
    ):
        for region, marker, density in (
            ("tumor", "CD8", tumor),
            ("stroma", "CD8", stroma),
            ("margin", "CD8", stroma),
            ("tumor", "CD3", 2 * tumor),
            ("margin", "CD3", 2 * stroma),
        ):
            rows.append(f"{slide}\t{patient}\t{timepoint}\t{region}\t{marker}\t{density}")
    path.write_text("slide_id\tpatient_id\ttimepoint\tregion\tmarker\tdensity\n" + "\n".join(rows) + "\n")
    slides = score_slides(slides_from_density_table(path), {})
    assert list(slides["ihc_phenotype"]) == ["inflamed", "stromal", "desert", "inflamed"]
    # Reference = the three baseline slides; S1 is highest in core densities, middle at the margin.
    assert slides.loc[0, "cd8_density_tumor_percentile"] == pytest.approx(100 * 2.5 / 3)
    features = patient_features(slides)
    assert list(features["patient_id"]) == ["P1", "P2", "P3"]
    assert list(features["ihc_slide_id"]) == ["S1", "S2", "S3"]


def test_analyse_slides_from_a_density_table(tmp_path):
    from contexture.ihc import analyse_slides
    from contexture.ihc.slides import options_with_defaults

    path = tmp_path / "densities.tsv"
    rows = [
        f"{slide}\tP1\t{timepoint}\t{region}\tCD8\t{density}"
        for slide, timepoint, tumor in (("S1", "baseline", 250.0), ("S2", "on_treatment", 300.0))
        for region, density in (("tumor", tumor), ("stroma", 80.0), ("margin", 80.0))
    ]
    path.write_text("slide_id\tpatient_id\ttimepoint\tregion\tmarker\tdensity\n" + "\n".join(rows) + "\n")
    result = analyse_slides(options_with_defaults({}), densities=path)
    assert list(result.slides["slide_id"]) == ["S1", "S2"]
    assert list(result.features["ihc_slide_id"]) == ["S1"]
    tumour = result.paired[result.paired["density"] == "cd8_density_tumor"].iloc[0]
    assert (tumour["baseline"], tumour["on_treatment"], tumour["change"]) == (250.0, 300.0, 50.0)
    fig, _ = result.cell_map  # a density table has no cell coordinates to map
    assert "No cell coordinates" in fig.axes[0].texts[0].get_text()
    for fig, _ in (result.density_figure, result.immunoscore_figure, result.cell_map):
        fig.clf()


def test_a_patient_with_two_baseline_slides_is_named_once_and_the_larger_tumour_area_is_used(tmp_path, caplog):
    """The Immunoscore reference and the patient features both take each patient's baseline
    slide; the rule's log names the patients with several once, not once per use."""
    path = tmp_path / "densities.tsv"
    rows = [
        f"{slide}\t{patient}\tbaseline\t{region}\tCD8\t{density}"
        for slide, patient, tumor in (("S1", "P1", 250.0), ("S2", "P1", 40.0), ("S3", "P2", 30.0))
        for region, density in (("tumor", tumor), ("stroma", 80.0), ("margin", 80.0))
    ]
    path.write_text("slide_id\tpatient_id\ttimepoint\tregion\tmarker\tdensity\n" + "\n".join(rows) + "\n")
    with caplog.at_level("WARNING", logger="contexture"):
        slides = score_slides(slides_from_density_table(path), {})
        features = patient_features(slides)
    named = [r.getMessage() for r in caplog.records if "several baseline slides" in r.getMessage()]
    assert named == ["patients with several baseline slides (largest tumour area used): ['P1']"]
    # No tumour areas in a density table: ties broken by slide_id, so P1's slide is S1.
    assert list(features["ihc_slide_id"]) == ["S1", "S3"]
