"""IHC on the files sites produce: pixel units, CT/IM and epithelium/stroma regions, serial
sections, QuPath's Positive/Negative classes, and the one-per-patient Immunoscore reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.ihc.checks import check_ihc_inputs
from contexture.ihc.immunoscore import IMMUNOSCORE_COLUMNS
from contexture.ihc.slides import (
    options_with_defaults,
    read_slide_sheet,
    score_slides,
    summarize_slide,
    summarize_slides,
)
from contexture.inputs import Collector
from contexture.io import qupath

PIXEL_SIZE = 0.25  # µm per pixel (a 40x scan)


def _cells(rows, seed=0, extent=1000.0):
    """Cells from (class, parent, n) rows, at reproducible random positions on a 0.1 µm grid."""
    labels = [(cls, parent) for cls, parent, n in rows for _ in range(n)]
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "class": [c for c, _ in labels],
            "parent": [p for _, p in labels],
            "x": np.round(rng.uniform(0, extent, len(labels)), 1),
            "y": np.round(rng.uniform(0, extent, len(labels)), 1),
        }
    )


def _annotations(rows):
    """Annotations from (name, class, parent, area µm²) rows."""
    return pd.DataFrame(
        {
            "name": [r[0] for r in rows],
            "class": [r[1] for r in rows],
            "parent": [r[2] for r in rows],
            "area": [r[3] for r in rows],
            "x": 0.0,
            "y": 0.0,
        }
    )


def _write(folder, name, cells, annotations, pixel_size_um=None):
    cells_path, annotations_path = folder / f"{name}_cells.tsv", folder / f"{name}_annotations.tsv"
    qupath.write_detections(cells, cells_path, f"{name}.svs", pixel_size_um=pixel_size_um)
    qupath.write_annotations(annotations, annotations_path, f"{name}.svs", pixel_size_um=pixel_size_um)
    return str(cells_path), str(annotations_path)


FLAT = _annotations(
    [("", "Tumor", "Image", 2e6), ("", "Invasive margin", "Image", 0.5e6), ("", "Stroma", "Image", 1e6)]
)
FLAT_CELLS = [
    ("CD3: CD8", "Tumor", 10),
    ("CD3", "Tumor", 8),
    ("Tumor", "Tumor", 200),
    ("CD3: CD8", "Invasive margin", 3),
    ("CD3", "Invasive margin", 2),
    ("CD3: CD8", "Stroma", 7),
    ("Stroma", "Stroma", 40),
]


# ---------------------------------------------------------------- pixel units


def test_pixel_export_gives_the_densities_and_distances_of_the_micrometre_export(tmp_path):
    cells = _cells(FLAT_CELLS)
    um = _write(tmp_path, "um", cells, FLAT)
    px = _write(tmp_path, "px", cells, FLAT, pixel_size_um=PIXEL_SIZE)
    assert "Centroid X px" in qupath.read_header(px[0]) and "Area px^2" in qupath.read_header(px[1])
    options = options_with_defaults({})
    expected, _ = summarize_slide(*um, options)
    got, _ = summarize_slide(*px, options_with_defaults({"pixel_size_um": PIXEL_SIZE}))
    # Hand values first: 10 CD8+ / 2 mm², 13 CD3+ CD8+ ... then every key equal.
    assert expected["cd8_density_tumor"] == pytest.approx(5.0)
    assert expected["cd3_density_margin"] == pytest.approx(5 / 0.5)
    assert got.keys() == expected.keys()
    assert np.isnan(expected["pixel_size_um"]) and got["pixel_size_um"] == PIXEL_SIZE  # recorded for the methods
    for key, value in expected.items():
        if key in ("stained", "pixel_size_um"):
            continue
        assert got[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    assert got["cd8_tumor_distance_median_um"] > 0
    # Read as if in µm (the old behaviour): density 16 times too small, distances 4 times too large.
    as_um = options_with_defaults({"columns": {"x": ["Centroid X px"], "y": ["Centroid Y px"], "area": ["Area px^2"]}})
    wrong_area = pd.read_csv(px[1], sep="\t")["Area px^2"].iloc[0]
    assert wrong_area == pytest.approx(2e6 / PIXEL_SIZE**2)  # the export really is in pixels
    with pytest.raises(InputError):
        summarize_slide(*px, as_um)


def test_pixel_columns_without_a_pixel_size_are_refused_by_file_and_column(tmp_path):
    cells = _cells(FLAT_CELLS)
    px_cells, px_annotations = _write(tmp_path, "px", cells, FLAT, pixel_size_um=PIXEL_SIZE)
    um_cells, um_annotations = _write(tmp_path, "um", cells, FLAT)
    with pytest.raises(InputError, match=r"px_annotations\.tsv', column 'Area px\^2': the column is in pixels"):
        summarize_slide(px_cells, px_annotations, options_with_defaults({}))
    with pytest.raises(InputError, match=r"px_cells\.tsv', column 'Centroid X px'.*set ihc\.pixel_size_um"):
        summarize_slide(px_cells, um_annotations, options_with_defaults({}))
    # A pixel column mapped by hand in ihc.columns is refused just the same.
    mapped = options_with_defaults({"columns": {"x": ["Centroid X px"], "y": ["Centroid Y px"]}})
    with pytest.raises(InputError, match=r"column 'Centroid X px': the column is in pixels"):
        summarize_slide(px_cells, um_annotations, mapped)
    # ... and before any analysis, by the raw-input check (rule validate_inputs).
    sheet = tmp_path / "slides.tsv"
    sheet.write_text(
        f"slide_id\tpatient_id\ttimepoint\tcells\tannotations\nS1\tP1\tbaseline\t{px_cells}\t{px_annotations}\n"
    )
    found = Collector()
    check_ihc_inputs({"slides": str(sheet)}, found)
    assert len(found.problems) == 2 and all("is in pixels" in p for p in found.problems), found.problems
    found = Collector()
    check_ihc_inputs({"slides": str(sheet), "pixel_size_um": PIXEL_SIZE}, found)
    assert found.problems == []
    # The sheet's per-slide pixel size is used too.
    sheet.write_text(
        "slide_id\tpatient_id\ttimepoint\tcells\tannotations\tpixel_size_um\n"
        f"S1\tP1\tbaseline\t{px_cells}\t{px_annotations}\t{PIXEL_SIZE}\n"
    )
    slides = summarize_slides(read_slide_sheet(sheet), {})
    assert slides.loc[0, "cd8_density_tumor"] == pytest.approx(5.0)


def test_says_pixels():
    assert qupath.says_pixels("Centroid X px") and qupath.says_pixels("Area px^2") and qupath.says_pixels("Area px²")
    assert qupath.says_pixels("Area (pixels)")
    assert not qupath.says_pixels("Centroid X µm") and not qupath.says_pixels("Area um^2")
    assert not qupath.says_pixels("Expx")


# ---------------------------------------------------------------- regions


# A resection annotated for the Immunoscore: CT and IM drawn by hand, then a pixel
# classifier's epithelium and stroma inside each (named per region, as the docs ask),
# necrosis inside the CT, and peritumoural stroma outside both. Areas in mm² x 10^6.
NESTED = _annotations(
    [
        ("CT", "Tumor", "Image", 4.0e6),  # full polygon, children included
        ("CT epithelium", "Tumor epithelium", "CT", 2.5e6),
        ("CT stroma", "Stroma", "CT", 1.0e6),
        ("", "Necrosis", "CT", 0.2e6),  # ignored: neither cells nor area count
        ("IM", "Invasive margin", "Image", 2.0e6),
        ("IM epithelium", "Tumor epithelium", "IM", 0.5e6),
        ("IM stroma", "Stroma", "IM", 1.5e6),
        ("", "Stroma", "Image", 3.0e6),  # peritumoural stroma, displayed as "Stroma"
    ]
)
NESTED_CELLS = [
    ("CD8", "CT", 3),  # in the CT's own 0.3 mm² (4.0 - 2.5 - 1.0 - 0.2)
    ("CD8", "CT epithelium", 50),
    ("CD8", "CT stroma", 40),
    ("CD8", "Necrosis", 9),
    ("CD8", "IM epithelium", 5),
    ("CD8", "IM stroma", 60),
    ("CD8", "Stroma", 30),
    ("Tumor", "CT epithelium", 500),
]


def test_core_margin_epithelium_and_stroma_on_a_nested_export(tmp_path):
    files = _write(tmp_path, "nested", _cells(NESTED_CELLS), NESTED)
    record, _ = summarize_slide(*files, options_with_defaults({}))
    # Own areas: CT 0.3, CT epithelium 2.5, CT stroma 1.0, IM 0, IM epi 0.5, IM stroma 1.5, Stroma 3.0.
    assert record["area_mm2_tumor"] == pytest.approx(0.3 + 2.5 + 1.0)  # CT without necrosis
    assert record["area_mm2_margin"] == pytest.approx(2.0)
    assert record["area_mm2_epithelium"] == pytest.approx(2.5 + 0.5)
    assert record["area_mm2_stroma"] == pytest.approx(1.0 + 1.5 + 3.0)
    assert record["area_mm2_overall"] == pytest.approx(3.8 + 2.0 + 3.0)
    assert record["cd8_density_tumor"] == pytest.approx((3 + 50 + 40) / 3.8)
    assert record["cd8_density_margin"] == pytest.approx((5 + 60) / 2.0)
    assert record["cd8_density_epithelium"] == pytest.approx((50 + 5) / 3.0)
    assert record["cd8_density_stroma"] == pytest.approx((40 + 60 + 30) / 5.5)
    assert record["cd8_density_overall"] == pytest.approx(188 / 8.8)
    # Phenotype on epithelium (18.3/mm²) vs stroma (23.6/mm²): with thresholds of 20 it is stromal,
    # though the CT density (24.5/mm²) alone would have called it inflamed.
    row = pd.DataFrame([{"slide_id": "S", "patient_id": "P", "timepoint": "baseline", "lesion_id": None} | record])
    options = {"phenotype": {"inflamed_min_tumor_density": 20.0, "stromal_min_stroma_density": 20.0}}
    scored = score_slides(row, options)
    assert scored.loc[0, "ihc_phenotype"] == "stromal"
    assert scored.loc[0, "phenotype_regions"] == "epithelium vs stroma"
    assert scored.loc[0, "cd8_density_stromal"] == pytest.approx(130 / 5.5)


def test_flat_export_keeps_the_core_and_max_of_stroma_and_margin_rule(tmp_path):
    files = _write(tmp_path, "flat", _cells(FLAT_CELLS), FLAT)
    record, _ = summarize_slide(*files, options_with_defaults({}))
    assert np.isnan(record["cd8_density_epithelium"]) and record["area_mm2_epithelium"] == 0.0
    assert record["area_mm2_overall"] == pytest.approx(3.5)
    row = pd.DataFrame([{"slide_id": "S", "patient_id": "P", "timepoint": "baseline", "lesion_id": None} | record])
    scored = score_slides(row, {"phenotype": {"inflamed_min_tumor_density": 6.0, "stromal_min_stroma_density": 6.0}})
    # Core 5/mm² < 6; max(stroma 7, margin 6) >= 6: stromal.
    assert scored.loc[0, "ihc_phenotype"] == "stromal"
    assert scored.loc[0, "phenotype_regions"] == "tumour core vs max(stroma, margin)"
    assert scored.loc[0, "cd8_density_stromal"] == pytest.approx(7.0)


def test_shared_names_in_two_regions_and_overlaps_are_refused(tmp_path):
    cells = _cells([("CD8", "Stroma", 3)])
    ambiguous = _annotations(
        [("", "Tumor", "Image", 2e6), ("", "Stroma", "Tumor", 1e6), ("", "Invasive margin", "Image", 1e6),
         ("", "Stroma", "Invasive margin", 0.5e6)]
    )  # fmt: skip
    files = _write(tmp_path, "ambiguous", cells, ambiguous)
    with pytest.raises(InputError, match=r"annotations shown as 'Stroma' lie in different regions.*distinct names"):
        summarize_slide(*files, options_with_defaults({}))
    overlapping = _annotations([("CT", "Tumor", "Image", 1e6), ("", "Stroma", "CT", 1.5e6)])
    files = _write(tmp_path, "overlap", cells, overlapping)
    with pytest.raises(InputError, match=r"inside 'CT' cover 1\.5e\+06 µm², more than its own 1e\+06"):
        summarize_slide(*files, options_with_defaults({}))
    orphan = _annotations([("", "Stroma", "Whole slide", 1e6)])
    files = _write(tmp_path, "orphan", cells, orphan)
    with pytest.raises(InputError, match=r"row 1 \(line 2\), column 'Parent': parent 'Whole slide' is no annotation"):
        summarize_slide(*files, options_with_defaults({}))


def test_region_lists_come_from_config(tmp_path):
    # A site whose CT class is "Centre" and whose epithelium is "Tumour nest".
    annotations = _annotations([("", "Centre", "Image", 2e6), ("", "Tumour nest", "Centre", 1e6)])
    cells = _cells([("CD8", "Centre", 4), ("CD8", "Tumour nest", 6)])
    files = _write(tmp_path, "custom", cells, annotations)
    with pytest.raises(InputError, match="unknown annotation class"):
        summarize_slide(*files, options_with_defaults({}))
    options = options_with_defaults({"regions": {"core": ["Centre"], "epithelium": ["Tumour nest"]}})
    record, _ = summarize_slide(*files, options)
    assert record["cd8_density_tumor"] == pytest.approx(10 / 2.0)
    assert record["cd8_density_epithelium"] == pytest.approx(6 / 1.0)


# ---------------------------------------------------------------- QuPath's Positive / Negative


def test_qupath_default_single_stain_classes(tmp_path):
    """A plain 'Positive cell detection' export (and one after a tumour/stroma object classifier)."""
    plain = _cells([("Positive", "Tumor", 12), ("Negative", "Tumor", 300), ("Positive", "Stroma", 5),
                    ("Negative", "Stroma", 80), ("Positive", "Invasive margin", 2)])  # fmt: skip
    classified = _cells([("Tumor: Positive", "Tumor", 12), ("Tumor: Negative", "Tumor", 300),
                         ("Stroma: Positive", "Stroma", 5), ("Stroma: Negative", "Stroma", 80),
                         ("Stroma: Positive", "Invasive margin", 2)])  # fmt: skip
    for name, cells in (("plain", plain), ("classified", classified)):
        files = _write(tmp_path, name, cells, FLAT)
        with pytest.raises(InputError, match=r"say only positive or negative, but the slide's stain is not stated"):
            summarize_slide(*files, options_with_defaults({}))
        record, _ = summarize_slide(*files, options_with_defaults({"stain": "CD8"}))
        assert record["cd8_density_tumor"] == pytest.approx(12 / 2.0)
        assert record["cd8_density_stroma"] == pytest.approx(5 / 1.0)
        assert record["cd8_density_margin"] == pytest.approx(2 / 0.5)
        assert np.isnan(record["cd3_density_tumor"])  # not stained on this slide
    # Tumour cells of the object classifier feed the spatial measures.
    record, _ = summarize_slide(*_write(tmp_path, "c", classified, FLAT), options_with_defaults({"stain": "CD8"}))
    assert np.isfinite(record["cd8_tumor_distance_median_um"])
    assert record["tumor_cell_count"] == 300
    # Positive on a dual stain is ambiguous; a CD3 class on a CD8 slide contradicts the sheet.
    with pytest.raises(InputError, match=r"stain is CD3\+CD8"):
        summarize_slide(*_write(tmp_path, "p", plain, FLAT), options_with_defaults({"stain": "CD3+CD8"}))
    contradiction = _cells([("CD3", "Tumor", 3), ("Positive", "Tumor", 2)])
    with pytest.raises(InputError, match=r"class\(es\) \['CD3'\] are CD3\+ but the slide's stain is CD8"):
        summarize_slide(*_write(tmp_path, "x", contradiction, FLAT), options_with_defaults({"stain": "CD8"}))


# ---------------------------------------------------------------- serial sections


def test_two_single_stain_sections_equal_one_dual_stain_slide(tmp_path):
    # The same cells: on the dual slide CD8+ T cells are "CD3: CD8" and CD4-type T cells "CD3";
    # on the CD8 section the CD8+ ones are "Positive"; on the CD3 section both kinds are.
    dual = _cells(FLAT_CELLS)
    cd8 = dual.assign(**{"class": dual["class"].map({"CD3: CD8": "Positive", "CD3": "Negative"}).fillna(dual["class"])})
    cd3 = dual.assign(**{"class": dual["class"].map({"CD3: CD8": "Positive", "CD3": "Positive"}).fillna(dual["class"])})
    _write(tmp_path, "dual", dual, FLAT)
    _write(tmp_path, "cd8", cd8, FLAT)
    _write(tmp_path, "cd3", cd3, FLAT)
    sheet = tmp_path / "slides.tsv"
    sheet.write_text(
        "slide_id\tpatient_id\ttimepoint\tblock_id\tstain\tcells\tannotations\n"
        "D1\tP1\tbaseline\t\tCD3+CD8\tdual_cells.tsv\tdual_annotations.tsv\n"
        "B1-CD8\tP2\tbaseline\tB1\tCD8\tcd8_cells.tsv\tcd8_annotations.tsv\n"
        "B1-CD3\tP2\tbaseline\tB1\tCD3\tcd3_cells.tsv\tcd3_annotations.tsv\n"
    )
    slides = summarize_slides(read_slide_sheet(sheet), {}).set_index("slide_id")
    assert list(slides.index) == ["B1", "D1"]
    assert slides.loc["B1", "sections"] == "B1-CD3;B1-CD8" and slides.loc["D1", "sections"] == "D1"
    assert slides.loc["D1", "cd3_density_tumor"] == pytest.approx(18 / 2.0)  # hand: 10 + 8 CD3+ in 2 mm²
    numbers = [c for c in slides.columns if c not in ("patient_id", "timepoint", "lesion_id", "sections")]
    for column in numbers:
        assert slides.loc["B1", column] == pytest.approx(slides.loc["D1", column], nan_ok=True), column
    scored = score_slides(slides.reset_index(), {})
    assert scored[list(IMMUNOSCORE_COLUMNS)].notna().all().all()  # all four densities present


def test_serial_sections_must_state_distinct_stains(tmp_path):
    sheet = tmp_path / "slides.tsv"
    header = "slide_id\tpatient_id\ttimepoint\tblock_id\tstain\tcells\tannotations\n"
    sheet.write_text(header + "A\tP1\tbaseline\tB1\tCD8\ta\ta\nB\tP1\tbaseline\tB1\tcd8\tb\tb\n")
    with pytest.raises(InputError, match=r"block 'B1' has \['CD8'\] on more than one section"):
        read_slide_sheet(sheet)
    sheet.write_text(header + "A\tP1\tbaseline\tB1\tCD8\ta\ta\nB\tP1\tbaseline\tB1\t\tb\tb\n")
    with pytest.raises(InputError, match=r"block 'B1' has several sections.*give each its stain"):
        read_slide_sheet(sheet)
    sheet.write_text(header + "A\tP1\tbaseline\tB1\tCD8\ta\ta\nB\tP2\tbaseline\tB1\tCD3\tb\tb\n")
    with pytest.raises(InputError, match=r"column 'patient_id': the sections of block 'B1'"):
        read_slide_sheet(sheet)
    sheet.write_text(header + "A\tP1\tbaseline\t\tPD-L1\ta\ta\n")
    with pytest.raises(InputError, match=r"column 'stain'"):
        read_slide_sheet(sheet)


# ---------------------------------------------------------------- Immunoscore reference


def test_default_reference_takes_one_baseline_slide_per_patient():
    """P1 has two baseline slides; only its larger one (tumour area 3 mm²) enters the reference."""
    rows = [
        # slide, patient, timepoint, tumour area, density (all four Immunoscore densities)
        ("S1a", "P1", "baseline", 1.0, 10.0),
        ("S1b", "P1", "baseline", 3.0, 20.0),
        ("S2", "P2", "baseline", 2.0, 30.0),
        ("S3", "P3", "baseline", 2.0, 40.0),
        ("S3t", "P3", "on_treatment", 2.0, 50.0),
    ]
    slides = pd.DataFrame(
        {
            "slide_id": [r[0] for r in rows],
            "patient_id": [r[1] for r in rows],
            "timepoint": [r[2] for r in rows],
            "lesion_id": None,
            "area_mm2_tumor": [r[3] for r in rows],
            **{c: [r[4] for r in rows] for c in (*IMMUNOSCORE_COLUMNS, "cd8_density_stroma")},
        }
    )
    scored = score_slides(slides, {}).set_index("slide_id")
    # Reference = {20 (S1b), 30 (S2), 40 (S3)}; mid-rank percentiles by hand:
    # 10 -> 0; 20 -> (0 + 0.5) / 3 = 16.67; 30 -> 50; 40 -> 83.33; 50 -> 100.
    # (With every baseline slide, {10, 20, 30, 40}, 20 would be 37.5.)
    expected = {"S1a": 0.0, "S1b": 100 / 6, "S2": 50.0, "S3": 250 / 3, "S3t": 100.0}
    for slide, value in expected.items():
        assert scored.loc[slide, "immunoscore_percentile"] == pytest.approx(value), slide
    assert list(scored["immunoscore"]) == ["Low", "Low", "Intermediate", "High", "High"]


def test_density_figure_names_the_stromal_side_the_phenotype_used():
    from contexture.ihc import figures

    slides = pd.DataFrame(
        {
            "slide_id": ["a", "b"],
            "patient_id": ["1", "2"],
            "timepoint": "baseline",
            "ihc_phenotype": ["desert", "inflamed"],
            "cd8_density_tumor": [5.0, 200.0],
            "cd8_density_stromal": [10.0, 50.0],
            "phenotype_regions": ["epithelium vs stroma", "epithelium vs stroma"],
        }
    )
    for regions, title in (
        (["epithelium vs stroma"] * 2, "stroma"),
        (["epithelium vs stroma", "tumour core vs max(stroma, margin)"], "stroma, or max(stroma, margin)"),
        (["tumour core vs max(stroma, margin)"] * 2, "stroma / margin (max)"),
    ):
        fig, _ = figures.density_by_phenotype(slides.assign(phenotype_regions=regions))
        assert [ax.get_title() for ax in fig.axes] == ["tumour core", title]
        fig.clf()
