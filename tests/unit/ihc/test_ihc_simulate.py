"""The IHC demo simulator: deterministic QuPath exports whose phenotypes are recoverable."""

import io

import pandas as pd
import pytest

from contexture.ihc.slides import read_slide_sheet, score_slides, summarize_slides
from contexture.simulate import simulate_latent
from contexture.simulate.ihc import write_ihc


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    patients, lesions, _ = simulate_latent(30, 3)
    folder = tmp_path_factory.mktemp("ihc_sim")
    sheet = write_ihc(patients, lesions, folder, seed=3)
    return patients, lesions, folder, sheet


def test_slides_follow_the_truth_design(simulated):
    patients, lesions, _, sheet = simulated
    biopsied = set(patients.loc[patients["has_biopsy"], "patient_id"])
    baseline = sheet[sheet["timepoint"] == "baseline"]
    assert set(baseline["patient_id"]) == biopsied and baseline["patient_id"].is_unique
    on = sheet[sheet["timepoint"] == "on_treatment"]
    assert set(on["patient_id"]) <= set(patients.loc[patients["has_on_treatment_scan"], "patient_id"]) & biopsied
    # Each slide names a real, non-irradiated baseline PET lesion of its patient.
    known = lesions[(lesions["timepoint"] == "baseline") & ~lesions["irradiated"]]
    merged = sheet.merge(known, on=["patient_id", "lesion_id"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_deterministic_bytes(simulated, tmp_path):
    patients, lesions, folder, sheet = simulated
    write_ihc(patients, lesions, tmp_path, seed=3)
    for relative in ["slides.tsv", sheet["cells"].iloc[0], sheet["annotations"].iloc[0]]:
        assert (tmp_path / relative).read_bytes() == (folder / relative).read_bytes()


def test_phenotypes_and_densities_recovered(simulated):
    patients, _, folder, _ = simulated
    slides = score_slides(summarize_slides(read_slide_sheet(folder / "slides.tsv"), {}), {})
    merged = slides.merge(
        patients[["patient_id", "ihc_phenotype", "cd8_infiltration_z"]], on="patient_id", suffixes=("", "_truth")
    )
    # Recoverable by design (see contexture.simulate.ihc): every slide.
    assert (merged["ihc_phenotype"] == merged["ihc_phenotype_truth"]).all()
    assert slides["n_cells"].between(3_000, 30_000).all()
    # Within a phenotype, density follows the latent infiltration (positive rank correlation).
    inflamed = merged[(merged["ihc_phenotype_truth"] == "inflamed") & (merged["timepoint"] == "baseline")]
    if len(inflamed) >= 4:
        assert inflamed["cd8_density_tumor"].corr(inflamed["cd8_infiltration_z"], method="kendall") > 0
    # Inflamed CD8+ cells sit among tumour cells; stromal ones stay away.
    by_phenotype = merged.groupby("ihc_phenotype")["cd8_tumor_distance_median_um"].median()
    assert by_phenotype["inflamed"] < 40 < by_phenotype["stromal"]
    assert pd.notna(slides["immunoscore"]).all()


def test_two_workers_give_the_one_core_slide_table(simulated, caplog):
    """threads=2 reads the slides in two processes: the same bytes and log lines as one core."""
    patients, _, folder, _ = simulated
    sheet = read_slide_sheet(folder / "slides.tsv")
    tables, messages = {}, {}
    for threads in (1, 2):
        caplog.clear()
        with caplog.at_level("INFO", logger="contexture"):
            table = score_slides(summarize_slides(sheet, {}, threads=threads), {})
        tables[threads] = table.to_csv(sep="\t", index=False)
        messages[threads] = [r.getMessage() for r in caplog.records if r.name == "contexture.ihc.slides"]
    assert tables[2] == tables[1]
    # One progress line per slide, in slide order, whichever worker read it.
    assert messages[2] == messages[1] and len(messages[1]) == len(sheet)
    assert [m.split(":")[0] for m in messages[1]] == [f"slide {s}" for s in sheet["slide_id"]]
    merged = pd.read_csv(io.StringIO(tables[2]), sep="\t", dtype={"patient_id": str}).merge(
        patients[["patient_id", "ihc_phenotype"]], on="patient_id", suffixes=("", "_truth")
    )
    assert (merged["ihc_phenotype"] == merged["ihc_phenotype_truth"]).all()
