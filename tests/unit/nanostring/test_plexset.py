"""PlexSet lanes: sample sheet rows, QC that does not apply, normalization by hand, parsed set."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from contexture import nanostring
from contexture.errors import InputError
from contexture.inputs import Collector
from contexture.io.rcc import merge_rcc, parse_rcc, read_rcc_set, write_rcc_set
from contexture.nanostring.checks import check_nanostring_inputs
from contexture.nanostring.normalization import (
    PLEXSET_NOT_APPLICABLE,
    match_sample_sheet,
    scaling_factors,
)
from tests.unit.nanostring.test_nanostring_rcc import plexset_lines, rcc_text

SALMON = "nanostring/nacho_salmon_plexset"


def salmon(shared_fixtures):
    folder = shared_fixtures / SALMON
    if not folder.is_dir():
        pytest.skip("nacho_salmon_plexset fixture absent")
    return folder


def plain_parse(path):
    """{(class, name): count} of one RCC file's Code_Summary, by plain string operations."""
    block = path.read_text().split("<Code_Summary>")[1].split("</Code_Summary>")[0].strip().splitlines()[1:]
    return {(c, n): int(k) for c, n, _, k in (line.split(",") for line in block)}


def geomean(values):
    return math.exp(sum(math.log(max(v, 1)) for v in values) / len(values))


def test_a_lane_enters_the_positive_reference_once():
    # Lane a's two samples share p = 100; lane b has 200: reference (100 + 200) / 2 = 150,
    # not (100 + 100 + 200) / 3.
    np.testing.assert_allclose(scaling_factors([100.0, 100.0, 200.0], lanes=["a", "a", "b"]), [1.5, 1.5, 0.75])
    np.testing.assert_allclose(scaling_factors([100.0, 100.0, 200.0]), [4 / 3, 4 / 3, 2 / 3])


def test_sheet_maps_file_and_row_to_samples_letters_or_digits():
    sheet = pd.DataFrame(
        {
            "file": ["L1.RCC", "L1", "L1.RCC"],
            "plexset_row": ["A", "2", "H"],
            "sample_id": ["s_a", "s_b", "s_h"],
            "patient_id": ["P1", "P1", "P2"],
            "timepoint": ["baseline", "on_treatment", "baseline"],
        }
    )
    samples = match_sample_sheet(["/x/L1.RCC"], sheet, "s.tsv", plexset=["/x/L1.RCC"])
    assert samples["sample_id"].tolist() == ["s_a", "s_b", "s_h"]
    assert samples["plexset_row"].tolist() == ["A", "B", "H"]
    # Without a sheet: <stem>_1 .. _8.
    bare = match_sample_sheet(["/x/L1.RCC"], None, plexset=["/x/L1.RCC"])
    assert bare["sample_id"].tolist() == [f"L1_{k}" for k in range(1, 9)]
    assert bare["plexset_row"].tolist() == list("ABCDEFGH")


@pytest.mark.parametrize(
    ("files", "rows", "message"),
    [
        (
            ["L1.RCC", "L1.RCC"],
            ["A", None],
            "row 2 (line 3), column plexset_row: empty, but 'L1.RCC' is a PlexSet lane",
        ),
        (["L1.RCC", "L1.RCC"], ["A", "1"], "row 2 (line 3), columns file and plexset_row: row A of 'L1.RCC' is also "),
        (["L1.RCC", "S1.RCC"], ["A", "B"], "row 2 (line 3), column plexset_row: 'B', but 'S1.RCC' is a single-sample"),
    ],
)
def test_sheet_errors_name_the_sheet_row_and_column(files, rows, message):
    sheet = pd.DataFrame(
        {
            "file": files,
            "plexset_row": rows,
            "sample_id": ["a", "b"],
            "patient_id": ["P1", "P2"],
            "timepoint": ["baseline"] * 2,
        }
    )
    with pytest.raises(InputError, match="NanoString sample sheet 's.tsv' does not match") as error:
        match_sample_sheet(["L1.RCC", "S1.RCC"], sheet, "s.tsv", plexset=["L1.RCC"])
    assert message in str(error.value)


