"""Python model fits vs R at scale: Cox (the survival stage's own fitter, and lifelines,
vs survival) and random intercepts (statsmodels MixedLM, and the PET stage's own fitter,
vs lme4), on the same simulated data, timed in the same run.

* Cox proportional hazards on 100,000 patients (two covariates), three fits:
  Efron ties, ``R: coxph(Surv(time, event) ~ x + group, data = d, ties = "efron")``;
  Breslow ties, the same with ``ties = "breslow"``; and Efron ties with four strata,
  ``coxph(Surv(time, event) ~ x + group + strata(stratum), data = d)``. Python:
  ``contexture.stats.survival.cox_fit`` for all three (target <= 2x R), and lifelines'
  ``CoxPHFitter`` for the first (the fitter the stage used before; Efron only, no target).
* Linear mixed model with a random intercept per patient on 100,000 lesions
  (20,000 patients x 5 lesions), REML in both.
  R: ``lmer(y ~ x + (1 | patient), data = d, REML = TRUE)``.

Only the fits are timed (``time.perf_counter`` around ``fit``, ``system.time`` around the
R call), never data loading or interpreter start-up. The ratio is Python seconds / R
seconds: for contexture's Cox fitter with the target <= 2 (the survival stage refits
Cox models for landmarks, strata and bootstraps), for the others without one (the
project uses those libraries for their place in the pipeline, not their speed). The
largest absolute difference between the two sets of estimates (coefficients, variance
components) is reported too, with the target <= 1e-6 for contexture's Cox fitter and
<= 1e-4 for the others: the two must give the same answer. Needs ``Rscript`` with
the ``survival`` and ``lme4`` packages (Debian: r-cran-survival, r-cran-lme4); without
them every metric is written as not measured.

    .venv/bin/python benchmarks/r_comparison.py            # 100,000 patients / lesions
    .venv/bin/python benchmarks/r_comparison.py --small    # Cox at 100,000, mixed models at 10,000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _results import write_results

RESULTS = Path(__file__).resolve().parent / "results" / "r_comparison.tsv"
AGREEMENT_TARGET = 1e-4
# contexture's Cox fitter: within 2x of coxph's time, equal to it to 1e-6 (issue 21).
COX_RATIO_TARGET = 2.0
COX_AGREEMENT_TARGET = 1e-6

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(lme4)})
args <- commandArgs(trailingOnly = TRUE)
cox_data <- read.delim(args[1])
mixed_data <- read.delim(args[2])
mixed_data$patient <- factor(mixed_data$patient)
cox_seconds <- system.time(cox <- coxph(Surv(time, event) ~ x + group, data = cox_data, ties = "efron"))[["elapsed"]]
breslow_seconds <- system.time(breslow <- coxph(Surv(time, event) ~ x + group, data = cox_data, ties = "breslow"))[["elapsed"]]
strata_seconds <- system.time(strata <- coxph(Surv(time, event) ~ x + group + strata(stratum), data = cox_data, ties = "efron"))[["elapsed"]]
mixed_seconds <- system.time(mixed <- lmer(y ~ x + (1 | patient), data = mixed_data, REML = TRUE))[["elapsed"]]
variances <- as.data.frame(VarCorr(mixed))
cat(sprintf('{"cox_seconds": %.6f, "cox_breslow_seconds": %.6f, "cox_strata_seconds": %.6f, "mixed_seconds": %.6f, "cox": [%.12f, %.12f], "cox_breslow": [%.12f, %.12f], "cox_strata": [%.12f, %.12f], "mixed": [%.10f, %.10f, %.10f, %.10f]}\n',
    cox_seconds, breslow_seconds, strata_seconds, mixed_seconds, coef(cox)[["x"]], coef(cox)[["group"]],
    coef(breslow)[["x"]], coef(breslow)[["group"]], coef(strata)[["x"]], coef(strata)[["group"]],
    fixef(mixed)[["(Intercept)"]], fixef(mixed)[["x"]], variances$vcov[1], variances$vcov[2]))
"""


