"""Time the random-intercept model on 100,000 simulated lesions (issue 9).

Usage: .venv/bin/python benchmarks/pet_models.py [--lesions 100000] [--statsmodels]

Prints seconds for contexture's profiled-REML fit (and, with --statsmodels, for
statsmodels.MixedLM on the same data, ~25 s on 2 cores) and the ICC bootstrap.
"""

import argparse
import time

import numpy as np
import pandas as pd
from _results import write_results

from contexture.simulate import simulate_latent
from contexture.stats.mixed import bootstrap_icc, fit_random_intercepts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesions", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="10,000 lesions, 199 bootstrap replicates")
    parser.add_argument("--replicates", type=int, default=999)
    parser.add_argument("--statsmodels", action="store_true", help="also time statsmodels.MixedLM")
    args = parser.parse_args()
    if args.small:
        args.lesions, args.replicates = 10_000, 199
    timings = []
    patients = max(4, round(args.lesions / 7))  # ~7 baseline lesions per patient
    _, lesions, _ = simulate_latent(patients=patients, seed=1)
    baseline = lesions[lesions["timepoint"] == "baseline"].head(args.lesions)
    y, groups = np.log(baseline["suvmax"].to_numpy()), baseline["patient_id"].to_numpy()
    design = pd.DataFrame({"intercept": np.ones(y.size)})
    start = time.perf_counter()
    fit = fit_random_intercepts(y, design, groups)
    timings.append((f"random_intercept_fit_{y.size}_lesions", f"{time.perf_counter() - start:.3f}", "s"))
    print(f"contexture REML fit, {y.size} lesions in {fit.n_patients} patients: {time.perf_counter() - start:.2f} s")
    print(f"  intercept {fit.params['intercept']:.6f}  s_b^2 {fit.var_patient:.6f}  s_e^2 {fit.var_residual:.6f}")
    site = pd.get_dummies(baseline["site"]).astype(float)
    start = time.perf_counter()
    fit_random_intercepts(y, site, groups)
    timings.append(("site_model_fit", f"{time.perf_counter() - start:.3f}", "s"))
    print(f"contexture REML fit with site (5 levels): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    bootstrap_icc(fit, args.replicates, seed=1)
    timings.append((f"icc_bootstrap_{args.replicates}_replicates", f"{time.perf_counter() - start:.3f}", "s"))
    print(f"ICC parametric bootstrap, {args.replicates} replicates: {time.perf_counter() - start:.2f} s")
    if args.statsmodels:
        import statsmodels.api as sm

        start = time.perf_counter()
        reference = sm.MixedLM(y, design.to_numpy(), groups=groups).fit(reml=True)
        print(f"statsmodels MixedLM REML fit: {time.perf_counter() - start:.2f} s")
        print(f"  intercept {reference.fe_params[0]:.6f}  s_b^2 {np.asarray(reference.cov_re)[0, 0]:.6f}")

    write_results("pet_models", timings)


if __name__ == "__main__":
    main()
