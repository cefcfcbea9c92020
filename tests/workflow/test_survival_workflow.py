"""Real snakemake runs: survival tables and figures, checked against direct lifelines fits."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from tests.conftest import run_snakemake

pytestmark = pytest.mark.workflow

TABLES = ("survival_km", "survival_logrank", "survival_cox", "survival_followup")
FIGURES = ("survival_km_pfs", "survival_km_os", "survival_cox_forest")


def _read(run, name):
    return pd.read_csv(run / f"results/small/tables/{name}.tsv", sep="\t")


def test_survival_outputs_are_written(demo_run):
    for name in TABLES:
        assert (demo_run / f"results/small/tables/{name}.tsv").is_file()
    for name in FIGURES:
        for suffix in (".png", ".pdf", ".source.tsv"):
            assert (demo_run / f"results/small/figures/{name}{suffix}").stat().st_size > 0
    km = _read(demo_run, "survival_km")
    assert {"endpoint", "stratifier", "group", "n", "events", "median_months", "ci_low", "ci_high"} <= set(km.columns)
    assert {"surv_6m", "surv_12m"} <= set(km.columns)
    assert set(km["endpoint"]) == {"pfs", "os"}
    assert (km.loc[km["stratifier"] == "all", "n"] == 24).all()


def test_dmmr_rows_agree_with_lifelines(demo_run):
    patients = pd.read_csv(demo_run / "results/small/tables/patients.tsv", sep="\t")
    km = _read(demo_run, "survival_km").set_index(["endpoint", "stratifier", "group"])
    logrank = _read(demo_run, "survival_logrank").set_index(["endpoint", "stratifier", "test"])
    cox = _read(demo_run, "survival_cox").set_index(["endpoint", "model", "term"])
    for endpoint in ("pfs", "os"):
        time, event = patients[f"{endpoint}_months"], patients[f"{endpoint}_event"]
        dmmr = patients["dmmr"].astype(bool)
        for flag, label in ((True, "dMMR"), (False, "pMMR")):
            fitter = KaplanMeierFitter().fit(time[dmmr == flag], event[dmmr == flag])
            row = km.loc[(endpoint, "dmmr", label)]
            assert row["n"] == (dmmr == flag).sum() and row["events"] == event[dmmr == flag].sum()
            median = fitter.median_survival_time_
            if np.isfinite(median):
                assert row["median_months"] == pytest.approx(median, rel=1e-9)
            else:
                assert np.isnan(row["median_months"])
        direct = logrank_test(time[dmmr], time[~dmmr], event[dmmr], event[~dmmr])
        assert logrank.loc[(endpoint, "dmmr", "log-rank"), "statistic"] == pytest.approx(
            direct.test_statistic, rel=1e-6
        )
        assert logrank.loc[(endpoint, "dmmr", "log-rank"), "p"] == pytest.approx(direct.p_value, rel=1e-6)
        frame = pd.DataFrame({"t": time, "e": event, "dmmr": dmmr.astype(float)})
        fit = CoxPHFitter().fit(frame, "t", "e")
        # Other terms (e.g. immunoscore's levels) repeat the index: select the one dmmr row.
        rows = cox.loc[[(endpoint, "univariable", "dmmr")]]
        assert len(rows) == 1
        row = rows.iloc[0]
        assert row["scale"] == "dMMR vs pMMR"
        # The stage's Cox fit equals R's coxph to ~1e-12 (tests/unit/stats/test_survival.py;
        # here coxph(Surv(os_months, os_event) ~ dmmr) gives coef -1.374903112604, and so do
        # we). lifelines stops iterating earlier (-1.374901135554): agreement to 1e-5.
        assert row["hr"] == pytest.approx(fit.hazard_ratios_["dmmr"], rel=1e-5)
        assert row["p"] == pytest.approx(fit.summary.loc["dmmr", "p"], rel=1e-5)
        assert row["n"] == 24 and 0 <= row["ph_p"] <= 1


def test_cohort_without_follow_up_gets_header_only_tables(tmp_path):
    clinical = tmp_path / "inputs" / "clinical.tsv"
    clinical.parent.mkdir()
    clinical.write_text("patient_id\tdmmr\tage\nA\ttrue\t50\nB\tfalse\t60\nC\tfalse\t70\n")
    run_snakemake(tmp_path, {"cohorts": {"trial": {"clinical": str(clinical)}}})
    for name in TABLES:
        table = pd.read_csv(tmp_path / f"results/trial/tables/{name}.tsv", sep="\t")
        assert table.empty and len(table.columns) >= 4
    assert (tmp_path / "results/trial/figures/survival_km_os.png").is_file()


def _responder_cohort(tmp_path, landmark: str):
    """Clinical-only cohort whose table carries a response column; OS by it, with ``landmark``."""
    rows = [(f"P{i:02d}", 30 * i + 10 * (i % 3), int(i % 4 != 0), "True" if i % 2 else "False") for i in range(1, 21)]
    clinical = tmp_path / "inputs" / "clinical.tsv"
    clinical.parent.mkdir(parents=True)
    clinical.write_text(
        "patient_id\tos_days\tos_event\tresponder\n" + "".join(f"{p}\t{d}\t{e}\t{r}\n" for p, d, e, r in rows)
    )
    survival = {
        "endpoints": ["os"],
        "landmark_weeks": landmark,
        "stratifiers": [{"column": "responder"}],
        "cox": {"univariable": ["responder"], "models": []},
    }
    return {"cohorts": {"trial": {"clinical": str(clinical), "survival": survival}}}, rows


def test_os_by_responder_is_refused_without_landmark_and_runs_with_one(tmp_path):
    config, rows = _responder_cohort(tmp_path / "refused", None)
    result = run_snakemake(tmp_path / "refused", config, "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "'responder' is known only after follow-up starts" in output and "guarantee-time" in output

    config, rows = _responder_cohort(tmp_path / "landmark", 12)
    run_snakemake(tmp_path / "landmark", config, "results/trial/tables/survival_km.tsv")
    km = pd.read_csv(tmp_path / "landmark/results/trial/tables/survival_km.tsv", sep="\t")
    logrank = pd.read_csv(tmp_path / "landmark/results/trial/tables/survival_logrank.tsv", sep="\t")
    cox = pd.read_csv(tmp_path / "landmark/results/trial/tables/survival_cox.tsv", sep="\t")
    landmark = 12 * 7 / 30.4375  # months
    after = [(d / 30.4375 - landmark, e, r) for _, d, e, r in rows if d / 30.4375 > landmark]
    responders = km[km["stratifier"] == "responder"]
    assert (responders["landmark_weeks"] == 12).all() and responders["n"].sum() == len(after)
    assert (responders["n_before_landmark"] == len(rows) - len(after)).all()
    assert km.loc[km["stratifier"] == "all", "landmark_weeks"].isna().all()
    # Direct lifelines fit on the landmark subset with times from the landmark.
    frame = pd.DataFrame(after, columns=["time", "event", "responder"])
    frame["responder"] = (frame["responder"] == "True").astype(float)
    fit = CoxPHFitter().fit(frame, "time", "event")
    row = cox[cox["term"] == "responder"].iloc[0]
    assert row["landmark_weeks"] == 12 and row["n"] == len(after)
    # lifelines stops its Newton iterations ~1e-5 short of coxph (whose iteration our fitter
    # copies: equal to coxph to 1e-12, tests/unit/stats/test_survival.py), hence 1e-5 here.
    assert row["hr"] == pytest.approx(fit.hazard_ratios_["responder"], rel=1e-5)
    assert logrank["landmark_weeks"].iloc[0] == 12
