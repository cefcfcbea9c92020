"""Raw-input checks of RCC files, sample sheet and RLF (contexture.nanostring.checks)."""

from contexture.inputs import Collector
from contexture.nanostring.checks import check_nanostring_inputs
from contexture.simulate.nanostring import CODESET, _rcc_text

PROBES = "Endogenous,CD8A,NM_001768.5,120\nHousekeeping,ACTB,NM_001101.2,4021\nPositive,POS_A(128),ERCC_00117.1,14780\n"


def write_rcc(folder, sample_id, codeset=CODESET, probes=PROBES, lane_id=None):
    """One RCC; lane ID and CD8A count from the sample's number, so files are distinct lanes."""
    number = int("".join(c for c in sample_id if c.isdigit()) or 1)
    lane = {"date": "20190115", "lane_id": lane_id or number, "fov_counted": 280, "binding_density": 0.9}
    lane["cartridge"] = "C1"
    probes = probes.replace("CD8A,NM_001768.5,120", f"CD8A,NM_001768.5,{120 + number}", 1)
    path = folder / f"{sample_id}.RCC"
    path.write_text(
        _rcc_text({"sample_id": sample_id}, lane, probes).replace(f"GeneRLF,{CODESET}", f"GeneRLF,{codeset}")
    )
    return path


def test_rcc_of_another_codeset_is_named_with_the_usual_one(tmp_path):
    write_rcc(tmp_path, "S1")
    write_rcc(tmp_path, "S2")
    odd = write_rcc(tmp_path, "S3", codeset="NS_Other_C9999")
    found = Collector()
    check_nanostring_inputs({"rcc": str(tmp_path)}, found)
    assert len(found.problems) == 1
    assert found.problems[0].startswith(f"RCC file '{odd}', <Sample_Attributes> GeneRLF: got 'NS_Other_C9999'")
    assert repr(CODESET) in found.problems[0]
    assert {entry["rows"] for entry in found.files.values()} == {3}


def test_repeated_probe_and_unlisted_file_are_both_reported(tmp_path):
    rcc = tmp_path / "rcc"
    rcc.mkdir()
    write_rcc(rcc, "S1", probes=PROBES + "Endogenous,CD8A,NM_001768.5,99\n")
    write_rcc(rcc, "S2")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("file\tsample_id\tpatient_id\ttimepoint\nS1.RCC\tS1\tP1\tbaseline\n")
    found = Collector()
    check_nanostring_inputs({"rcc": str(rcc), "samples": str(sheet)}, found)
    assert any("S2" in p for p in found.problems), found.problems
    assert any("probe key (CodeClass, Name, Accession) repeated" in p for p in found.problems)


def test_broken_plexset_duplicate_lane_and_byte_copy_are_named(tmp_path):
    write_rcc(tmp_path, "S1")
    write_rcc(tmp_path, "S2", lane_id=1)  # same cartridge and lane as S1
    copy = tmp_path / "S3.RCC"
    copy.write_bytes(write_rcc(tmp_path, "S4").read_bytes().replace(b"\nID,4\n", b"\nID,3\n"))
    write_rcc(tmp_path, "S5", probes=PROBES.replace("Endogenous,", "Endogenous1s,"))
    found = Collector()
    check_nanostring_inputs({"rcc": str(tmp_path)}, found)
    problems = "\n".join(found.problems)
    assert f"'{tmp_path / 'S2.RCC'}', <Lane_Attributes>: CartridgeID 'C1' lane 1 is also the lane of" in problems
    assert f"'{tmp_path / 'S4.RCC'}', <Code_Summary>: identical counts for every probe to '{copy}'" in problems
    # S5 is a PlexSet lane with a Housekeeping class of no row, and mixed with single-sample lanes.
    assert (
        f"'{tmp_path / 'S5.RCC'}' (a PlexSet lane: eight samples, rows A-H, in one lane): code class(es) " in problems
    )
    assert "['Housekeeping'] belong to no row" in problems
    assert f"RCC files mix PlexSet lanes (1, e.g. '{tmp_path / 'S5.RCC'}'" in problems
    assert f"single-sample lanes (4, e.g. '{tmp_path / 'S1.RCC'}')" in problems
    assert len(found.problems) == 4  # no separate "probe set differs" for the mixed file


def test_clean_files_are_parsed_once_for_the_stage(tmp_path):
    import hashlib

    import numpy as np
    import pandas as pd

    from contexture import nanostring
    from contexture.io.rcc import read_rcc_set, write_rcc_set

    rcc = tmp_path / "rcc"
    rcc.mkdir()
    paths = [write_rcc(rcc, f"S{i}") for i in (1, 2, 3)]
    # One file without an attribute the others have: missing stays missing through Parquet.
    paths[1].write_text(paths[1].read_text().replace("CartridgeBarcode,", "Ignored,", 1))
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "file\tsample_id\tpatient_id\ttimepoint\nS1.RCC\tzeta\tP1\tbaseline\nS2.RCC\talpha\tP2\tbaseline\n"
        "S3.RCC\tmid\tP3\tbaseline\n"
    )
    found = Collector()
    check_nanostring_inputs({"rcc": str(rcc), "samples": str(sheet)}, found)
    assert found.problems == []
    # The digest comes from the bytes the check parsed, not from a second read.
    assert found.files[str(paths[0])]["sha256"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    merged = found.parsed["nanostring"]
    assert merged.samples == sorted(str(p) for p in paths)
    write_rcc_set(merged, tmp_path / "parsed")
    back = read_rcc_set(tmp_path / "parsed")
    pd.testing.assert_frame_equal(back.lanes, merged.lanes)
    pd.testing.assert_frame_equal(back.probes, merged.probes)
    assert np.array_equal(back.counts, merged.counts) and back.counts.dtype == np.int64
    assert back.lanes["cartridge_barcode"].isna().sum() == 1
    # The stage on the parsed set gives exactly what it gives reading the raw files.
    from contexture.io.validation import read_validated_table

    typed = read_validated_table(sheet, "tables/nanostring_samples", what="sheet")
    options = {"exclude_failed": False}  # three-probe files fail the positive-control QC
    parsed = nanostring.process_cohort([], typed, sheet_path=str(sheet), parsed=tmp_path / "parsed", **options)
    raw = nanostring.process_cohort([str(rcc)], typed, sheet_path=str(sheet), **options)
    for a, b in zip(parsed, raw, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert parsed.lanes["sample_id"].tolist() == ["alpha", "mid", "zeta"]


def test_nothing_is_left_for_the_stage_when_a_file_is_refused(tmp_path):
    write_rcc(tmp_path, "S1")
    write_rcc(tmp_path, "S2", lane_id=1)  # same lane as S1
    found = Collector()
    check_nanostring_inputs({"rcc": str(tmp_path)}, found)
    assert len(found.problems) == 1 and "nanostring" not in found.parsed


def test_copy_with_control_names_written_differently_is_still_a_copy(tmp_path):
    first = write_rcc(tmp_path, "S1")
    copy = tmp_path / "S2.RCC"
    # Same lane counts, another lane ID, POS_A without its concentration: one probe key.
    copy.write_text(first.read_text().replace("\nID,1\n", "\nID,2\n").replace("POS_A(128)", "POS_A"))
    found = Collector()
    check_nanostring_inputs({"rcc": str(tmp_path)}, found)
    assert any("identical counts for every probe" in p for p in found.problems), found.problems