def simulate_survival(patients: int, rng: np.random.Generator) -> pd.DataFrame:
    """Exponential event times with log-hazard 0.5 x - 0.3 group, uniform censoring.

    Times are rounded to 1e-4, so there are ties (about 20,000 distinct times among
    100,000 patients); ``stratum`` (1..4, in turn) is the strata of the stratified fit.
    """
    x = rng.normal(size=patients)
    group = rng.integers(0, 2, size=patients)
    event_time = rng.exponential(1.0 / np.exp(0.5 * x - 0.3 * group))
    censor_time = rng.uniform(0, 3, size=patients)
    return pd.DataFrame(
        {
            "time": np.round(np.minimum(event_time, censor_time), 4) + 1e-4,
            "event": (event_time <= censor_time).astype(int),
            "x": x,
            "group": group,
            "stratum": np.arange(patients) % 4 + 1,
        }
    )


def simulate_lesions(lesions: int, per_patient: int, rng: np.random.Generator) -> pd.DataFrame:
    """y = 1 + 0.5 x + u_patient + e, u ~ N(0, 0.6^2), e ~ N(0, 0.4^2)."""
    patients = lesions // per_patient
    patient = np.repeat(np.arange(patients), per_patient)
    x = rng.normal(size=patients * per_patient)
    y = 1 + 0.5 * x + rng.normal(0, 0.6, patients)[patient] + rng.normal(0, 0.4, patients * per_patient)
    return pd.DataFrame({"patient": patient, "x": x, "y": y})


def fit_cox(cox_data: pd.DataFrame) -> dict:
    """The survival stage's Cox fitter (three fits) and lifelines (Efron), each timed."""
    from lifelines import CoxPHFitter

    from contexture.stats.survival import cox_fit

    time_, event, x = cox_data["time"].to_numpy(), cox_data["event"].to_numpy(), cox_data[["x", "group"]].to_numpy()
    fits = {
        "cox": {"ties": "efron"},
        "cox_breslow": {"ties": "breslow"},
        "cox_strata": {"ties": "efron", "strata": cox_data["stratum"].to_numpy()},
    }
    result = {}
    for name, options in fits.items():
        start = time.perf_counter()
        fit = cox_fit(time_, event, x, **options)
        result[f"{name}_seconds"] = time.perf_counter() - start
        result[name] = list(fit.coef)
    start = time.perf_counter()
    lifelines = CoxPHFitter().fit(cox_data[["time", "event", "x", "group"]], duration_col="time", event_col="event")
    result["cox_lifelines_seconds"] = time.perf_counter() - start
    result["cox_lifelines"] = [lifelines.params_["x"], lifelines.params_["group"]]
    return result


def fit_python(cox_data: pd.DataFrame, mixed_data: pd.DataFrame) -> dict:
    import statsmodels.formula.api as smf

    cox = fit_cox(cox_data)
    start = time.perf_counter()
    mixed = smf.mixedlm("y ~ x", mixed_data, groups=mixed_data["patient"]).fit(reml=True)
    mixed_seconds = time.perf_counter() - start
    # The fitter the PET stage actually uses (contexture.pet.models: lme4's profiled
    # REML criterion on per-patient sums), on the same data.
    from contexture.stats.mixed import fit_random_intercepts

    start = time.perf_counter()
    ours = fit_random_intercepts(
        mixed_data["y"], mixed_data[["x"]].assign(Intercept=1.0)[["Intercept", "x"]], mixed_data["patient"], reml=True
    )
    ours_seconds = time.perf_counter() - start
    return {
        **cox,
        "mixed_seconds": mixed_seconds,
        "mixed_contexture_seconds": ours_seconds,
        "mixed_contexture": [ours.params["Intercept"], ours.params["x"], ours.var_patient, ours.var_residual],
        "mixed": [mixed.fe_params["Intercept"], mixed.fe_params["x"], float(mixed.cov_re.iloc[0, 0]), mixed.scale],
    }


