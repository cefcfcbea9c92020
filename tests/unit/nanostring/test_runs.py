"""Several NanoString runs in one cohort: names, validation across runs, tables joined per run."""

import numpy as np
import pandas as pd
import pytest

from contexture import inputs, nanostring
from contexture.errors import ConfigError, InputError
from contexture.inputs import Collector
from contexture.nanostring.checks import check_nanostring_runs
from contexture.nanostring.runs import nanostring_runs
from tests.unit.nanostring.test_checks import write_rcc


def test_run_names_default_to_their_position_and_must_be_unique():
    assert nanostring_runs({"rcc": "a/"}) == [{"rcc": "a/", "name": "run1"}]
    runs = nanostring_runs({"runs": [{"rcc": "a/"}, {"name": "io360", "rcc": "b/", "samples": "s.tsv"}, {"rcc": "c/"}]})
    assert [r["name"] for r in runs] == ["run1", "io360", "run3"]
    assert nanostring_runs({"qc": {}}) == []  # a simulated cohort's options only
    with pytest.raises(ConfigError, match=r"run name\(s\) used twice: 'run1' \(runs.0, runs.1\)"):
        nanostring_runs({"runs": [{"rcc": "a/"}, {"name": "run1", "rcc": "b/"}]})
    with pytest.raises(ConfigError, match="rcc given next to runs"):
        nanostring_runs({"rcc": "a/", "runs": [{"rcc": "b/"}]})


def test_each_runs_paths_are_declared_under_its_position():
    cohort = {"nanostring": {"runs": [{"rcc": "a/"}, {"name": "io", "rcc": "b/", "rlf": "b.rlf"}], "qc": {}}}
    assert inputs.declared_paths(cohort) == [
        ("nanostring.runs.0.rcc", "a/"),
        ("nanostring.runs.1.rcc", "b/"),
        ("nanostring.runs.1.rlf", "b.rlf"),
    ]
    # The check reads each run's inputs and name, nothing else of the section.
    assert inputs.validation_config(cohort)["nanostring"] == {
        "runs": [{"rcc": "a/"}, {"name": "io", "rcc": "b/", "rlf": "b.rlf"}]
    }


def _two_runs(tmp_path, sheet_b_rows):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for s in ("S1", "S2"):
        write_rcc(a, s)
    for s in ("S3", "S4"):
        write_rcc(b, s, codeset="NS_Other_C9999")
    sheet_a = tmp_path / "a.tsv"
    sheet_a.write_text("file\tsample_id\tpatient_id\ttimepoint\nS1.RCC\tx1\tP1\tbaseline\nS2.RCC\tx2\tP2\tbaseline\n")
    sheet_b = tmp_path / "b.tsv"
    sheet_b.write_text("file\tsample_id\tpatient_id\ttimepoint\n" + "".join(f"{row}\n" for row in sheet_b_rows))
    return {
        "runs": [{"rcc": str(a), "samples": str(sheet_a)}, {"name": "other", "rcc": str(b), "samples": str(sheet_b)}]
    }


def test_two_codesets_in_two_runs_are_clean_and_parsed_per_run(tmp_path):
    # P1 at baseline in both runs: the design (baseline on two panels), allowed.
    section = _two_runs(tmp_path, ["S3.RCC\ty3\tP1\tbaseline", "S4.RCC\ty4\tP3\tbaseline"])
    found = Collector()
    check_nanostring_runs(section, found)
    assert found.problems == []
    parsed = found.parsed["nanostring"]
    assert list(parsed) == ["run1", "other"]
    assert [len(parsed[r].samples) for r in parsed] == [2, 2]
    assert set(parsed["other"].lanes["gene_rlf"]) == {"NS_Other_C9999"}


def test_a_sample_id_in_two_runs_is_refused_naming_both_sheets(tmp_path):
    section = _two_runs(tmp_path, ["S3.RCC\tx2\tP9\tbaseline", "S4.RCC\ty4\tP3\tbaseline"])
    found = Collector()
    check_nanostring_runs(section, found)
    assert len(found.problems) == 1 and "nanostring" not in found.parsed
    problem = found.problems[0]
    assert problem.startswith(f"sample sheet '{tmp_path / 'b.tsv'}', row 1, column 'sample_id': 'x2'")
    assert "nanostring.runs.1 (other)" in problem and f"sample sheet '{tmp_path / 'a.tsv'}'" in problem


