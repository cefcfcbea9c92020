"""Raw-input checks of IHC slide sheets and QuPath exports (contexture.ihc.checks)."""

from contexture.ihc.checks import check_ihc_inputs
from contexture.inputs import Collector


def test_missing_export_names_sheet_row_and_column(tmp_path):
    sheet = tmp_path / "slides.tsv"
    sheet.write_text(
        "slide_id\tpatient_id\ttimepoint\tcells\tannotations\nS1\tP1\tbaseline\tS1_cells.tsv\tS1_ann.tsv\n"
    )
    (tmp_path / "S1_ann.tsv").write_text("Image\tName\tClass\tParent\tArea µm^2\n")
    found = Collector()
    check_ihc_inputs({"slides": str(sheet)}, found)
    assert any(
        p.startswith(
            f"{sheet}, row 1 (line 2), column 'cells': got 'S1_cells.tsv'; expected an existing QuPath detection"
        )
        for p in found.problems
    ), found.problems
    assert str(tmp_path / "S1_ann.tsv") in found.files


def test_export_above_the_size_limit_is_not_read(tmp_path):
    sheet = tmp_path / "slides.tsv"
    sheet.write_text("slide_id\tpatient_id\ttimepoint\tcells\tannotations\nS1\tP1\tbaseline\tc.tsv\ta.tsv\n")
    for name in ("c.tsv", "a.tsv"):
        (tmp_path / name).write_bytes(b"x" * 2048)
    found = Collector({"qupath_mb": 0.001})
    check_ihc_inputs({"slides": str(sheet)}, found)
    assert len(found.problems) == 2
    assert all("above the limit of 0.001 MB (config limits.qupath_mb)" in p for p in found.problems)
