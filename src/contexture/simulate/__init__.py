"""The demo-cohort simulator: a latent patient model and the raw files it implies.

:func:`simulate_latent` draws patients and baseline lesions from a model calibrated to
the published CD8-PET study of 89ZED88082A (38 patients, ~7 baseline lesions each,
overall geometric mean SUVmax 5.6, per-patient median 5.2 (IQI 4.0-7.4), ICC 0.46,
OS HR 1.59 per SD decrease of baseline geometric mean SUVmax; lesion sites lymph node
99, liver 35, lung 42, bone 17, skin 19 of 212; best overall response CR/PR/SD/PD
4/8/4/19 of 35 evaluable). Each modality's simulator (``contexture.simulate.<modality>``)
turns the latent tables into that modality's raw files in the field's own formats.

The model (log SUVmax of lesion j in patient i, site s, dMMR status d_i):

    log SUVmax_ij = mu + site_s + delta * d_i + b_i + e_ij,   b_i ~ N(0, sigma_b^2),
                                                             e_ij ~ N(0, sigma_e^2)

with site effects centred on the site mix, and sigma_b, sigma_e solved so that the ICC
of a random-intercept model *without* covariates is the target (dMMR variance counts as
between-patient, site variance as within-patient) and the per-patient geometric mean
has the published interquartile spread. Survival (PFS and OS) is exponential with
proportional hazards in the standardized observed baseline geometric mean SUVmax, the
same log-HR for both, so PFS = min(progression, death) stays proportional-hazards with
that HR exactly. Best response follows the first assessment (PD when progression
precedes week 8) and, for the others, a latent response propensity correlated with
uptake. Site effects, dMMR effect and on-treatment changes are illustrative choices,
recorded in ``truth.yaml`` so tests can check that analyses recover them.
"""

from __future__ import annotations

__all__ = ["SITE_COUNTS", "TARGETS", "clinical_table", "simulate_latent", "variance_components", "write_latent_cohort"]

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special  # ndtri: the normal quantile (what scipy.stats.norm.ppf calls), without importing scipy.stats

from contexture.io import write_table, write_yaml
from contexture.pet.features import GEOMEAN_SUVMAX_COLUMN, geometric_mean_suvmax

SITE_COUNTS = {"lymph_node": 99, "liver": 35, "lung": 42, "bone": 17, "skin": 19}
# Illustrative site effects on log SUVmax before centring (lymphoid tissue is CD8-rich).
SITE_EFFECTS_RAW = {"lymph_node": 0.20, "liver": -0.10, "lung": -0.25, "bone": 0.05, "skin": -0.15}
TARGETS = {
    "geometric_mean_suvmax": 5.6,
    "icc": 0.46,
    "patient_geomean_iqi": (4.0, 7.4),
    "lesions_per_patient": 7.0,
    "dmmr_fraction": 0.25,
    "dmmr_effect_log": 0.5,
    "hr_per_sd_decrease": 1.6,
    "bor_counts": {"CR": 4, "PR": 8, "SD": 4, "PD": 19},
    "not_evaluable_fraction": 3 / 38,
    "on_treatment_fraction": 0.6,
    "biopsy_fraction": 0.7,
    "ihc_phenotype_fractions": {"desert": 0.30, "stromal": 0.35, "inflamed": 0.35},
}
FIRST_ASSESSMENT_DAY = 56  # week 8: first RECIST assessment in the simulated schedule
# Uptake change per week on treatment (log scale), by response group; illustrative.
CHANGE_PER_WEEK_LOG = {"responder": 0.06, "non_responder": 0.0}
VOLUME_CHANGE_PER_WEEK_LOG = {"responder": -0.05, "non_responder": 0.04}
MEDIAN_MONTHS_AT_MEAN = {"pfs": 2.0, "os": 12.0}
START = np.datetime64("2019-01-07")


