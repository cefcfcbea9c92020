"""Raw-input checks of RCC files, sample sheet and RLF (contexture.nanostring.checks)."""

from contexture.inputs import Collector
from contexture.nanostring.checks import check_nanostring_inputs
from contexture.simulate.nanostring import CODESET, _rcc_text

PROBES = "Endogenous,CD8A,NM_001768.5,120\nHousekeeping,ACTB,NM_001101.2,4021\nPositive,POS_A(128),ERCC_00117.1,14780\n"


def write_rcc(folder, sample_id, codeset=CODESET, probes=PROBES):
    lane = {"date": "20190115", "lane_id": 1, "fov_counted": 280, "binding_density": 0.9, "cartridge": "C1"}
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
