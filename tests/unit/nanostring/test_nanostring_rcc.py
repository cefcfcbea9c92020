"""RCC reading: every variant of the format parses to identical counts; bad files stop."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.io.rcc import (
    check_rlf,
    find_rcc_files,
    merge_rcc,
    parse_rcc,
    read_rcc,
    read_rcc_files,
    read_rlf_name,
)

CODE_LINES = [
    "Endogenous,CD8A,NM_001768.5,812",
    "Endogenous,GZMB,NM_004131.3,95",
    "Endogenous,BRAF|V600E,NM_004333.4,17",  # SNV probe: kept whole
    "Endogenous,KRAS(G12D),NM_004985.3,3",  # parenthesis outside a control: kept whole
    "Housekeeping,TBP,NM_001172085.1,189",
    "Housekeeping,SDHA,NM_004168.1,154",
    "Positive,POS_A(128),ERCC_00117.1,14992",
    "Positive,POS_B(32),ERCC_00112.1,4072",
    "Positive,POS_C(8),ERCC_00002.1,1122",
    "Positive,POS_D(2),ERCC_00092.1,321",
    "Positive,POS_E(0.5),ERCC_00035.1,56",
    "Positive,POS_F(0.125),ERCC_00034.1,32",
    "Negative,NEG_A(0),ERCC_00096.1,8",
    "Negative,NEG_B(0),ERCC_00041.1,1",
    "Negative,NEG_C(0),ERCC_00019.1,0",
]


def rcc_text(lines=CODE_LINES, *, version="1.7", sample_id="S1", codeset="NS_Test_C0001", lane="1", comments="") -> str:
    header = f"FileVersion,{version}\nSoftwareVersion,4.0.0.3\n"
    if version == "2.0":
        header += "SystemType,Gen2\n"
    return (
        f"<Header>\n{header}</Header>\n\n"
        f"<Sample_Attributes>\nID,{sample_id}\nOwner,\nComments,{comments}\nDate,20190115\n"
        f"GeneRLF,{codeset}\nSystemAPF,n6_vDV1\n</Sample_Attributes>\n\n"
        f"<Lane_Attributes>\nID,{lane}\nFovCount,280\nFovCounted,276\nScannerID,1504C0267\nStagePosition,2\n"
        "BindingDensity,0.66\nCartridgeID,206935780218\nCartridgeBarcode,206935780218\n</Lane_Attributes>\n\n"
        "<Code_Summary>\nCodeClass,Name,Accession,Count\n" + "\n".join(lines) + "\n</Code_Summary>\n\n"
        "<Messages>\n</Messages>\n"
    )


def write(path: Path, text: str, *, newline="\n", bom=False, gz=False) -> Path:
    data = text.replace("\n", newline).encode()
    if bom:
        data = b"\xef\xbb\xbf" + data
    if gz:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def test_every_variant_parses_to_identical_counts(tmp_path):
    variants = {
        "plain.RCC": write(tmp_path / "plain.RCC", rcc_text()),
        "lower.rcc": write(tmp_path / "lower.rcc", rcc_text()),
        "crlf.RCC": write(tmp_path / "crlf.RCC", rcc_text(), newline="\r\n"),
        "cr.RCC": write(tmp_path / "cr.RCC", rcc_text(), newline="\r"),
        "bom.RCC": write(tmp_path / "bom.RCC", rcc_text(), bom=True),
        "gz.RCC.gz": write(tmp_path / "gz.RCC.gz", rcc_text(), gz=True),
        "bom_crlf_gz.RCC.gz": write(tmp_path / "bom_crlf_gz.RCC.gz", rcc_text(), newline="\r\n", bom=True, gz=True),
        "v2.RCC": write(tmp_path / "v2.RCC", rcc_text(version="2.0")),
        # Probes in another order: merged by key, never by position.
        "shuffled.RCC": write(tmp_path / "shuffled.RCC", rcc_text(list(reversed(CODE_LINES)))),
    }
    expected = np.array([int(line.rsplit(",", 1)[1]) for line in CODE_LINES])
    keys = []
    for line in CODE_LINES:
        code_class, name, accession, _ = line.split(",")
        keys.append((code_class, name.split("(")[0] if code_class in ("Positive", "Negative") else name, accession))
    versions = set()
    # Each variant read on its own: merged, identical files are refused as copies of one lane.
    for name, path in variants.items():
        rccs = read_rcc_files([path])
        assert rccs.samples == [Path(name).name.split(".")[0]]
        table = rccs.count_table().set_index(["code_class", "name", "accession"])
        np.testing.assert_array_equal(table.loc[keys, rccs.samples[0]].to_numpy(), expected)
        assert rccs.counts.dtype == np.int64
        versions |= set(rccs.lanes["file_version"])
    assert versions == {"1.7", "2.0"}


def test_control_names_lose_their_concentration_other_names_are_kept_whole():
    rcc = parse_rcc(rcc_text())
    rccs = merge_rcc([rcc], ["S1"])
    probes = rccs.probes.set_index("name")
    assert probes.loc["POS_A", "concentration"] == 128
    assert probes.loc["POS_F", "concentration"] == 0.125
    assert probes.loc["NEG_C", "concentration"] == 0
    assert "BRAF|V600E" in probes.index and "KRAS(G12D)" in probes.index
    assert np.isnan(probes.loc["KRAS(G12D)", "concentration"])
    # Sorted: endogenous, housekeeping, positive, negative.
    assert list(rccs.probes["code_class"].drop_duplicates()) == ["Endogenous", "Housekeeping", "Positive", "Negative"]


def test_attributes_split_on_first_comma_and_both_ids_kept():
    rcc = parse_rcc(rcc_text(comments="tumour, core biopsy, FFPE", sample_id="ABC", lane="7"))
    assert rcc.attributes["comments"] == "tumour, core biopsy, FFPE"
    assert rcc.attributes["rcc_sample_id"] == "ABC"
    assert rcc.attributes["lane_id"] == "7"
    assert rcc.attributes["binding_density"] == "0.66"
    assert rcc.attributes["gene_rlf"] == "NS_Test_C0001"


def plexset_lines(counts_of=lambda row, gene: 10 * row + gene):
    """Code_Summary lines of a PlexSet lane: 2 genes + 1 housekeeper per row 1-8, shared controls."""
    lines = []
    for row in range(1, 9):
        lines.append(f"Endogenous{row}s,ASMT (HIOMT),XM_014173895.1,{counts_of(row, 1)}")
        lines.append(f"Endogenous{row}s,POMC A1,AB462418.1,{counts_of(row, 2)}")
        lines.append(f"Housekeeping{row}s,EF1a,AF321836.1,{counts_of(row, 3)}")
    lines += [f"Positive,POS_{k},ERCC_00002.1,{1000 + k}" for k in range(1, 9)]
    lines += [f"Negative,NEG_{k},ERCC_00019.1,{k % 2}" for k in range(1, 9)]
    return lines


def test_plexset_lane_splits_into_its_eight_rows_with_shared_controls():
    rccs = merge_rcc([parse_rcc(rcc_text(plexset_lines()))], ["L1"])
    assert rccs.samples == [f"L1_{k}" for k in range(1, 9)]
    assert rccs.lanes["plexset_row"].tolist() == list("ABCDEFGH")
    table = rccs.count_table().set_index(["code_class", "name"])
    for k in range(1, 9):
        assert table.loc[("Endogenous", "ASMT (HIOMT)"), f"L1_{k}"] == 10 * k + 1
        assert table.loc[("Endogenous", "POMC A1"), f"L1_{k}"] == 10 * k + 2
        assert table.loc[("Housekeeping", "EF1a"), f"L1_{k}"] == 10 * k + 3
        assert table.loc[("Positive", "POS_3"), f"L1_{k}"] == 1003  # the lane's, in every row
        assert table.loc[("Negative", "NEG_1"), f"L1_{k}"] == 1
    # Names with spaces and parentheses are kept whole; only controls lose a "(conc)".
    assert np.isnan(rccs.probes.set_index("name").loc["ASMT (HIOMT)", "concentration"])
    assert set(rccs.probes["code_class"]) == {"Endogenous", "Housekeeping", "Positive", "Negative"}


def test_plexset_lane_missing_a_row_or_with_unequal_rows_is_refused():
    seven = [line for line in plexset_lines() if not line.startswith(("Endogenous8s", "Housekeeping8s"))]
    with pytest.raises(
        InputError, match=r"'<text>' \(a PlexSet lane.*\['Endogenous8s', 'Housekeeping8s'\] are missing"
    ):
        merge_rcc([parse_rcc(rcc_text(seven))], ["L1"])
    unequal = [line.replace("Endogenous3s,POMC A1", "Endogenous3s,POMC B") for line in plexset_lines()]
    with pytest.raises(InputError, match="row C \\(classes \\*3s\\) has other probes than row A"):
        merge_rcc([parse_rcc(rcc_text(unequal))], ["L1"])


def test_plexset_and_single_sample_lanes_in_one_codeset_are_refused_naming_both(tmp_path):
    single = write(tmp_path / "a.RCC", rcc_text())
    plex = write(tmp_path / "b.RCC", rcc_text(plexset_lines(), lane="2"))
    for order in ([single, plex], [plex, single]):
        with pytest.raises(InputError) as error:
            read_rcc_files(order)
        assert f"'{plex}' (a PlexSet lane" in str(error.value) and f"'{single}' (one sample per lane)" in str(
            error.value
        )


def test_control_names_with_and_without_concentration_are_one_probe_set(tmp_path):
    a = write(tmp_path / "a.RCC", rcc_text())
    bare = [
        line.split("(")[0] + "," + line.split(",", 2)[2] if line.startswith(("Pos", "Neg")) else line
        for line in CODE_LINES
    ]
    bare = [line.replace("812", "700") for line in bare]
    b = write(tmp_path / "b.RCC", rcc_text(bare, lane="2"))
    rccs = read_rcc_files([a, b])
    table = rccs.count_table().set_index("name")
    assert table.loc["POS_A", ["a", "b"]].tolist() == [14992, 14992]
    assert table.loc["CD8A", ["a", "b"]].tolist() == [812, 700]
    assert rccs.probes.set_index("name").loc["POS_E", "concentration"] == 0.5
    # the other order: concentration from the standard series
    rccs = read_rcc_files([b, a], ["b", "a"])
    assert rccs.probes.set_index("name").loc["POS_E", "concentration"] == 0.5


def test_two_files_of_one_lane_are_refused_naming_both(tmp_path):
    a = write(tmp_path / "a.RCC", rcc_text())
    b = write(tmp_path / "b.RCC", rcc_text([CODE_LINES[0].replace("812", "5"), *CODE_LINES[1:]]))
    with pytest.raises(
        InputError, match=r"'.*a.RCC' and '.*b.RCC' are the same lane \(CartridgeID '206935780218', lane 1\)"
    ):
        read_rcc_files([a, b])


def test_a_byte_copy_under_another_name_is_refused_naming_both(tmp_path):
    a = write(tmp_path / "patient1.RCC", rcc_text(sample_id="P1"))
    b = tmp_path / "patient2.RCC"
    b.write_bytes(a.read_bytes().replace(b"\nID,1\n", b"\nID,2\n"))  # even with the lane ID edited
    with pytest.raises(InputError, match=r"'.*patient1.RCC' and '.*patient2.RCC' have identical counts"):
        read_rcc_files([a, b])


def test_all_zero_lanes_are_not_taken_for_copies(tmp_path):
    zeros = [line.rsplit(",", 1)[0] + ",0" for line in CODE_LINES]
    a = write(tmp_path / "a.RCC", rcc_text(zeros))
    b = write(tmp_path / "b.RCC", rcc_text(zeros, lane="2"))
    assert read_rcc_files([a, b]).samples == ["a", "b"]


def test_duplicate_rcc_sample_ids_do_not_collide(tmp_path):
    a = write(tmp_path / "a.RCC", rcc_text(sample_id="same"))
    b = write(
        tmp_path / "b.RCC",
        rcc_text(sample_id="same", lane="2", lines=[CODE_LINES[0].replace("812", "5")] + CODE_LINES[1:]),
    )
    rccs = read_rcc_files([a, b])
    assert rccs.samples == ["a", "b"]
    assert list(rccs.lanes["rcc_sample_id"]) == ["same", "same"]
    table = rccs.count_table()
    assert table.loc[table["name"] == "CD8A", ["a", "b"]].to_numpy().tolist() == [[812, 5]]


def test_different_codesets_are_refused_with_the_files_named(tmp_path):
    a = write(tmp_path / "a.RCC", rcc_text(codeset="NS_Immunology_v2_C2328"))
    b = write(tmp_path / "b.RCC", rcc_text(codeset="NS_IO360_C8926"))
    with pytest.raises(InputError, match="different CodeSets") as error:
        read_rcc_files([a, b])
    assert "NS_IO360_C8926" in str(error.value) and str(b) in str(error.value)


def test_different_probe_sets_of_one_codeset_are_refused(tmp_path):
    a = write(tmp_path / "a.RCC", rcc_text())
    b = write(tmp_path / "b.RCC", rcc_text(CODE_LINES[1:]))
    with pytest.raises(InputError, match="different probe set"):
        read_rcc_files([a, b])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            rcc_text().split("Positive,POS_C")[0],
            r"line 26: section <Code_Summary> is never closed; the file is truncated",
        ),
        (rcc_text().replace("GZMB,NM_004131.3,95", "GZMB,NM_004131.3,9x5"), r"line 29: count '9x5' is not"),
        (rcc_text().replace("GZMB,NM_004131.3,95", "GZMB,NM_004131.3,-4"), r"line 29: count '-4' is not"),
        (rcc_text().replace("GZMB,NM_004131.3,95", "GZMB,95"), r"line 29: expected 4 comma-separated fields"),
        (rcc_text().replace("<Lane_Attributes>", "").replace("</Lane_Attributes>", ""), r"missing section\(s\) <Lane"),
    ],
    ids=["truncated", "non_numeric", "negative", "short_line", "missing_section"],
)
def test_bad_files_stop_with_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "bad.RCC", text)
    with pytest.raises(InputError, match=message) as error:
        read_rcc(path)
    assert str(path) in str(error.value)


def test_truncated_gzip_is_reported(tmp_path):
    data = gzip.compress(rcc_text().encode())
    path = tmp_path / "cut.RCC.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.RCC.gz"):
        read_rcc(path)


def test_find_rcc_files_folder_and_glob(tmp_path):
    for name in ("b.RCC", "a.rcc", "c.RCC.gz", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in find_rcc_files(tmp_path)] == ["a.rcc", "b.RCC", "c.RCC.gz"]
    assert [p.name for p in find_rcc_files(str(tmp_path / "*.RCC"))] == ["b.RCC"]
    with pytest.raises(InputError, match="no RCC files"):
        find_rcc_files(tmp_path / "none" / "*.RCC")


def test_rlf_name(tmp_path):
    rlf = tmp_path / "x.rlf"
    rlf.write_text("[Header]\r\nName=NS_Test_C0001\r\nVersion=1.0\r\n[Content]\r\nColumnCount=3\r\n")
    assert read_rlf_name(rlf) == "NS_Test_C0001"
    # NanoString's own RLFs (RLFMergeTool, rlf_generator) have no Name=: the CodeSet is the file stem
    merged = tmp_path / "NS_Merged_C0002.RLF"
    merged.write_text("; Generated by RLFMergeTool\n[Header]\nVersion=3.0\nNSpot=6\n[Content]\nColumnCount=3\n")
    assert read_rlf_name(merged) == "NS_Merged_C0002"
    notrlf = tmp_path / "notes.rlf"
    notrlf.write_text("hello\n")
    with pytest.raises(InputError, match="no \\[Header\\] section"):
        read_rlf_name(notrlf)


# --- Real files: GSE117751 (42 RCC files of the Human Immunology v2 CodeSet) ---------------


def _plain_parse(path: Path) -> dict[tuple[str, str, str], int]:
    """Independent reference: the csv module on the lines between the Code_Summary tags."""
    lines = path.read_text().splitlines()
    start, end = lines.index("<Code_Summary>"), lines.index("</Code_Summary>")
    return {(r[0], r[1], r[2]): int(r[3]) for r in csv.reader(lines[start + 2 : end])}


@pytest.fixture(scope="module")
def gse117751(shared_fixtures):
    folder = shared_fixtures / "nanostring" / "GSE117751"
    if not folder.is_dir():
        pytest.skip("GSE117751 fixture absent")
    files = find_rcc_files(folder / "rcc")
    return folder, files, read_rcc_files(files, ["rcc_" + f.name[:10] for f in files])


def test_gse117751_counts_equal_an_independent_parse(gse117751):
    _, files, rccs = gse117751
    assert len(files) == 42 and rccs.counts.shape == (608, 42)
    names = rccs.probes["name"].to_numpy()
    for j, path in enumerate(files):
        reference = _plain_parse(path)
        ours = {}
        for (code_class, _, accession), name, count in zip(
            rccs.probes[["code_class", "name", "accession"]].itertuples(index=False),
            names,
            rccs.counts[:, j],
            strict=True,
        ):
            ours[(code_class, name, accession)] = count
        cleaned = {
            (c, n.split("(")[0] if c in ("Positive", "Negative") else n, a): v for (c, n, a), v in reference.items()
        }
        assert ours == cleaned, path.name
    assert set(rccs.lanes["gene_rlf"]) == {"NS_Immunology_v2_C2328"}


def test_gse117751_geo_matrix(gse117751):
    """GEO's "raw" matrix is not the RCC counts: this test pins down what it is.

    For 23 of the 42 GSM columns, GEO = round(f_s * (count + 0.5)) for one scale f_s
    per sample across all 457 probes, with probes matched by (CodeClass, Name,
    Accession) -- GEO renamed CTLA4-TM to CTLA4 and dropped 151 probes. The other 19
    columns (mostly the 2017 runs) correlate only ~0.98 with the deposited RCC file:
    they come from other runs of those samples. The reader therefore reproduces GEO
    exactly up to a per-sample scale on every column that comes from these files.
    """
    folder, _, rccs = gse117751
    geo = pd.read_csv(folder / "geo_raw_count_matrix.csv")
    gsms = list(geo.columns[3:])
    table = rccs.count_table()
    table["name"] = table["name"].replace({"CTLA4-TM": "CTLA4"})
    geo["name"] = geo["Name"].str.replace(r"^((?:POS|NEG)_[A-Z])\(.*\)$", r"\1", regex=True)
    merged = geo.merge(
        table, left_on=["CodeClass", "name", "Accession"], right_on=["code_class", "name", "accession"], how="left"
    )
    assert len(merged) == 457 and merged[rccs.samples].notna().all().all()  # every GEO probe found by key
    exact = []
    for gsm in gsms:
        counts = merged[f"rcc_{gsm}"].to_numpy(dtype=float)
        deposited = merged[gsm].to_numpy(dtype=float)
        low = np.max((deposited - 0.5) / (counts + 0.5))
        high = np.min((deposited + 0.5) / (counts + 0.5))
        if low <= high:
            exact.append(gsm)
    assert len(exact) == 23
    assert exact[:3] == ["GSM3308226", "GSM3308235", "GSM3308236"]


# --- Real files: PlexSet (NACHO's salmon set) and a real RLFMergeTool RLF (NanoStringNCTools) ---


def test_real_plexset_lanes_give_96_samples_each_with_its_rows_counts(shared_fixtures):
    """NACHO's 12 salmon PlexSet lanes: each count equals its RCC line, parsed here with plain string ops."""
    folder = shared_fixtures / "nanostring" / "nacho_salmon_plexset"
    if not folder.is_dir():
        pytest.skip("nacho_salmon_plexset fixture absent")
    rccs = read_rcc_files(find_rcc_files(folder))
    assert len(rccs.samples) == 96 and rccs.counts.shape == (88 + 7 + 8 + 8, 96)
    table = rccs.count_table().set_index(["code_class", "name", "accession"])
    checked = 0
    for stem in ("salmon_05_05", "salmon_12_12"):
        text = (folder / f"{stem}.RCC").read_text()
        summary = text.split("<Code_Summary>")[1].split("</Code_Summary>")[0].strip().splitlines()[1:]
        for line in summary:
            code_class, name, accession, count = line.split(",")
            if code_class in ("Positive", "Negative"):
                columns = [f"{stem}_{k}" for k in range(1, 9)]  # the lane's controls, shared by its rows
                key = (code_class, name, accession)
            else:
                row = int(code_class[-2])  # Endogenous3s -> 3
                columns = [f"{stem}_{row}"]
                key = (code_class[:-2], name, accession)
            assert (table.loc[key, columns] == int(count)).all(), (stem, line)
            checked += 1
    assert checked == 2 * (8 * 95 + 16)
    # The brief's example: ASMT (HIOMT), row 3 (Endogenous3s) of salmon_05_05.
    line = next(
        x for x in (folder / "salmon_05_05.RCC").read_text().splitlines() if x.startswith("Endogenous3s,ASMT (HIOMT),")
    )
    assert table.loc[("Endogenous", "ASMT (HIOMT)", "XM_014173895.1"), "salmon_05_05_3"] == int(line.rsplit(",", 1)[1])
    assert {"POMC A1", "ASMT (HIOMT)", "mineralocorticoid receptor-like"} <= set(rccs.probes["name"])


def test_real_rlf_without_name_checks_its_rccs(shared_fixtures, tmp_path):
    folder = shared_fixtures / "nanostring" / "nctools_3d_rlf"
    if not folder.is_dir():
        pytest.skip("nctools_3d_rlf fixture absent")
    rlf = folder / "3D_SolidTumor_Sig.rlf"
    assert "Name=" not in rlf.read_text()
    assert read_rlf_name(rlf) == "3D_SolidTumor_Sig"
    rccs = read_rcc_files(find_rcc_files(folder))
    assert rccs.counts.shape[1] == 12
    check_rlf(rlf, rccs)  # the RCCs' GeneRLF is 3D_SolidTumor_Sig: accepted
    other = tmp_path / "NS_Other_C0003.rlf"
    other.write_bytes(rlf.read_bytes())
    with pytest.raises(
        InputError, match=r"describes CodeSet 'NS_Other_C0003' but the RCC files are from \['3D_SolidTumor_Sig'\]"
    ):
        check_rlf(other, rccs)
