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
    # PD at day 56 (exposure 8 weeks), confirmed at day 112 (+10 mm over the iUPD: iCPD).
    "primary": scans("primary", (56, 70), (112, 80)),
    # SD at 56, PD at 112 (< 6 months), confirmed 28 days later (+8 mm): primary.
    "primary_sd": scans("primary_sd", (56, 48), (112, 62), (140, 70)),
    # Pseudoprogression: PD at 112 refuted 28 days later (45 mm, iUPD reset to iSD). Box 1
    # asks for confirmed progression: not resistance (was 'primary', unconfirmed).
    "pseudo": scans("pseudo", (56, 48), (112, 62), (140, 45)),
    # Confirmed PR, PD at day 224 confirmed at 252 (+10 mm): secondary.
    "secondary": scans("secondary", (56, 30), (112, 30), (168, 30), (224, 40), (252, 50)),
    # The same PD without a later scan: unconfirmed, a category of its own (was 'secondary').
    "unconfirmed": scans("unconfirmed", (56, 30), (112, 30), (168, 30), (224, 40)),
    # SD lasting to day 224 (>= 6 months) then PD, confirmed: secondary.
    "secondary_sd": scans("secondary_sd", (56, 48), (112, 48), (168, 48), (224, 62), (252, 70)),
    # PD on day 28 (< 6 weeks of exposure), confirmed: not evaluable.
    "early": scans("early", (28, 70), (56, 80)),
    # Confirmed PR lost at 5 months (day 152), confirmed at 182: secondary by the seed's
    # Box 1 (progression after CR/PR); not evaluable with Kluger 2020's 6-month exposure.
    "pr_lost_5_months": scans("pr_lost_5_months", (56, 30), (112, 30), (152, 40), (182, 50)),
    # Confirmed PR, last dose day 150, PD day 224 (74 days later, <= 12 weeks), confirmed:
    # after stopping, class secondary (seed); Kluger 2020: exposure 150 < 6 months.
    "stop_short": scans("stop_short", (56, 30), (112, 30), (224, 40), (252, 50)),
    # SD, last dose day 100, PD at day 168 (68 days later, < 6 months), confirmed: after stopping, primary.
    "after_stopping": scans("after_stopping", (56, 48), (112, 48), (168, 62), (196, 70)),
    # Last dose day 30, PD at day 168 (> 12 weeks later): late progression, not resistance.
    "late": scans("late", (56, 48), (112, 48), (168, 62)),
    # Pseudoprogression at 56, confirmed PR, then real progression at 224 confirmed at 252:
    # the progression that counts is the second; the response before it (PR) makes it secondary.
    "pseudo_then_real": scans("pseudo_then_real", (56, 65), (112, 30), (168, 28), (224, 40), (252, 50)),
    # PD on day 28 without a later scan: before 6 weeks of exposure, not evaluable even if
    # it were confirmed, so not 'unconfirmed'.
    "early_unconfirmed": scans("early_unconfirmed", (28, 70)),
    # No progression.
    "none": scans("none", (56, 30), (112, 30)),
}
END = {"stop_short": 150, "after_stopping": 100, "late": 30}


def run_cohort(options=None):
    rows = [row for patient_rows in PATIENTS.values() for row in patient_rows]
    clinical = pd.DataFrame({"patient_id": list(PATIENTS), "treatment_end_day": [END.get(p) for p in PATIENTS]})
    _, features = evaluate(table(rows), clinical.astype({"treatment_end_day": float}), options)
    return features.set_index("patient_id")


@pytest.fixture(scope="module")
def features():
    return run_cohort()


@pytest.fixture(scope="module")
def kluger():
    return run_cohort({"resistance": {"definition": "kluger2020"}})


CASES = [
    ("primary", "PD", "primary", "primary", True),
    ("primary_sd", "SD", "primary", "primary", True),
    ("pseudo", "SD", "none", None, False),
    ("secondary", "PR", "secondary", "secondary", True),
    ("unconfirmed", "PR", "unconfirmed", None, None),
    ("secondary_sd", "SD", "secondary", "secondary", True),
    ("early", "PD", "not_evaluable", None, True),
    ("pr_lost_5_months", "PR", "secondary", "secondary", True),
    ("stop_short", "PR", "after_stopping", "secondary", True),
    ("after_stopping", "SD", "after_stopping", "primary", True),
    ("late", "SD", "none", None, None),
    ("pseudo_then_real", "PD", "secondary", "secondary", True),
    ("early_unconfirmed", "PD", "not_evaluable", None, None),
    ("none", "PR", "none", None, None),
]


def check(row, bor, resistance, klass, confirmed):
    assert row["bor"] == bor
    assert row["resistance"] == resistance
    assert (row["resistance_class"] if pd.notna(row["resistance_class"]) else None) == klass
    assert (bool(row["resistance_confirmed"]) if pd.notna(row["resistance_confirmed"]) else None) == confirmed


@pytest.mark.parametrize(("patient", "bor", "resistance", "klass", "confirmed"), CASES)
def test_each_category(features, patient, bor, resistance, klass, confirmed):
    """Seed Box 1 definitions (the default)."""
    check(features.loc[patient], bor, resistance, klass, confirmed)


KLUGER = {
    "pr_lost_5_months": ("not_evaluable", None),
    "stop_short": ("not_evaluable", None),
}


@pytest.mark.parametrize(("patient", "bor", "resistance", "klass", "confirmed"), CASES)
def test_each_category_kluger2020(kluger, patient, bor, resistance, klass, confirmed):
    """Kluger 2020 Table 1: secondary resistance needs >= 6 months of exposure."""
    resistance, klass = KLUGER.get(patient, (resistance, klass))
    check(kluger.loc[patient], bor, resistance, klass, confirmed)


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
        bor,
        pd_day,
        end,
        primary_min_exposure_days=28,
        long_sd_days=120,
        secondary_min_exposure_days=120,
        definition="kluger2020",
    )
    assert out["resistance"].tolist() == ["after_stopping", "secondary", "primary"]