def variance_components(targets: dict = TARGETS) -> dict:
    """Solve sigma_b^2 and sigma_e^2 for the target ICC and per-patient geomean spread.

    The interquartile interval (q1, q3) of per-patient geometric means gives the SD of
    their logs as ln(q3/q1) / (2 * 0.6745); that variance equals
    between + within / m for m lesions per patient, and between / (between + within) is
    the ICC.
    """
    q1, q3 = targets["patient_geomean_iqi"]
    sd_log_geomean = math.log(q3 / q1) / (2 * special.ndtri(0.75))
    icc, m = targets["icc"], targets["lesions_per_patient"]
    total = sd_log_geomean**2 / (icc + (1 - icc) / m)
    weights = np.array(list(SITE_COUNTS.values()), float)
    weights /= weights.sum()
    raw = np.array(list(SITE_EFFECTS_RAW.values()))
    centred = raw - weights @ raw
    site_variance = float(weights @ centred**2)
    pi, delta = targets["dmmr_fraction"], targets["dmmr_effect_log"]
    sigma_b2 = icc * total - delta**2 * pi * (1 - pi)
    sigma_e2 = (1 - icc) * total - site_variance
    return {
        "sigma_b": math.sqrt(sigma_b2),
        "sigma_e": math.sqrt(sigma_e2),
        "site_effects": dict(zip(SITE_COUNTS, centred.round(12).tolist(), strict=True)),
        "intercept": math.log(targets["geometric_mean_suvmax"]) - pi * delta,
        "total_variance": total,
    }


def _patient_ids(n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"P{i:0{width}d}" for i in range(1, n + 1)]