def test_rows_left_out_of_the_sheet_are_dropped_with_a_warning(caplog):
    rccs = merge_rcc([parse_rcc(rcc_text(plexset_lines()), "L1.RCC")], ["L1.RCC"])
    sheet = pd.DataFrame(
        {
            "file": ["L1.RCC"] * 2,
            "plexset_row": ["C", "A"],
            "sample_id": ["third", "first"],
            "patient_id": ["P1", "P2"],
            "timepoint": ["baseline"] * 2,
        }
    )
    named, samples = nanostring.normalization.assign_samples(rccs, sheet, "s.tsv")
    assert named.samples == ["first", "third"]
    table = named.count_table().set_index("name")
    assert table.loc["ASMT (HIOMT)", "first"] == 11 and table.loc["ASMT (HIOMT)", "third"] == 31  # rows A, C
    assert samples["plexset_row"].tolist() == ["A", "C"]
    assert "L1.RCC row(s) B, D, E, F, G, H" in caplog.text


def test_plexset_qc_not_applicable_is_na_not_a_pass(shared_fixtures, caplog):
    result = nanostring.process_cohort([salmon(shared_fixtures)])
    lanes = result.lanes
    assert len(lanes) == 96
    assert lanes["positive_linearity_r2"].isna().all() and lanes["pos_e_count"].isna().all()
    assert lanes["flag_positive_linearity"].isna().all() and lanes["flag_limit_of_detection"].isna().all()
    assert (lanes["qc_not_applicable"] == PLEXSET_NOT_APPLICABLE).all()
    assert "not applicable to PlexSet" in PLEXSET_NOT_APPLICABLE
    # Only real failures fail: five rows with raw housekeeping geometric mean < 32.
    failed = lanes.loc[~lanes["qc_pass"], "sample_id"].tolist()
    assert len(failed) == 5
    assert all("positive_linearity" not in f and "limit_of_detection" not in f for f in lanes["qc_failures"])
    assert (lanes.loc[~lanes["qc_pass"], "housekeeping_geomean"] < 32).all()
    # The lane's controls are shared: one positive factor per lane.
    assert lanes.groupby("file")["pos_factor"].nunique().eq(1).all()
    assert "PlexSet: 96 samples from 12 lane(s)" in caplog.text and "no cross-row calibration" in caplog.text


