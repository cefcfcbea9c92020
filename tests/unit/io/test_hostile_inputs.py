"""Hostile input (issue 10): random damage to RCC files, QuPath exports and RECIST tables.

Every example must end in one of two ways: a :class:`contexture.errors.InputError`
whose message names the file (and, for tables, the row and column), or the correct
answer -- never a traceback from deep inside pandas and never a wrong number. The
oracle for "correct" is the undamaged input (RCC counts, QuPath centroids) or an
independent computation (RECIST sums and the response rules they imply).
"""

from __future__ import annotations

import gzip
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contexture.errors import InputError
from contexture.io import qupath
from contexture.io.rcc import read_rcc, read_rcc_files
from contexture.io.validation import load_schema, validate_frame
from contexture.response import evaluate
from contexture.simulate.nanostring import _rcc_text

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORK = Path(tempfile.mkdtemp(prefix="contexture_hostile_"))


# --- RCC -------------------------------------------------------------------------------------
def _valid_rcc() -> str:
    """A valid RCC text in the simulator's format, with a non-ASCII comment and 12 probes."""
    lines = [f"Endogenous,GENE{i},NM_{1000 + i}.1,{(i * 37) % 500 + 3}" for i in range(8)]
    lines += ["Housekeeping,ACTB,NM_001101.2,4021", "Positive,POS_A(128),ERCC_00117.1,14780"]
    lines += ["Negative,NEG_A(0),ERCC_00096.1,7", "Negative,NEG_B(0),ERCC_00041.1,11"]
    sample = {"sample_id": "P001-BL"}
    lane = {"date": "20190115", "lane_id": 3, "fov_counted": 280, "binding_density": 0.91, "cartridge": "C1"}
    return _rcc_text(sample, lane, "\n".join(lines) + "\n").replace("Comments,simulated", "Comments,Patiënt µ-12")


VALID_RCC = _valid_rcc()


def _write(name: str, data: bytes) -> Path:
    path = WORK / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def original():
    rcc = read_rcc(_write("original.RCC", VALID_RCC.encode()))
    return rcc.keys, rcc.counts


def _same_or_clear_error(path: Path, original) -> None:
    try:
        rcc = read_rcc(path)
    except InputError as error:
        assert str(path) in str(error)
        return
    keys, counts = original
    assert rcc.keys == keys
    np.testing.assert_array_equal(rcc.counts, counts)


@SETTINGS
@given(st.integers(min_value=0, max_value=len(VALID_RCC.encode()) - 1), st.booleans())
def test_truncated_rcc_is_refused_or_read_identically(original, cut, packed):
    data = VALID_RCC.encode()
    if packed:  # a truncated transfer of a gzipped RCC
        data = gzip.compress(data, mtime=0)
        cut = cut * len(data) // len(VALID_RCC.encode())
    _same_or_clear_error(_write("truncated.RCC", data[:cut]), original)


_COUNT_SPANS = [
    (start, start + len(line.rsplit(",", 1)[1]))
    for start, line in (
        (VALID_RCC.encode().index(line.encode()) + len(line.rsplit(",", 1)[0]) + 1, line)
        for line in VALID_RCC.split("\n")
        if line.count(",") == 3 and line.split(",")[-1].isdigit()
    )
]


@SETTINGS
@given(
    st.sampled_from(_COUNT_SPANS),
    st.integers(min_value=0, max_value=10),
    st.binary(min_size=1, max_size=3).filter(lambda b: not any(48 <= c <= 57 for c in b)),
)
def test_non_digit_bytes_in_a_count_are_refused(original, span, offset, junk):
    data = bytearray(VALID_RCC.encode())
    start, end = span
    position = start + offset % (end - start)
    data[position : position + 1] = junk
    _same_or_clear_error(_write("flipped.RCC", bytes(data)), original)


@pytest.mark.parametrize("blank", [" ", "\t", "\r"])
def test_a_count_that_lost_its_last_digit_to_a_blank_is_refused(blank):
    # "40" -> "4 " at the end of its line: stripping the line would read 4; "40" -> "4" CR
    # reads as a CRLF line end in an LF file (both found by the property test above).
    end = _COUNT_SPANS[1][1]
    data = bytearray(VALID_RCC.encode())
    data[end - 1 : end] = blank.encode()
    path = _write("lost_digit.RCC", bytes(data))
    with pytest.raises(InputError, match=re.escape(str(path))):
        read_rcc(path)