def simulate_latent(patients: int = 38, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Draw the latent cohort: patient table, baseline + on-treatment lesion table, truth.

    Deterministic for a given (patients, seed). Returns ``(patients, lesions, truth)``.
    """
    rng = np.random.default_rng(seed)
    components = variance_components()
    ids = _patient_ids(patients)
    n = patients

    dmmr = rng.random(n) < TARGETS["dmmr_fraction"]
    random_intercept = rng.normal(0.0, components["sigma_b"], n)
    patient_effect = TARGETS["dmmr_effect_log"] * dmmr + random_intercept
    lesion_counts = 1 + rng.poisson(TARGETS["lesions_per_patient"] - 1, n)

    # Lesions: site, volume and log SUVmax.
    owner = np.repeat(np.arange(n), lesion_counts)
    sites = np.array(list(SITE_COUNTS))
    site_p = np.array(list(SITE_COUNTS.values()), float) / sum(SITE_COUNTS.values())
    site = rng.choice(sites, size=owner.size, p=site_p)
    site_effect = np.array([components["site_effects"][s] for s in site])
    log_suvmax = (
        components["intercept"] + site_effect + patient_effect[owner] + rng.normal(0, components["sigma_e"], owner.size)
    )
    volume_ml = np.exp(rng.normal(math.log(3.0), 0.8, owner.size)).clip(0.5, 150)
    irradiated = rng.random(owner.size) < 0.03
    lesion_index = np.concatenate([np.arange(1, k + 1) for k in lesion_counts])

    # Observed baseline geometric mean over non-irradiated lesions (the study's measure).
    frame = pd.DataFrame({"owner": owner, "log_suvmax": log_suvmax, "irradiated": irradiated})
    # A patient whose every lesion is irradiated still needs a latent value: all lesions count.
    means = geometric_mean_suvmax(frame, irradiated="exclude_unless_all", patient_column="owner")
    geomean = means["geomean_suvmax"].reindex(np.arange(n)).to_numpy()
    geomean_z = (geomean - geomean.mean()) / geomean.std(ddof=1)

    # Survival: exponential PH, log-HR per SD *decrease* of the geometric mean.
    beta = math.log(TARGETS["hr_per_sd_decrease"])
    linear_predictor = -beta * geomean_z
    months = {}
    for endpoint in ("pfs", "os"):
        rate = math.log(2) / MEDIAN_MONTHS_AT_MEAN[endpoint] * np.exp(linear_predictor)
        months[endpoint] = rng.exponential(1.0 / rate)
    censor_months = rng.uniform(12, 36, n)
    death_months = months["os"]
    progression_months = months["pfs"]
    os_months = np.minimum(death_months, censor_months)
    os_event = death_months <= censor_months
    pfs_raw = np.minimum(progression_months, death_months)
    pfs_months = np.minimum(pfs_raw, censor_months)
    pfs_event = pfs_raw <= censor_months
    progressed = pfs_event & (progression_months <= death_months)

    def to_days(m: np.ndarray) -> np.ndarray:
        return np.maximum(1, np.round(m * 30.4375)).astype(int)

    os_days, pfs_days = to_days(os_months), to_days(pfs_months)
    pfs_days = np.minimum(pfs_days, os_days)

    # Best overall response: PD when progression/death precedes the first assessment;
    # otherwise by a response propensity correlated with uptake (CR > PR > SD).
    counts = TARGETS["bor_counts"]
    propensity = 0.8 * geomean_z + rng.normal(0, 1, n)
    early_pd = pfs_event & (pfs_days < FIRST_ASSESSMENT_DAY)
    non_pd = counts["SD"] + counts["PR"] + counts["CR"]
    # Cut the propensity at its empirical quantiles among non-PD patients, so even a
    # 38-patient cohort has the published SD : PR : CR proportions.
    eligible = propensity[~early_pd] if (~early_pd).any() else propensity
    cut_sd = np.quantile(eligible, counts["SD"] / non_pd)
    cut_pr = np.quantile(eligible, (counts["SD"] + counts["PR"]) / non_pd)
    bor = np.where(propensity < cut_sd, "SD", np.where(propensity < cut_pr, "PR", "CR")).astype(object)
    bor[early_pd] = "PD"
    # SD/PR/CR patients who progress later keep their best response (RECIST 1.1 §4.4).
    not_evaluable = rng.random(n) < TARGETS["not_evaluable_fraction"]
    bor[not_evaluable] = "NE"
    responder = np.isin(bor, ["CR", "PR", "SD"])

    # IHC phenotype from latent CD8 infiltration (patient effect + biopsy sampling noise).
    infiltration = patient_effect + rng.normal(0, 0.3, n)
    infiltration_z = (infiltration - patient_effect.mean()) / math.sqrt(patient_effect.var() + 0.09)
    fractions = TARGETS["ihc_phenotype_fractions"]
    cut_desert = special.ndtri(fractions["desert"])
    cut_stromal = special.ndtri(fractions["desert"] + fractions["stromal"])
    phenotype = np.where(
        infiltration_z < cut_desert, "desert", np.where(infiltration_z < cut_stromal, "stromal", "inflamed")
    )
    has_biopsy = rng.random(n) < TARGETS["biopsy_fraction"]

    # On-treatment PET at ~30 days for ~60% of patients (those still on study).
    # Patients alive at day 35 are scanned with a probability that makes ~60% overall.
    alive_at_scan = os_days > 35
    on_treatment = (rng.random(n) < TARGETS["on_treatment_fraction"] / max(alive_at_scan.mean(), 0.5)) & alive_at_scan
    on_treatment_day = np.where(on_treatment, rng.integers(25, 36, n), 0)

    baseline_scan_lead = rng.integers(1, 15, n)  # baseline PET 1-14 days before start
    group = np.where(responder, "responder", "non_responder")
    weeks = on_treatment_day[owner] / 7.0
    uptake_slope = np.array([CHANGE_PER_WEEK_LOG[g] for g in group])[owner]
    volume_slope = np.array([VOLUME_CHANGE_PER_WEEK_LOG[g] for g in group])[owner]
    on_log_suvmax = log_suvmax + uptake_slope * weeks + rng.normal(0, 0.15, owner.size)
    on_volume = volume_ml * np.exp(volume_slope * weeks + rng.normal(0, 0.1, owner.size))
    has_on = on_treatment[owner]

    tumor_types_pmmr = np.array(["melanoma", "nsclc", "rcc", "urothelial", "hnscc"])
    tumor_type = np.where(dmmr, rng.choice(["colorectal", "endometrial"], n), rng.choice(tumor_types_pmmr, n))
    diameter_mm = (6 * volume_ml * 1000 / math.pi) ** (1 / 3)
    burden = (
        pd.Series(diameter_mm)
        .groupby(owner)
        .apply(lambda d: np.sort(d.to_numpy())[-5:].sum())
        .reindex(np.arange(n))
        .to_numpy()
    )

    start = START + rng.integers(0, 730, n).astype("timedelta64[D]")
    treatment_end = np.where(progressed | ~os_event, np.minimum(pfs_days, 730), np.minimum(os_days, 730)).astype(float)
    treatment_end[~pfs_event & (pfs_days >= 730)] = np.nan

    patient_table = pd.DataFrame(
        {
            "patient_id": ids,
            "dmmr": dmmr,
            "tumor_type": tumor_type,
            "random_intercept": random_intercept,
            "patient_effect_log": patient_effect,
            "geomean_suvmax_baseline": geomean,
            "geomean_z": geomean_z,
            "bor": bor,
            "responder": responder,
            "ihc_phenotype": phenotype,
            "cd8_infiltration_z": infiltration_z,
            "has_biopsy": has_biopsy,
            "has_on_treatment_scan": on_treatment,
            "on_treatment_scan_day": np.where(on_treatment, on_treatment_day, np.nan),
            "treatment_start_date": start.astype(str),
            "pfs_days": pfs_days,
            "pfs_event": pfs_event.astype(int),
            "progressed": progressed,
            "os_days": os_days,
            "os_event": os_event.astype(int),
            "treatment_end_day": treatment_end,
            "tumor_burden": burden,
            "weight_kg": rng.normal(75, 14, n).clip(45, 130).round(1),
            "age": rng.normal(63, 10, n).clip(25, 90).round(0),
            "sex": rng.choice(["F", "M"], n),
            "irae_grade_max": rng.choice([0, 1, 2, 3, 4], n, p=[0.45, 0.25, 0.15, 0.12, 0.03]),
        }
    )
    lesion_ids = [f"{ids[o]}-L{k:02d}" for o, k in zip(owner, lesion_index, strict=True)]
    baseline = pd.DataFrame(
        {
            "patient_id": [ids[o] for o in owner],
            "lesion_id": lesion_ids,
            "site": site,
            "irradiated": irradiated,
            "timepoint": "baseline",
            "scan_day": -baseline_scan_lead[owner],
            "suvmax": np.exp(log_suvmax),
            "volume_ml": volume_ml,
        }
    )
    follow = pd.DataFrame(
        {
            "patient_id": baseline["patient_id"],
            "lesion_id": lesion_ids,
            "site": site,
            "irradiated": irradiated,
            "timepoint": "on_treatment",
            "scan_day": on_treatment_day[owner],
            "suvmax": np.exp(on_log_suvmax),
            "volume_ml": on_volume,
        }
    )[has_on]
    lesions = pd.concat([baseline, follow], ignore_index=True)
    lesions["diameter_mm"] = (6 * lesions["volume_ml"] * 1000 / math.pi) ** (1 / 3)

    truth = {
        "seed": seed,
        "patients": n,
        "model": "log SUVmax = intercept + site + dmmr_effect * dMMR + b_i + e_ij",
        "intercept": components["intercept"],
        "sigma_b": components["sigma_b"],
        "sigma_e": components["sigma_e"],
        "icc_without_covariates": TARGETS["icc"],
        "geometric_mean_suvmax": TARGETS["geometric_mean_suvmax"],
        "site_effects_log": components["site_effects"],
        "dmmr_effect_log": TARGETS["dmmr_effect_log"],
        "change_per_week_log": CHANGE_PER_WEEK_LOG,
        "volume_change_per_week_log": VOLUME_CHANGE_PER_WEEK_LOG,
        "survival": {
            "covariate": GEOMEAN_SUVMAX_COLUMN["baseline"],
            "hr_per_sd_decrease": {"pfs": TARGETS["hr_per_sd_decrease"], "os": TARGETS["hr_per_sd_decrease"]},
            "sd_of_covariate": float(geomean.std(ddof=1)),
            "median_months_at_mean": MEDIAN_MONTHS_AT_MEAN,
        },
        "bor_targets_of_evaluable": counts,
        "ihc_phenotype_fractions": fractions,
    }
    return patient_table, lesions, truth


def clinical_table(latent: pd.DataFrame) -> pd.DataFrame:
    """The clinical table a site would deliver: dates, not the latent durations."""
    start = pd.to_datetime(latent["treatment_start_date"])
    death = start + pd.to_timedelta(latent["os_days"], unit="D")
    progression = start + pd.to_timedelta(latent["pfs_days"], unit="D")
    date = "%Y-%m-%d"
    return pd.DataFrame(
        {
            "patient_id": latent["patient_id"],
            "treatment_start_date": start.dt.strftime(date),
            "progression_date": progression.dt.strftime(date).where(latent["progressed"].astype(bool)),
            "death_date": death.dt.strftime(date).where(latent["os_event"] == 1),
            "last_followup_date": death.dt.strftime(date).where(latent["os_event"] == 0),
            "treatment_end_day": latent["treatment_end_day"],
            "dmmr": latent["dmmr"].map({True: "true", False: "false"}),
            "tumor_type": latent["tumor_type"],
            "tumor_burden": latent["tumor_burden"].round(1),
            "age": latent["age"].astype(int),
            "sex": latent["sex"],
            "weight_kg": latent["weight_kg"],
            "irae_grade_max": latent["irae_grade_max"],
        }
    )


def write_latent_cohort(raw_dir: str | Path, patients: int, seed: int) -> dict:
    """Write ``truth/patients.tsv``, ``truth/lesions.tsv``, ``truth.yaml`` and ``clinical.tsv``.

    Modality simulators read the two truth tables; analyses must never read them.
    Returns the truth dictionary.
    """
    raw_dir = Path(raw_dir)
    latent, lesions, truth = simulate_latent(patients, seed)
    write_table(latent, raw_dir / "truth" / "patients.tsv")
    write_table(lesions, raw_dir / "truth" / "lesions.tsv")
    write_yaml(truth, raw_dir / "truth.yaml")
    write_table(clinical_table(latent), raw_dir / "clinical.tsv")
    return truth