def fit_r(cox_path: Path, mixed_path: Path, folder: Path) -> dict:
    script = folder / "fit.R"
    script.write_text(R_SCRIPT)
    result = subprocess.run(
        ["Rscript", str(script), str(cox_path), str(mixed_path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not installed"
    check = subprocess.run(
        ["Rscript", "-e", "library(survival); library(lme4)"], capture_output=True, text=True, check=False
    )
    return None if check.returncode == 0 else "R packages survival and lme4 needed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--small", action="store_true", help="mixed models on 10,000 lesions (Cox stays at 100,000, the target's size)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    # Cox is held to coxph at 100,000 rows (issue 21), and both fitters take well under a
    # second there, so make bench measures that size; statsmodels' MixedLM is what is slow.
    cox_size = 100_000
    size = 10_000 if args.small else 100_000
    rows = []

    def add(metric, value, unit="", target="", met=""):
        if isinstance(value, float):
            value = f"{value:.3g}"
        rows.append(
            {"benchmark": "r_comparison", "metric": metric, "value": value, "unit": unit, "target": target, "met": met}
        )

    missing = r_missing()
    if missing:
        for metric in ("cox_python_over_r", "mixed_python_over_r"):
            add(f"{metric} ({missing})", "", "ratio", "", "not measured")
    else:
        rng = np.random.default_rng(20240901)
        cox_data = simulate_survival(cox_size, rng)
        mixed_data = simulate_lesions(size, 5, rng)
        with tempfile.TemporaryDirectory(prefix="contexture-r-") as folder:
            folder = Path(folder)
            cox_path, mixed_path = folder / "cox.tsv", folder / "mixed.tsv"
            # Both sides fit exactly the same numbers: Python reads back what R reads.
            cox_data.to_csv(cox_path, sep="\t", index=False, float_format="%.17g")
            mixed_data.to_csv(mixed_path, sep="\t", index=False, float_format="%.17g")
            cox_data = pd.read_csv(cox_path, sep="\t")
            mixed_data = pd.read_csv(mixed_path, sep="\t")
            python = fit_python(cox_data, mixed_data)
            r = fit_r(cox_path, mixed_path, folder)
        r["mixed_contexture_seconds"], r["mixed_contexture"] = r["mixed_seconds"], r["mixed"]
        r["cox_lifelines_seconds"], r["cox_lifelines"] = r["cox_seconds"], r["cox"]
        for model, label in (
            ("cox", f"cox_{cox_size}_patients_efron_contexture"),
            ("cox_breslow", f"cox_{cox_size}_patients_breslow_contexture"),
            ("cox_strata", f"cox_{cox_size}_patients_efron_4_strata_contexture"),
            ("cox_lifelines", f"cox_{cox_size}_patients_efron_lifelines"),
            ("mixed", f"random_intercept_{size}_lesions_statsmodels"),
            ("mixed_contexture", f"random_intercept_{size}_lesions_contexture"),
        ):
            ratio = python[f"{model}_seconds"] / max(r[f"{model}_seconds"], 1e-3)
            difference = float(np.max(np.abs(np.array(python[model]) - np.array(r[model]))))
            add(f"{label}_python_seconds", python[f"{model}_seconds"], "s")
            add(f"{label}_r_seconds", r[f"{model}_seconds"], "s")
            # The survival stage's Cox fitter is held to coxph's speed (issue 21); the
            # others are reported without a target.
            contexture_cox = model.startswith("cox") and label.endswith("_contexture")
            target = f"<= {COX_RATIO_TARGET:g}" if contexture_cox else ""
            met = ("yes" if ratio <= COX_RATIO_TARGET else "no") if contexture_cox else ""
            add(f"{label}_python_over_r", ratio, "ratio", target, met)
            agreement = COX_AGREEMENT_TARGET if contexture_cox else AGREEMENT_TARGET
            agree = difference <= agreement
            add(
                f"{label}_max_coefficient_difference",
                difference,
                "",
                f"<= {agreement:g}",
                "yes" if agree else "no",
            )
            print(
                f"{label}: python {python[f'{model}_seconds']:.2f} s, R {r[f'{model}_seconds']:.2f} s, "
                f"ratio {ratio:.2f}, max coefficient difference {difference:.2e}",
                flush=True,
            )

    write_results("r_comparison", rows, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
