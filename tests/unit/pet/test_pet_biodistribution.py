"""Biodistribution and dose finding: hand calculations, statsmodels, recovery of the simulated kinetics."""

import math

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.io.validation import load_schema, validate_frame
from contexture.pet import biodistribution as bd
from contexture.pet.figures import biodistribution_figure
from contexture.pet.methods import biodistribution_paragraph
from contexture.pet.quantify import read_voi_table
from contexture.simulate.pet import DOSE_FINDING_DAYS, DOSE_FINDING_KINETICS, simulate_dose_finding_truth

DAYS = (0, 2, 4, 7)


def balanced_references(seed: int = 3, per_dose: int = 4) -> pd.DataFrame:
    """Balanced design: every patient at every day, equal numbers per dose, two regions."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(2 * per_dose):
        dose = 4.0 if number < per_dose else 10.0
        effect = rng.normal(0, 0.2)
        for day in DAYS:
            for region, level in (("aorta", 8.0 / (1 + day)), ("spleen", 30.0)):
                value = (
                    level * (1.4 if dose == 10 and region == "aorta" else 1.0) * math.exp(effect + rng.normal(0, 0.1))
                )
                rows.append(
                    {"patient_id": f"P{number}", "timepoint": "baseline", "scan_day": day - 10, "region": region,
                     "label": 1, "suvmean": value, "suvmax": 1.2 * value, "volume_ml": 5.0, "voxels": 80,
                     "days_post_injection": day, "protein_dose_mg": dose}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_region_names_map_to_tissues():
    assert bd.tissue_name("Aorta") == "blood_pool"
    assert bd.tissue_name("kidney") == "kidney_cortex"
    assert bd.tissue_name("spleen") == "spleen"


def test_balanced_design_geometric_means_and_ratios_equal_hand_calculations():
    references = balanced_references()
    table = bd.biodistribution_table(references)
    comparison = bd.dose_comparison(references)
    data = references.assign(tissue=references["region"].map(bd.tissue_name), log=np.log(references["suvmean"]))
    for tissue, part in data.groupby("tissue"):
        rows = table[(table["tissue"] == tissue) & (table["statistic"] == "suvmean")]
        adjusted = rows[rows["dose_mg"].isna()].set_index("day")["estimate"]
        # Equal patients per dose: the dose-adjusted (equal-weight) geometric mean per day
        # is exp(mean ln SUV) over all patients of that day (GLS = OLS in a balanced design).
        expected = np.exp(part.groupby("days_post_injection")["log"].mean())
        np.testing.assert_allclose(adjusted.to_numpy(), expected.to_numpy(), rtol=1e-8)
        # Per-dose model means: exp(day mean + dose deviation), dose effect constant over days.
        per_dose = rows[rows["method"].str.startswith("model") & rows["dose_mg"].notna()]
        group = part.groupby("protein_dose_mg")["log"].mean()
        day_mean = part.groupby("days_post_injection")["log"].mean()
        for row in per_dose.itertuples():
            hand = day_mean[row.day] + group[row.dose_mg] - group.mean()
            assert row.estimate == pytest.approx(math.exp(hand), rel=1e-8)
        # Descriptive rows: arithmetic mean and SD (ddof 1) per day and dose.
        descriptive = rows[rows["method"].str.startswith("descriptive")]
        stats = part.groupby(["days_post_injection", "protein_dose_mg"])["suvmean"].agg(["mean", "std"])
        got = descriptive.set_index(["day", "dose_mg"])[["estimate", "sd"]]
        np.testing.assert_allclose(got.to_numpy(), stats.to_numpy(), rtol=1e-10)
        # Dose ratio per day = ratio of the groups' geometric means at that day; overall =
        # ratio of the groups' geometric means over all days.
        rows = comparison[(comparison["tissue"] == tissue) & (comparison["statistic"] == "suvmean")]
        cells = np.exp(part.groupby(["days_post_injection", "protein_dose_mg"])["log"].mean()).unstack()
        per_day = rows[rows["day"].notna()].set_index("day")
        np.testing.assert_allclose(per_day["ratio"], (cells[10.0] / cells[4.0]).to_numpy(), rtol=1e-8)
        np.testing.assert_allclose(per_day["geomean"], cells[10.0].to_numpy(), rtol=1e-8)
        overall = rows[rows["day"].isna() & rows["ratio"].notna()].iloc[0]
        assert overall["ratio"] == pytest.approx(math.exp(group[10.0] - group[4.0]), rel=1e-8)
        assert overall["ci_low"] < overall["ratio"] < overall["ci_high"]
        assert overall["n_patients"] == 4 and overall["n_patients_reference"] == 4
    assert comparison["p"].between(0, 1).all()


def test_main_effects_model_matches_statsmodels():
    import statsmodels.formula.api as smf

    references = balanced_references(seed=5, per_dose=3).iloc[::1]
    references = references.drop(index=references.index[[0, 9, 20]])  # unbalanced
    data = bd.prepare_reference_regions(references)
    blood = data[data["tissue"] == "blood_pool"].assign(log=lambda t: np.log(t["suvmean"]))
    blood = blood.assign(dose_c=(blood["dose_mg"] == 10.0) - 0.5, day_c=blood["day"].astype(int).astype(str))
    # Reference: statsmodels MixedLM, REML, cell means per day + centred dose
    # (R: lmer(log(suvmean) ~ 0 + factor(day) + dose_c + (1 | patient_id))).
    reference = smf.mixedlm("log ~ 0 + C(day_c) + dose_c", blood, groups=blood["patient_id"]).fit(reml=True)
    table = bd.biodistribution_table(references)
    rows = table[(table["tissue"] == "blood_pool") & (table["statistic"] == "suvmean") & table["dose_mg"].isna()]
    expected = np.exp([reference.params[f"C(day_c)[{d}]"] for d in DAYS])
    np.testing.assert_allclose(rows["estimate"], expected, rtol=1e-5)
    se = reference.bse["C(day_c)[2]"]
    low = math.exp(reference.params["C(day_c)[2]"] - 1.959963984540054 * se)
    assert rows.set_index("day").loc[2.0, "ci_low"] == pytest.approx(low, rel=1e-4)
    comparison = bd.dose_comparison(references)
    overall = comparison[(comparison["tissue"] == "blood_pool") & comparison["day"].isna()]
    overall = overall[(overall["statistic"] == "suvmean") & overall["ratio"].notna()].iloc[0]
    assert overall["ratio"] == pytest.approx(math.exp(reference.params["dose_c"]), rel=1e-5)
    # LRT under ML against statsmodels' ML log-likelihoods.
    full = smf.mixedlm("log ~ 0 + C(day_c) + dose_c", blood, groups=blood["patient_id"]).fit(reml=False)
    null = smf.mixedlm("log ~ 0 + C(day_c)", blood, groups=blood["patient_id"]).fit(reml=False)
    assert overall["test_statistic"] == pytest.approx(2 * (full.llf - null.llf), abs=1e-4)


def test_simulated_kinetics_and_dose_effect_recovered_within_cis():
    # Over 60 seeds (3000-3059; blood pool, spleen, liver) the standardized errors of the
    # log dose ratios had mean 0.06 and SD 1.05 (92% coverage: Wald intervals with 40
    # patients are slightly narrow), those of the day geometric means mean -0.01 and SD
    # 0.91: no bias. A fixed seed keeps the test deterministic.
    truth = simulate_dose_finding_truth(patients=40, seed=2024)
    references = truth.rename(columns={"tissue": "region"}).assign(suvmax=lambda t: t["suvmean"] * 1.15)
    table = bd.biodistribution_table(references)
    comparison = bd.dose_comparison(references, {"comparison_tissues": list(DOSE_FINDING_KINETICS)})
    covered, total = 0, 0
    for tissue, kinetics in DOSE_FINDING_KINETICS.items():
        rows = table[(table["tissue"] == tissue) & (table["statistic"] == "suvmean")]
        model = rows[rows["method"].str.startswith("model")]
        for day, level in zip(DOSE_FINDING_DAYS, kinetics["suvmean_4mg"], strict=True):
            ratio = kinetics["ratio_10mg_4mg"]
            for dose, expected in ((None, level * math.sqrt(ratio)), (4.0, level), (10.0, level * ratio)):
                row = model[
                    (model["day"] == day) & (model["dose_mg"].isna() if dose is None else model["dose_mg"] == dose)
                ]
                assert len(row) == 1
                covered += int(row["ci_low"].iloc[0] <= expected <= row["ci_high"].iloc[0])
                total += 1
        overall = comparison[(comparison["tissue"] == tissue) & comparison["day"].isna() & comparison["ratio"].notna()]
        overall = overall[overall["statistic"] == "suvmean"].iloc[0]
        assert overall["ci_low"] <= kinetics["ratio_10mg_4mg"] <= overall["ci_high"], tissue
    # 84 intervals at 95%: expect about 4 misses by chance (they are correlated within a tissue).
    assert covered / total >= 0.85
    key = comparison[comparison["tissue"].isin(["blood_pool", "spleen"]) & comparison["day"].notna()]
    key = key[key["statistic"] == "suvmean"]
    expected = key["tissue"].map({t: k["ratio_10mg_4mg"] for t, k in DOSE_FINDING_KINETICS.items()})
    assert ((key["ci_low"] <= expected) & (expected <= key["ci_high"])).mean() >= 0.75
    spleen = comparison[(comparison["tissue"] == "spleen") & comparison["day"].isna() & comparison["ratio"].notna()]
    assert (spleen["ratio"] < 1).all() and (spleen["p"] < 1e-6).all()  # higher at the lower dose


def test_single_dose_gives_day_only_model_and_no_comparison():
    references = balanced_references()
    references = references[references["protein_dose_mg"] == 4.0]
    table = bd.biodistribution_table(references)
    assert table.loc[table["method"].str.startswith("model"), "dose_mg"].isna().all()
    assert bd.dose_comparison(references).empty
    assert "adjusted for protein dose" not in biodistribution_paragraph(table, None, ci_level=0.95)


def test_rows_without_days_post_injection_are_ignored_and_bad_values_refused():
    references = balanced_references()
    extra = references.iloc[:3].assign(days_post_injection=np.nan, suvmean=-1.0)
    table = bd.biodistribution_table(pd.concat([references, extra]))
    assert table.equals(bd.biodistribution_table(references))
    with pytest.raises(InputError, match="> 0 expected"):
        bd.prepare_reference_regions(references.assign(suvmean=0.0))


def test_figure_has_a_panel_per_tissue_and_source_data():
    references = balanced_references()
    table = bd.biodistribution_table(references)
    fig, source = biodistribution_figure(table, bd.prepare_reference_regions(references))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["blood pool", "spleen"]
    assert set(source["kind"]) == {"model_geometric_mean", "patient"}
    assert len(source[source["kind"] == "patient"]) == 64


def test_voi_table_reference_rows_give_reference_regions(tmp_path):
    path = tmp_path / "voi.tsv"
    pd.DataFrame(
        [
            {"patient_id": "A", "lesion_id": "A-L1", "timepoint": "baseline", "scan_day": -12, "site": "liver",
             "suvmax": 6.0, "kind": "lesion", "days_post_injection": 2, "protein_dose_mg": 10},
            {"patient_id": "A", "timepoint": "baseline", "scan_day": -14, "suvmax": 12.0, "suvmean": 10.0,
             "kind": "reference", "reference_region": "aorta", "days_post_injection": 0, "protein_dose_mg": 10},
            {"patient_id": "A", "timepoint": "baseline", "scan_day": -12, "suvmean": 5.0, "kind": "reference",
             "reference_region": "aorta", "days_post_injection": 2, "protein_dose_mg": 10},
        ]
    ).to_csv(path, sep="\t", index=False)  # fmt: skip
    lesions, references = read_voi_table(path)
    assert lesions["lesion_id"].tolist() == ["A-L1"] and "days_post_injection" not in lesions.columns
    assert references["region"].tolist() == ["aorta", "aorta"]
    assert references["days_post_injection"].tolist() == [0, 2]
    assert references["suvmean"].tolist() == [10.0, 5.0]
    # A reference row needs its region and SUVmean; a lesion row its lesion id.
    bad = pd.read_csv(path, sep="\t")
    bad.loc[2, "suvmean"] = np.nan
    bad.loc[0, "lesion_id"] = np.nan
    bad.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="lesion_id.*\n?.*|suvmean"):
        read_voi_table(path)


def test_scans_table_unique_per_day_after_injection_only_when_given():
    schema = load_schema("tables/pet_scans")
    base = {"patient_id": "A", "timepoint": "baseline", "scan_day": "-5", "image": "i", "mask": "m", "labels": "l"}
    # Without days_post_injection: one scan per patient and timepoint (as before).
    _, problems = validate_frame(pd.DataFrame([base, base]), schema, "scans.tsv")
    assert any(p.column == "patient_id,timepoint" for p in problems)
    series = pd.DataFrame([{**base, "days_post_injection": str(d)} for d in DAYS])
    _, problems = validate_frame(series, schema, "scans.tsv")
    assert problems == []
    _, problems = validate_frame(pd.concat([series, series.iloc[:1]], ignore_index=True), schema, "scans.tsv")
    assert any("days_post_injection" in str(p.column) for p in problems)