def test_a_run_problem_names_its_run_and_one_rcc_file_in_two_runs_is_refused(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    write_rcc(a, "S1")
    write_rcc(a, "S2")
    write_rcc(a, "S3", codeset="NS_Other_C9999")  # a second CodeSet inside one run
    found = Collector()
    check_nanostring_runs({"runs": [{"rcc": str(a)}, {"name": "again", "rcc": str(a / "S1.RCC")}]}, found)
    assert any(p.startswith("nanostring.runs.0 (run1): RCC file") and "GeneRLF" in p for p in found.problems)
    assert any(
        f"RCC file '{a / 'S1.RCC'}' is in nanostring.runs.1 (again) and in nanostring.runs.0" in p
        for p in found.problems
    )
    # Without sheets the sample IDs are the file names: S1 is in both runs.
    assert any(
        "'S1' of nanostring.runs.1 (again) is also a sample of nanostring.runs.0 (run1)" in p for p in found.problems
    )


def test_process_runs_joins_runs_each_as_processed_alone(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for s in ("S1", "S2", "S3"):
        write_rcc(a, s)
    # The second CodeSet carries another gene besides CD8A and ACTB.
    probes_b = (
        "Endogenous,CD8A,NM_001768.5,120\nEndogenous,GZMA,NM_006144.2,300\nHousekeeping,ACTB,NM_001101.2,2000\n"
        "Positive,POS_A(128),ERCC_00117.1,9000\n"
    )
    for s in ("S4", "S5"):
        write_rcc(b, s, codeset="NS_Other_C9999", probes=probes_b)
    options = {"exclude_failed": False}  # these few-probe files fail positive-control QC
    runs = [nanostring.RunInput("one", [str(a)]), nanostring.RunInput("two", [str(b)])]
    joined = nanostring.process_runs(runs, **options)
    alone = [nanostring.process_cohort([str(a)], **options), nanostring.process_cohort([str(b)], **options)]
    assert joined.samples["run"].tolist() == ["one"] * 3 + ["two"] * 2
    assert list(joined.lanes.columns[:2]) == ["sample_id", "run"]
    assert joined.normalized["name"].tolist() == ["CD8A", "ACTB", "GZMA"]  # first run's order, then new genes
    blocks = nanostring.run_blocks(joined.normalized, joined.lanes, ["name"])
    for (run, block), single in zip(blocks.items(), alone, strict=True):
        expected = single.normalized.set_index("name")
        assert np.array_equal(block.set_index("name").loc[expected.index].to_numpy(), expected.to_numpy()), run
        pd.testing.assert_frame_equal(
            joined.lanes[joined.lanes["run"] == run].drop(columns="run").reset_index(drop=True), single.lanes
        )
    # GZMA is not on the first CodeSet: empty there, never zero.
    assert joined.normalized.set_index("name").loc["GZMA", ["S1", "S2", "S3"]].isna().all()
    raw = nanostring.run_blocks(joined.raw_counts, joined.lanes, ["code_class", "name", "accession"])
    assert raw["two"]["S4"].dtype == np.int64
    assert raw["two"].set_index("name")["S4"].to_dict() == alone[1].raw_counts.set_index("name")["S4"].to_dict()
    # One run: the tables are that run's, plus the run column.
    single = nanostring.process_runs(runs[:1], **options)
    pd.testing.assert_frame_equal(single.normalized, alone[0].normalized)
    assert single.samples["run"].unique().tolist() == ["one"]


def test_process_runs_refuses_a_sample_in_two_runs(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    write_rcc(a, "S1")
    write_rcc(a, "S2")
    runs = [nanostring.RunInput("one", [str(a)]), nanostring.RunInput("two", [str(a / "S1.RCC")])]
    with pytest.raises(InputError, match="sample ID 'S1' is in run 'one' and in run 'two'"):
        nanostring.process_runs(runs, exclude_failed=False)
