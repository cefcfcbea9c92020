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