def test_normalized_values_by_hand_for_one_plexset_sample(shared_fixtures):
    """salmon_05_05 row C (sample salmon_05_05_3), from the RCC text and nSolver's formulas."""
    folder = salmon(shared_fixtures)
    files = sorted(folder.glob("*.RCC"))
    parsed = {f.stem: plain_parse(f) for f in files}
    # Positive factor: lane geometric mean of POS_1..8 (floored at 1); reference = mean over the 12 lanes
    # (every lane has a passing row).
    pos = {stem: geomean([v for (c, _), v in counts.items() if c == "Positive"]) for stem, counts in parsed.items()}
    pos_factor = {stem: sum(pos.values()) / len(pos) / p for stem, p in pos.items()}
    # Housekeeping per row: geometric mean of the 7 Housekeeping<k>s counts; the reference is over the
    # rows passing the intrinsic checks (here: raw housekeeping geometric mean >= 32).
    raw_hk, scaled_hk = {}, {}
    for stem, counts in parsed.items():
        for k in range(1, 9):
            values = [v for (c, _), v in counts.items() if c == f"Housekeeping{k}s"]
            assert len(values) == 7
            raw_hk[f"{stem}_{k}"] = geomean(values)
            scaled_hk[f"{stem}_{k}"] = geomean([v * pos_factor[stem] for v in values])
    reference = [s for s, g in raw_hk.items() if g >= 32]
    assert len(reference) == 91
    hk_reference = sum(scaled_hk[s] for s in reference) / len(reference)
    sample = "salmon_05_05_3"
    hk_factor = hk_reference / scaled_hk[sample]
    counts = parsed["salmon_05_05"]
    expected = {
        name: math.log2(max(v * pos_factor["salmon_05_05"] * hk_factor, 1))
        for (c, name), v in counts.items()
        if c in ("Endogenous3s", "Housekeeping3s")
    }

    result = nanostring.process_cohort([folder])
    lane = result.lanes.set_index("sample_id").loc[sample]
    assert lane["pos_factor"] == pytest.approx(pos_factor["salmon_05_05"], rel=1e-12)
    assert lane["hk_factor"] == pytest.approx(hk_factor, rel=1e-12)
    normalized = result.normalized.set_index("name")[sample]
    assert len(expected) == 95 and set(expected) == set(normalized.index)
    for name, value in expected.items():
        assert normalized[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    # Pinned, so a change of rule shows: lane geometric mean 2416.74 of POS_1..8, positive factor
    # 0.917938, housekeeping factor 1.062506; ASMT (HIOMT) raw 10 -> log2(10 * 0.917938 * 1.062506).
    assert pos["salmon_05_05"] == pytest.approx(2416.7405, abs=1e-4)
    assert pos_factor["salmon_05_05"] == pytest.approx(0.917938, abs=1e-6)
    assert hk_factor == pytest.approx(1.062506, abs=1e-6)
    assert counts[("Endogenous3s", "ASMT (HIOMT)")] == 10
    assert normalized["ASMT (HIOMT)"] == pytest.approx(3.285868, abs=1e-6)


def test_validation_parses_plexset_once_for_the_stage(shared_fixtures, tmp_path):
    folder = salmon(shared_fixtures)
    found = Collector()
    check_nanostring_inputs({"rcc": str(folder)}, found)
    assert found.problems == []
    write_rcc_set(found.parsed["nanostring"], tmp_path)
    again = read_rcc_set(tmp_path)
    assert again.lanes["plexset_row"].tolist() == list("ABCDEFGH") * 12
    from_parsed = nanostring.process_cohort([], parsed=tmp_path)
    from_files = nanostring.process_cohort([folder])
    for a, b in zip(from_parsed, from_files, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert from_files.raw_counts.shape == (111, 3 + 96)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("\tC\t", "\tJ\t"),
            "s.tsv, row 3 (line 4), column 'plexset_row': got 'J'; expected text matching ^([A-H]|[1-8])$",
        ),
        (
            ("\tD\t", "\t\t"),
            "s.tsv' does not match the RCC files: row 4 (line 5), column plexset_row: empty, but 'salmon_01_01.RCC' is "
            "a PlexSet lane (eight samples, rows A-H); give the row of this sample (A-H or 1-8)",
        ),
    ],
)
def test_validation_names_the_sheet_row_and_column_of_a_bad_plexset_row(shared_fixtures, tmp_path, edit, message):
    folder = salmon(shared_fixtures)
    lines = ["file\tplexset_row\tsample_id\tpatient_id\ttimepoint"]
    for f in sorted(folder.glob("*.RCC")):
        lines += [f"{f.name}\t{row}\t{f.stem}_{row}\tP{f.stem[-2:]}{row}\tbaseline" for row in "ABCDEFGH"]
    row = 3 if edit[1] == "\tJ\t" else 4
    lines[row] = lines[row].replace(*edit)
    (tmp_path / "s.tsv").write_text("\n".join(lines) + "\n")
    found = Collector()
    check_nanostring_inputs({"rcc": str(folder), "samples": str(tmp_path / "s.tsv")}, found)
    assert len(found.problems) == 1 and message in found.problems[0], found.problems


def test_plexset_linearity_figure_is_a_note_not_empty_axes():
    """No positive control with a titrated concentration (PlexSet POS_1-8): the linearity
    figure says why instead of drawing two empty panels; its source keeps the counts."""
    from contexture.io.rcc import POSITIVE_CONCENTRATIONS
    from contexture.nanostring.figures import positive_linearity_figure

    raw = pd.DataFrame(
        {
            "code_class": ["Positive", "Positive"],
            "name": ["POS_1", "POS_2"],
            "accession": ["E2", "E2"],
            "S1": [4366, 4227],
        }
    )
    lanes = pd.DataFrame({"sample_id": ["S1"], "qc_pass": [True], "positive_linearity_r2": [np.nan]})
    fig, source = positive_linearity_figure(raw, lanes, POSITIVE_CONCENTRATIONS)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(fig.axes) == 1 and not fig.axes[0].axison
    assert len(texts) == 1 and "does not apply" in texts[0]
    assert source["value"].tolist() == [4366, 4227] and source["concentration_fm"].isna().all()
