"""SITC resistance categories (Kluger et al. JITC 2020, Table 1), one hand-made patient each."""

import pandas as pd
import pytest

from contexture.response import evaluate
from contexture.response.sitc import classify_resistance
from tests.unit.response.test_recist import table, targets


def scans(patient, *points):
    """points: (day, diameter) of one 50-mm target; diameter > 60 is PD against a 50-mm nadir."""
    rows = targets(patient, -7, 50)
    for day, diameter in points:
        rows += targets(patient, day, diameter)
    return rows


PATIENTS = {
    # PD at day 56 (exposure 8 weeks), confirmed by PD at day 112.
    "primary": scans("primary", (56, 70), (112, 80)),
    # SD at 56, PD at 112 (< 6 months): primary; the day-140 scan (28 days later) refutes it.
    "primary_sd": scans("primary_sd", (56, 48), (112, 62), (140, 45)),
    # Confirmed PR, PD at day 224 (>= 6 months exposure): secondary, no confirmatory scan.
    "secondary": scans("secondary", (56, 30), (112, 30), (168, 30), (224, 40)),
    # SD lasting to day 224 (>= 6 months) then PD: secondary.
    "secondary_sd": scans("secondary_sd", (56, 48), (112, 48), (168, 48), (224, 62), (252, 70)),
    # PD on day 28 (< 6 weeks of exposure): not evaluable.
    "early": scans("early", (28, 70)),
    # Confirmed PR, treatment stopped day 150, PD day 224 (74 days later, <= 12 weeks):
    # after stopping, secondary class? exposure 150 < 6 months -> not evaluable instead.
    "stop_short": scans("stop_short", (56, 30), (112, 30), (224, 40)),
    # SD, last dose day 100, PD at day 168 (68 days later, < 6 months): after stopping, primary.
    "after_stopping": scans("after_stopping", (56, 48), (112, 48), (168, 62)),
    # Last dose day 30, PD at day 168 (> 12 weeks later): late progression, not resistance.
    "late": scans("late", (56, 48), (112, 48), (168, 62)),
    # No progression.
    "none": scans("none", (56, 30), (112, 30)),
}
END = {"stop_short": 150, "after_stopping": 100, "late": 30}


@pytest.fixture(scope="module")
def features():
    rows = [row for patient_rows in PATIENTS.values() for row in patient_rows]
    clinical = pd.DataFrame({"patient_id": list(PATIENTS), "treatment_end_day": [END.get(p) for p in PATIENTS]})
    _, features = evaluate(table(rows), clinical.astype({"treatment_end_day": float}))
    return features.set_index("patient_id")


@pytest.mark.parametrize(
    ("patient", "bor", "resistance", "klass", "confirmed"),
    [
        ("primary", "PD", "primary", "primary", True),
        ("primary_sd", "SD", "primary", "primary", False),
        ("secondary", "PR", "secondary", "secondary", None),
        ("secondary_sd", "SD", "secondary", "secondary", True),
        ("early", "PD", "not_evaluable", None, None),
        ("stop_short", "PR", "not_evaluable", None, None),
        ("after_stopping", "SD", "after_stopping", "primary", None),
        ("late", "SD", "none", None, None),
        ("none", "PR", "none", None, None),
    ],
)
def test_each_category(features, patient, bor, resistance, klass, confirmed):
    row = features.loc[patient]
    assert row["bor"] == bor
    assert row["resistance"] == resistance
    assert (row["resistance_class"] if pd.notna(row["resistance_class"]) else None) == klass
    assert (bool(row["resistance_confirmed"]) if pd.notna(row["resistance_confirmed"]) else None) == confirmed


def test_after_stopping_secondary_and_configurable_limits():
    bor = pd.Series(["CR", "SD", "PD"], index=["a", "b", "c"])
    pd_day = pd.Series([300.0, 150.0, 35.0], index=bor.index)
    end = pd.Series([250.0, None, None], index=bor.index, dtype=float)
    out = classify_resistance(bor, pd_day, end)
    assert out["resistance"].tolist() == ["after_stopping", "primary", "not_evaluable"]
    assert out["resistance_class"].tolist()[:2] == ["secondary", "primary"]
    assert out["exposure_days"].tolist() == [250, 150, 35]
    # With a 4-week exposure floor the day-35 PD is primary; with a 4-month SD limit, 150 days is long SD.
    out = classify_resistance(
        bor, pd_day, end, primary_min_exposure_days=28, long_sd_days=120, secondary_min_exposure_days=120
    )
    assert out["resistance"].tolist() == ["after_stopping", "secondary", "primary"]
