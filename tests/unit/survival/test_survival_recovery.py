"""Recovery: the simulated HR per SD decrease of baseline geometric mean SUVmax is in the CI."""

import pytest

from contexture import DAYS_PER_MONTH
from contexture.simulate import simulate_latent
from contexture.survival import analysis as sv

pytestmark = pytest.mark.recovery


@pytest.mark.parametrize("seed", [11, 12])
def test_hr_per_sd_decrease_is_recovered(seed):
    latent, _, truth = simulate_latent(patients=2000, seed=seed)
    patients = latent.rename(columns={"geomean_suvmax_baseline": "pet_geomean_suvmax_baseline"})
    for endpoint in sv.ENDPOINTS:
        patients[f"{endpoint}_months"] = patients[f"{endpoint}_days"] / DAYS_PER_MONTH
    options = sv.SurvivalOptions.from_config(
        {"stratifiers": [], "cox": {"univariable": ["pet_geomean_suvmax_baseline"], "scale": "sd_decrease"}}
    )
    cox = sv.analyse(patients, options)["cox"].set_index("endpoint")
    for endpoint in sv.ENDPOINTS:
        row = cox.loc[endpoint]
        expected = truth["survival"]["hr_per_sd_decrease"][endpoint]
        assert row["scale"] == "per SD decrease" and row["n"] == 2000
        assert row["ci_low"] <= expected <= row["ci_high"], (endpoint, row[["hr", "ci_low", "ci_high"]].tolist())
        assert row["sd"] == pytest.approx(truth["survival"]["sd_of_covariate"])
        # Simulated hazards are proportional: the cox.zph test should rarely reject.
        assert row["ph_p"] > 0.001
