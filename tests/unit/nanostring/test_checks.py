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


def test_plexset_duplicate_lane_and_byte_copy_are_named(tmp_path):
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
    assert f"'{tmp_path / 'S5.RCC'}', <Code_Summary>: a PlexSet lane (code classes Endogenous1s" in problems
    assert len(found.problems) == 4  # and S5's probe set differs from the others'
