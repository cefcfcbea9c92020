"""A real snakemake run on NACHO's 12 PlexSet lanes (96 samples) with a sample sheet of (file, row)."""

import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_plexset_cohort_runs_end_to_end_with_96_samples(tmp_path, shared_fixtures):
    folder = shared_fixtures / "nanostring" / "nacho_salmon_plexset"
    if not folder.is_dir():
        pytest.skip("nacho_salmon_plexset fixture absent")
    files = sorted(folder.glob("*.RCC"))
    lines = ["file\tplexset_row\tsample_id\tpatient_id\ttimepoint"]
    for i, f in enumerate(files):
        for k, row in enumerate("ABCDEFGH", start=1):
            given = row if i % 2 == 0 else str(k)  # rows as letters in half the lanes, as digits in the rest
            patient = f"F{4 * i + (k - 1) // 2 + 1:02d}"  # a fish per two rows: baseline and on treatment
            timepoint = "baseline" if k % 2 else "on_treatment"
            lines.append(f"{f.name}\t{given}\t{f.stem}_{row}\t{patient}\t{timepoint}")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    config = {"cohorts": {"salmon": {"nanostring": {"rcc": str(folder), "samples": str(sheet)}}}}
    run_snakemake(tmp_path, config)
    out = tmp_path / "results/salmon"

    def read(name):
        return pd.read_csv(out / name, sep="\t", keep_default_na=False, na_values=[""])

    raw = read("nanostring/raw_counts.tsv")
    samples = [f"{f.stem}_{row}" for f in files for row in "ABCDEFGH"]
    assert list(raw.columns[3:]) == sorted(samples) and len(samples) == 96
    # Counts of a row equal its RCC line, read here with plain string operations.
    rcc = (folder / "salmon_05_05.RCC").read_text().splitlines()
    for line in (x for x in rcc if x.startswith(("Endogenous3s,", "Housekeeping3s,"))):
        code_class, name, accession, count = line.split(",")
        probe = raw[(raw["code_class"] == code_class[:-2]) & (raw["name"] == name) & (raw["accession"] == accession)]
        assert probe["salmon_05_05_C"].tolist() == [int(count)], line
    asmt = next(x for x in rcc if x.startswith("Endogenous3s,ASMT (HIOMT),"))
    assert raw.set_index("name").loc["ASMT (HIOMT)", "salmon_05_05_C"] == int(asmt.rsplit(",", 1)[1]) == 10
    pos = next(x for x in rcc if x.startswith("Positive,POS_6,"))
    assert (raw.set_index("name").loc["POS_6", [f"salmon_05_05_{r}" for r in "ABCDEFGH"]] == 3141).all()
    assert pos.endswith(",3141")

    lanes = read("nanostring/lanes.tsv")
    assert len(lanes) == 96 and lanes["plexset_row"].tolist() == list("ABCDEFGH") * 12
    assert lanes["flag_positive_linearity"].isna().all() and lanes["flag_limit_of_detection"].isna().all()
    assert lanes["qc_not_applicable"].str.contains("not applicable to PlexSet").all()
    assert lanes.groupby("file")["pos_factor"].nunique().eq(1).all()  # one positive factor per lane
    failed = set(lanes.loc[~lanes["qc_pass"].astype(bool), "sample_id"])
    assert len(failed) == 5 and (lanes.loc[~lanes["qc_pass"].astype(bool), "housekeeping_geomean"] < 32).all()
    table = read("nanostring/samples.tsv").set_index("sample_id")
    assert table.loc["salmon_02_02_C", ["patient_id", "timepoint", "plexset_row"]].tolist() == [
        "F06",
        "baseline",
        "C",
    ]
    normalized = read("nanostring/normalized.tsv")
    assert len(normalized) == 95 and list(normalized.columns[1:]) == sorted(set(samples) - failed)
    assert {"POMC A1", "ASMT (HIOMT)"} <= set(normalized["name"])

    # Signatures: a salmon panel carries no human signature gene. Coverage 0, nothing scored, no crash.
    coverage = read("tables/signature_coverage.tsv")
    assert (coverage["n_present"] == 0).all() and (coverage["status"] == "skipped").all()
    assert read("tables/signature_scores.tsv").empty
    log = (out / "logs/signature_scores.log").read_text()
    assert "cannot be scored: 0 of its 21 genes are in the expression matrix" in log
    assert "PlexSet: 96 samples from 12 lane(s)" in (out / "logs/nanostring.log").read_text()
    assert (out / "salmon_bundle.zip").stat().st_size > 0
