"""A cohort with two NanoString runs of two CodeSets, end to end (issue 19, item 8).

Run ``solid3d``: the 12 real RCC files of ../shared/fixtures/nanostring/nctools_3d_rlf/
(CodeSet 3D_SolidTumor_Sig, with its real RLF); run ``immunology``: 9 real GSE117751 files
(Human Immunology v2, NS_Immunology_v2_C2328). The sample sheets put patients in both:

* P1-P3: baseline and on-treatment in immunology (pairs within it);
* P4: baseline in both runs, on-treatment in solid3d (a pair within solid3d);
* P5: baseline in immunology, on-treatment in solid3d: a pair across runs, left out;
* P6: baseline in both runs, no on-treatment sample;
* P7-P9: baseline and on-treatment in solid3d; P10, P11: baseline in solid3d only.

IFN-gamma 6 (the cohort's immunosign) has 6 of its 6 genes in immunology and 4 of 6 in
solid3d (scored with min_gene_fraction 0.6), so the patient-level rule (most genes, then
run order) takes P4's and P6's baseline from immunology although solid3d is listed first.
"""

import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow

IMMUNOLOGY = [  # the first 9 GSE117751 files, all scanned at FovCount 280
    "GSM3308226_20160715_5609WV-C",
    "GSM3308227_20170504_6090AA-A2",
    "GSM3308228_20170504_6121PF-A2",
    "GSM3308229_20170504_5993KP-A2",
    "GSM3308230_20170504_6536VE-A2",
    "GSM3308231_20170504_6568NC-A2",
    "GSM3308232_20170504_6612MK-A2",
    "GSM3308233_20170504_6636KS-A2",
    "GSM3308234_20170504_6204CL-A2",
]
IMMUNOLOGY_SHEET = [  # (patient, timepoint), one per file above
    ("P1", "baseline"),
    ("P1", "on_treatment"),
    ("P2", "baseline"),
    ("P2", "on_treatment"),
    ("P3", "baseline"),
    ("P3", "on_treatment"),
    ("P4", "baseline"),
    ("P5", "baseline"),
    ("P6", "baseline"),
]
SOLID = [
    f"SKMEL{line}-{drug}-8h-R{rep}_{'04' if drug == 'DMSO' else '10'}"
    for line in ("2", "28")
    for drug in ("DMSO", "VEM")
    for rep in (1, 2, 3)
]
SOLID_SHEET = [
    ("P4", "baseline"),
    ("P4", "on_treatment"),
    ("P5", "on_treatment"),
    ("P6", "baseline"),
    ("P7", "baseline"),
    ("P7", "on_treatment"),
    ("P8", "baseline"),
    ("P8", "on_treatment"),
    ("P9", "baseline"),
    ("P9", "on_treatment"),
    ("P10", "baseline"),
    ("P11", "baseline"),
]
SIGNATURES = {"use": ["ayers_ifng6", "cyt"], "immunosign": "ayers_ifng6", "min_gene_fraction": 0.6}


def _run(tmp_path, source, stems, sheet_rows, prefix):
    folder = tmp_path / "inputs" / prefix
    folder.mkdir(parents=True)
    for stem in stems:
        shutil.copy(source / f"{stem}.RCC", folder / f"{stem}.RCC")
    sheet = pd.DataFrame(
        {
            "file": [f"{stem}.RCC" for stem in stems],
            "sample_id": [f"{prefix}-{i + 1:02d}" for i in range(len(stems))],
            "patient_id": [p for p, _ in sheet_rows],
            "timepoint": [t for _, t in sheet_rows],
        }
    )
    path = tmp_path / "inputs" / f"{prefix}_samples.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return folder, path, sheet


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, shared_fixtures):
    gse = shared_fixtures / "nanostring" / "GSE117751" / "rcc"
    solid = shared_fixtures / "nanostring" / "nctools_3d_rlf"
    if not gse.is_dir() or not solid.is_dir():
        pytest.skip("GSE117751 or nctools_3d_rlf fixtures absent from ../shared/fixtures/nanostring")
    tmp_path = tmp_path_factory.mktemp("two_runs")
    solid_rcc, solid_sheet, solid_table = _run(tmp_path, solid, SOLID, SOLID_SHEET, "solid")
    imm_rcc, imm_sheet, imm_table = _run(tmp_path, gse, IMMUNOLOGY, IMMUNOLOGY_SHEET, "imm")
    config = {
        "cohorts": {
            "panels": {
                "nanostring": {
                    "runs": [
                        {
                            "name": "solid3d",
                            "rcc": str(solid_rcc),
                            "samples": str(solid_sheet),
                            "rlf": str(solid / "3D_SolidTumor_Sig.rlf"),
                        },
                        {"name": "immunology", "rcc": str(imm_rcc), "samples": str(imm_sheet)},
                    ]
                },
                "signatures": dict(SIGNATURES),
            }
        }
    }
    run_snakemake(tmp_path, config)
    runs = {
        "solid3d": (solid_rcc, solid_sheet, solid_table),
        "immunology": (imm_rcc, imm_sheet, imm_table),
    }
    return tmp_path, config, runs


