"""Real snakemake runs of the response stage: truth BOR recovered; malformed input stops."""

import pandas as pd
import pytest

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow


def test_engine_recovers_the_simulated_best_response(demo_run):
    out = demo_run / "results/small"
    features = pd.read_csv(out / "response/patient_features.tsv", sep="\t")
    expected = pd.read_csv(out / "raw/truth/recist_expected.tsv", sep="\t")
    truth = pd.read_csv(out / "raw/truth/patients.tsv", sep="\t")
    merged = features.merge(expected, on="patient_id")
    assert len(merged) == 24
    # Every patient: the observable BOR (censoring rules in contexture.simulate.recist).
    assert (merged["bor"] == merged["expected_bor"]).all(), merged[merged["bor"] != merged["expected_bor"]]
    # Where the follow-up allows it, that is the drawn truth itself.
    observable = merged[merged["expected_bor"] == merged["truth_bor"]]
    assert len(observable) >= 12
    patients = pd.read_csv(out / "tables/patients.tsv", sep="\t")
    assert set(features.columns) - {"patient_id"} <= set(patients.columns)
    # Progression documented on the truth progression day (the clinical PFS event).
    timepoints = pd.read_csv(out / "tables/recist_timepoints.tsv", sep="\t")
    first_pd = timepoints[timepoints["overall_response"] == "PD"].groupby("patient_id")["assessment_day"].min()
    progressed = truth[truth["progressed"] & (truth["bor"] != "NE")].set_index("patient_id")["pfs_days"]
    assert first_pd.reindex(progressed.index).tolist() == progressed.tolist()
    rates = pd.read_csv(out / "tables/response_rates.tsv", sep="\t").set_index(["criteria", "endpoint"])
    orr = rates.loc[("RECIST 1.1", "ORR")]
    assert orr["count"] == features["bor"].isin(["CR", "PR"]).sum() and orr["n"] == 24
    assert orr["ci_low"] <= orr["rate"] <= orr["ci_high"]
    for name in ("best_percent_change_waterfall", "target_sum_change_spider", "response_swimmer"):
        assert (out / f"figures/{name}.png").stat().st_size > 0
        assert (out / f"figures/{name}.source.tsv").exists()


def test_malformed_recist_table_stops_with_file_row_column(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    recist = inputs / "recist.tsv"
    recist.write_text(
        "patient_id\tassessment_day\tlesion_id\tkind\torgan\tlymph_node\tdiameter_mm\tstatus\n"
        "A\t-7\tT1\ttarget\tliver\tfalse\t28\t\n"
        "A\t56\tT1\ttarget\tliver\tfalse\t2,8 mm\t\n"
    )
    clinical = inputs / "clinical.tsv"
    clinical.write_text("patient_id\tos_days\tos_event\nA\t300\t0\n")
    config = {"cohorts": {"trial": {"clinical": str(clinical), "recist": str(recist)}}}
    result = run_snakemake(tmp_path, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(recist) in output and "row 2 (line 3)" in output and "column 'diameter_mm'" in output
    assert not (tmp_path / "results/trial/tables/recist_timepoints.tsv").exists()


def test_real_cohort_without_clinical_table_and_options(tmp_path):
    recist = tmp_path / "recist.tsv"
    rows = ["patient_id\tassessment_day\tlesion_id\tkind\tdiameter_mm\tstatus"]
    for patient, sizes in {"A": (50, 30, 32), "B": (40, 45, 60)}.items():
        for day, size in zip((-3, 56, 112), sizes, strict=True):
            rows.append(f"{patient}\t{day}\tT1\ttarget\t{size}\t")
    recist.write_text("\n".join(rows) + "\n")
    config = {
        "cohorts": {"trial": {"recist": str(recist), "response": {"confirmation": False, "responder": ["CR", "PR"]}}}
    }
    run_snakemake(tmp_path, config)
    features = pd.read_csv(tmp_path / "results/trial/response/patient_features.tsv", sep="\t")
    assert features["bor"].tolist() == ["PR", "SD"]  # B: SD at day 56 (>= 42 days), PD later
    assert features["responder"].tolist() == [True, False]
    assert features["best_pct_change"].tolist() == pytest.approx([-40.0, 12.5])
    # One target each, well chosen: the RECIST 1.1 s4.2 selection warnings are header-only.
    selection = pd.read_csv(tmp_path / "results/trial/response/recist_selection_warnings.tsv", sep="\t")
    assert selection.empty and list(selection.columns) == ["patient_id", "rule", "lesion_ids", "detail"]
    timepoints = pd.read_csv(tmp_path / "results/trial/tables/recist_timepoints.tsv", sep="\t")
    # B: 40 -> 45 -> 60 mm: PD at day 112 (+15 mm over the 40-mm nadir), the first iUPD.
    last = timepoints[(timepoints["patient_id"] == "B") & (timepoints["assessment_day"] == 112)].iloc[0]
    assert last["irecist_response"] == "iUPD" and last["irecist_basis"].startswith("iUPD: first RECIST 1.1")