@SETTINGS
@given(st.integers(min_value=0, max_value=10**6), st.booleans())
def test_byte_flips_anywhere_in_a_gzipped_rcc(original, seed, wide):
    data = bytearray(gzip.compress(VALID_RCC.encode(), mtime=0))
    rng = np.random.default_rng(seed)
    for position in rng.integers(0, len(data), size=8 if wide else 1):
        data[position] ^= int(rng.integers(1, 256))
    _same_or_clear_error(_write("flipped.RCC.gz", bytes(data)), original)


@SETTINGS
@given(
    st.sampled_from(["latin-1", "cp1252", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_other_encodings_are_read_identically_or_refused(original, encoding, newline):
    data = VALID_RCC.replace("\n", newline).encode(encoding)
    _same_or_clear_error(_write("encoded.RCC", data), original)


@SETTINGS
@given(st.integers(min_value=0, max_value=11))
def test_duplicated_probe_is_refused_naming_the_file(probe):
    lines = VALID_RCC.split("\n")
    start = lines.index("CodeClass,Name,Accession,Count") + 1
    lines.insert(start + probe, lines[start + probe])
    path = _write("duplicated.RCC", "\n".join(lines).encode())
    with pytest.raises(InputError, match="repeated") as error:
        read_rcc_files([path])
    assert str(path) in str(error.value)


def test_shared_rcc_fixture_survives_truncation(shared_fixtures):
    files = sorted((shared_fixtures / "nanostring" / "GSE117751" / "rcc").glob("*.RCC"))[:1]
    if not files:
        pytest.skip("no RCC in the shared fixtures")
    data = files[0].read_bytes()
    reference = read_rcc(files[0])
    for cut in range(0, len(data), max(1, len(data) // 40)):
        _same_or_clear_error(_write("shared.RCC", data[:cut]), (reference.keys, reference.counts))


# --- QuPath ----------------------------------------------------------------------------------
X, Y = "Centroid X µm", "Centroid Y µm"
coordinate = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]),
)


@SETTINGS
@given(
    st.lists(st.tuples(coordinate, coordinate, st.sampled_from(["CD8", "Tumor", None])), min_size=1, max_size=25),
    st.sets(st.sampled_from(["Class", "Parent", X, Y])),
    st.integers(min_value=0, max_value=3),
)
def test_qupath_detections_are_read_exactly_or_refused(cells, dropped, duplicates):
    table = pd.DataFrame(
        {
            "Image": "S1.svs",
            "Class": [c[2] for c in cells],
            "Parent": "Tumor",
            X: [c[0] for c in cells],
            Y: [c[1] for c in cells],
        }
    )
    table = pd.concat([table, table.iloc[:duplicates]], ignore_index=True)  # duplicate rows are cells too
    written = table.assign(**{c: [repr(float(v)) for v in table[c]] for c in (X, Y)})  # exact decimal text
    path = WORK / "cells.tsv"
    written.drop(columns=sorted(dropped)).to_csv(path, sep="\t", index=False, lineterminator="\n")
    try:
        cells_read = qupath.read_detections(path)
    except InputError as error:
        message = str(error)
        assert str(path) in message
        if dropped:
            assert any(f"column '{name}'" in message for name in dropped)
        else:  # only a non-finite centroid can be refused: name its row and column
            finite = np.isfinite(table[[X, Y]].to_numpy(float)).all(axis=1)
            assert not finite.all()
            row = int(np.flatnonzero(~finite)[0]) + 1
            assert f"row {row} (line {row + 1})" in message
        return
    assert not dropped
    assert len(cells_read) == len(table)
    np.testing.assert_array_equal(cells_read["x"].to_numpy(), table[X].to_numpy(float))
    np.testing.assert_array_equal(cells_read["y"].to_numpy(), table[Y].to_numpy(float))


# --- RECIST ----------------------------------------------------------------------------------
RECIST_FILE = "hostile_recist.tsv"
clean_diameter = st.decimals(min_value=0, max_value=300, places=1).map(str)
hostile_diameter = st.one_of(
    clean_diameter,
    st.sampled_from(["", "nan", "NaN", "2,8 mm", "inf", "-3", "1e400", "1e308", "0", "999999"]),
)


@st.composite
def recist_tables(draw):
    rows = []
    diameter_text = draw(st.sampled_from([clean_diameter, clean_diameter, hostile_diameter]))
    for p in range(draw(st.integers(min_value=1, max_value=3))):
        patient = f"P{p + 1}"
        targets = draw(st.integers(min_value=1, max_value=3))
        days = [-7, *sorted(draw(st.sets(st.integers(min_value=1, max_value=400), min_size=1, max_size=4)))]
        for day in days:
            for t in range(targets):
                rows.append([patient, str(day), f"{patient}-L{t}", "target", draw(diameter_text), ""])
            if day > 0 and draw(st.integers(min_value=0, max_value=4)) == 0:
                rows.append([patient, str(day), f"{patient}-N{day}", "new", "", "present"])
    for _ in range(draw(st.integers(min_value=0, max_value=1))):  # a duplicated lesion record
        rows.append(list(draw(st.sampled_from(rows))))
    return pd.DataFrame(rows, columns=["patient_id", "assessment_day", "lesion_id", "kind", "diameter_mm", "status"])


def _cell(value: str):
    return None if value == "" else value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recist_tables())
def test_recist_engine_refuses_clearly_or_obeys_the_rules(text):
    text = text.map(_cell)
    typed, problems = validate_frame(text, load_schema("tables/recist"), RECIST_FILE)
    if problems:
        for problem in problems:
            assert problem.file == RECIST_FILE and problem.row is not None and problem.column
        return
    try:
        timepoints, features = evaluate(typed, None, {}, file=RECIST_FILE)
    except InputError as error:
        assert RECIST_FILE in str(error) and "column '" in str(error)
        return
    diameters = typed.assign(d=typed["diameter_mm"].astype(float))
    for patient, table in diameters.groupby("patient_id"):
        targets = table[table["kind"] == "target"]
        baseline = math.fsum(targets.loc[targets["assessment_day"] <= 0, "d"])
        follow = timepoints[(timepoints["patient_id"] == patient) & (timepoints["assessment_day"] > 0)]
        assume(math.isfinite(baseline))
        for number, row in enumerate(follow.itertuples(index=False)):
            at = targets[targets["assessment_day"] == row.assessment_day]
            new = ((table["assessment_day"] == row.assessment_day) & (table["kind"] == "new")).any()
            if new:  # RECIST 1.1 section 4.3.5: a new lesion is progression
                assert row.overall_response == "PD"
            complete = at["d"].notna().all() and len(at) == len(targets[targets["assessment_day"] <= 0])
            if not complete:
                continue
            total = math.fsum(at["d"])
            assert row.target_sum_mm == pytest.approx(total, rel=1e-12, abs=1e-9)
            if baseline > 0:
                assert row.pct_from_baseline == pytest.approx(100 * (total - baseline) / baseline, rel=1e-9, abs=1e-9)
            if number == 0 and not new and total <= 0.7 * baseline:
                # Shrinking >= 30% by the first assessment, no new lesion: never PD (section 4.3.1).
                assert row.overall_response in ("CR", "PR")
            if total >= 1.2 * baseline + 1e-9 and total - baseline >= 5 + 1e-9 and number == 0:
                assert row.overall_response == "PD"
    assert set(features["bor"]) <= {"CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"}


def test_mixed_line_endings_are_refused_naming_the_line():
    # The fixture's lines end in LF; line 3 is made to end in CRLF.
    lines = VALID_RCC.split("\n")
    path = _write("mixed.RCC", ("\n".join(lines[:2]) + "\n" + lines[2] + "\r\n" + "\n".join(lines[3:])).encode())
    with pytest.raises(InputError) as refused:
        read_rcc(path)
    total = VALID_RCC.count("\n")
    assert str(refused.value).startswith(
        f"RCC file '{path}' mixes line endings (1 CRLF, {total - 1} LF): the first line ends in LF, line 3 in CRLF."
    )