def _read(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def _as_written(table, tmp_path, name):
    """``table`` as the workflow writes and this test reads it (contexture.io.write_table's float format)."""
    from contexture.io import write_table

    write_table(table, tmp_path / name)
    return _read(tmp_path / name)


def _alone(rcc, sheet, tmp_path):
    """One run through the package alone: process_cohort, its tables written and read back as
    the workflow does, then scoring, as a cohort of that run only."""
    from contexture import nanostring, signatures
    from contexture.config import validate_config
    from contexture.io import read_table, write_table
    from contexture.io.validation import read_validated_table
    from contexture.nanostring.normalization import at_or_below_detection_limit
    from contexture.signatures.expression import read_analysis_expression
    from contexture.signatures.scores import read_signature, signature_path

    typed = read_validated_table(sheet, "tables/nanostring_samples", what="sheet")
    processed = nanostring.process_cohort([str(rcc)], typed, sheet_path=str(sheet))
    folder = tmp_path / f"alone_{rcc.name}"
    for name in processed._fields:
        write_table(getattr(processed, name), folder / f"{name}.tsv")
    options = validate_config({"cohorts": {"x": {"nanostring": {"rcc": str(rcc)}, "signatures": dict(SIGNATURES)}}})
    o = options["cohorts"]["x"]["signatures"]
    expression, samples = read_analysis_expression(folder / "normalized.tsv", folder / "samples.tsv")
    raw_counts = read_table(folder / "raw_counts.tsv", "results/nanostring/raw_counts")
    lanes = read_table(folder / "lanes.tsv", "results/nanostring/lanes")
    scored = signatures.score_cohort(
        expression,
        samples,
        [read_signature(signature_path(name)) for name in o["use"]],
        immunosign=o["immunosign"],
        min_gene_fraction=o["min_gene_fraction"],
        on_insufficient=o["on_insufficient"],
        low_quantile=o["low_quantile"],
        log_base=o["log_base"],
        below_lod=at_or_below_detection_limit(raw_counts, lanes, list(samples["sample_id"])),
    )
    return processed, scored


def test_each_run_is_normalized_as_if_alone(two_runs, tmp_path):
    workdir, _, runs = two_runs
    out = workdir / "results/panels/nanostring"
    lanes, samples = _read(out / "lanes.tsv"), _read(out / "samples.tsv")
    normalized, raw = _read(out / "normalized.tsv"), _read(out / "raw_counts.tsv")
    assert lanes["run"].tolist() == ["solid3d"] * 12 + ["immunology"] * 9
    assert samples["run"].tolist() == ["solid3d"] * 12 + ["immunology"] * 9
    assert dict(zip(lanes["run"], lanes["gene_rlf"], strict=True)) == {
        "solid3d": "3D_SolidTumor_Sig",
        "immunology": "NS_Immunology_v2_C2328",
    }
    for name, (rcc, sheet, table) in runs.items():
        alone, _ = _alone(rcc, sheet, tmp_path)
        written = _as_written(alone.normalized, tmp_path, f"{name}.tsv")
        columns = list(table["sample_id"])
        # The run's block of the joined matrix: its samples, the genes with a value in them.
        # (rows in the joined table's order: genes shared with an earlier run come in its order).
        block = normalized[["name", *columns]].dropna(subset=columns, how="all").set_index("name")
        assert sorted(block.index) == sorted(alone.normalized["name"]) and block.notna().all().all()
        written = written.set_index("name").loc[block.index]
        # Written alike, the run's values are the same numbers (the text of each cell is identical).
        assert np.array_equal(block.to_numpy(), written[columns].to_numpy())
        counts = raw[["code_class", "name", "accession", *columns]].dropna(subset=columns, how="all")
        key = ["code_class", "name", "accession"]
        expected = alone.raw_counts.set_index(key).loc[pd.MultiIndex.from_frame(counts[key])]
        assert counts[columns].astype(np.int64).to_numpy().tolist() == expected[columns].to_numpy().tolist()
        # Positive and housekeeping factors are the run's own (its lanes are the reference).
        mine = lanes[lanes["run"] == name].set_index("sample_id")
        theirs = _as_written(alone.lanes, tmp_path, f"{name}_lanes.tsv").set_index("sample_id")
        factors = ["pos_factor", "hk_factor", "positive_geomean", "lod_threshold"]
        assert np.array_equal(mine.loc[columns, factors].to_numpy(), theirs.loc[columns, factors].to_numpy())
    # The 3D panel lacks most immunology genes: empty in its samples, never zero.
    solid_ids = list(runs["solid3d"][2]["sample_id"])
    cxcl13 = normalized.set_index("name").loc["CXCL13"]
    assert cxcl13[solid_ids].isna().all() and cxcl13[list(runs["immunology"][2]["sample_id"])].notna().all()


def test_scores_are_per_run_and_equal_each_run_scored_alone(two_runs, tmp_path):
    workdir, _, runs = two_runs
    scores = _read(workdir / "results/panels/tables/signature_scores.tsv")
    coverage = _read(workdir / "results/panels/tables/signature_coverage.tsv")
    # ifng6: 6/6 genes on the immunology panel, 4/6 on the 3D panel; CYT (GZMA, PRF1) only on immunology.
    cov = coverage.set_index(["run", "signature"])
    assert cov.loc[("immunology", "ayers_ifng6"), "n_present"] == 6
    assert cov.loc[("solid3d", "ayers_ifng6"), "n_present"] == 4
    assert cov.loc[("solid3d", "ayers_ifng6"), "status"] == "partial"
    assert cov.loc[("solid3d", "cyt"), "status"] == "skipped" and cov.loc[("immunology", "cyt"), "status"] == "complete"
    assert len(scores[scores["signature"] == "ayers_ifng6"]) == 21 and len(scores[scores["signature"] == "cyt"]) == 9
    for name, (rcc, sheet, table) in runs.items():
        _, alone = _alone(rcc, sheet, tmp_path)
        mine = scores[scores["run"] == name].set_index(["signature", "sample_id"]).sort_index()
        written = _as_written(alone.scores, tmp_path, f"{name}_scores.tsv")
        theirs = written.set_index(["signature", "sample_id"]).sort_index()
        assert mine.index.tolist() == theirs.index.tolist()
        assert np.array_equal(mine["score"].to_numpy(), theirs["score"].to_numpy())
        assert mine["group"].tolist() == theirs["group"].tolist()  # cut within the run
        assert set(mine.reset_index()["sample_id"]) <= set(table["sample_id"])
        alone_cut = _as_written(alone.coverage, tmp_path, f"{name}_cov.tsv").set_index("signature")["low_cut"]
        run_cut = coverage[coverage["run"] == name].set_index("signature")["low_cut"]
        assert np.array_equal(run_cut.dropna().to_numpy(), alone_cut.dropna().to_numpy())


def test_patient_baseline_comes_from_the_run_with_most_genes(two_runs):
    workdir, _, _ = two_runs
    scores = _read(workdir / "results/panels/tables/signature_scores.tsv")
    features = _read(workdir / "results/panels/signatures/patient_features.tsv").set_index("patient_id")
    baseline = scores[(scores["signature"] == "ayers_ifng6") & (scores["timepoint"] == "baseline")]
    by_run = baseline.set_index(["patient_id", "run"])["score"]
    expected_run = {f"P{i}": "immunology" for i in (1, 2, 3, 4, 5, 6)} | {f"P{i}": "solid3d" for i in (7, 8, 9, 10, 11)}
    assert features["immunosign_run"].to_dict() == expected_run
    for patient, run in expected_run.items():
        assert features.at[patient, "immunosign_score"] == pytest.approx(by_run[(patient, run)], abs=1e-9)
    # P4 and P6 have a solid3d baseline too; it is not the one used, nor averaged in.
    assert features.at["P4", "immunosign_score"] != pytest.approx(by_run[("P4", "solid3d")], abs=1e-6)
    log = (workdir / "results/panels/logs/signature_scores.log").read_text()
    assert "immunosign_score of ayers_ifng6 comes from 2 runs" in log


def test_pairs_across_runs_are_left_out_and_counted(two_runs):
    from contexture.config import validate_config
    from contexture.signatures.methods import methods_paragraph

    workdir, config, _ = two_runs
    out = workdir / "results/panels"
    changes = _read(out / "tables/expression_changes.tsv").set_index(["feature_type", "feature", "comparison"])
    # ifng6 is scored in both runs: pairs P1-P3 (immunology) and P4, P7-P9 (solid3d); P5 crosses runs.
    assert changes.loc[("signature", "ayers_ifng6", "all"), "n"] == 7
    assert changes.loc[("signature", "cyt", "all"), "n"] == 3  # immunology pairs only
    assert changes.loc[("gene", "CXCL13", "all"), "n"] == 3  # an immunology-only gene
    # A gene on both panels: IFNG is on both (an ifng6 gene); 7 pairs, P5 not among them.
    assert changes.loc[("gene", "IFNG", "all"), "n"] == 7
    scores = _read(out / "tables/signature_scores.tsv")
    pairs = scores[(scores["signature"] == "ayers_ifng6")].pivot_table(
        index="patient_id", columns=["run", "timepoint"], values="score"
    )
    imm, solid = pairs["immunology"], pairs["solid3d"]
    expected = sorted(
        [imm.at[p, "on_treatment"] - imm.at[p, "baseline"] for p in ("P1", "P2", "P3")]
        + [solid.at[p, "on_treatment"] - solid.at[p, "baseline"] for p in ("P4", "P7", "P8", "P9")]
    )
    assert changes.loc[("signature", "ayers_ifng6", "all"), "estimate"] == pytest.approx(np.median(expected), abs=1e-9)
    log = (out / "logs/expression_changes.log").read_text()
    assert "paired baseline -> on_treatment changes: 7 patients with both timepoints" in log
    assert "1 patient(s) have baseline and on_treatment samples only in different runs" in log and "P5" in log
    cohort = validate_config(config)["cohorts"]["panels"]
    text = methods_paragraph(out, cohort)
    assert "The 2 NanoString runs (solid3d, immunology) were scored separately" in text
    assert "1 patient(s) whose baseline and on-treatment samples were in different runs were left out" in text
    assert "cyt was not scored in run solid3d" in text


def test_two_runs_figures_and_patients(two_runs):
    workdir, _, _ = two_runs
    out = workdir / "results/panels"
    patients = _read(out / "tables/patients.tsv")
    assert patients["patient_id"].tolist() == sorted(f"P{i}" for i in range(1, 12))
    rle = _read(out / "figures/nanostring_relative_log_expression.source.tsv")
    # RLE within each run (a gene's median over its run's samples): 21 lanes before and after.
    assert len(rle) == 2 * 21 and rle["median"].abs().max() < 1.5
    # IFN-gamma 6 on the heat map's genes etc.: the correlations read the joined matrix.
    correlations = _read(out / "tables/expression_correlations.tsv")
    assert len(correlations) > 0 and correlations["n"].max() <= 11
