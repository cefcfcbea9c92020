"""The one per-patient geometric mean SUVmax and the PET patient features, against hand values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from contexture.pet.features import GEOMEAN_SUVMAX_COLUMN, LESION_COUNT_COLUMN, geometric_mean_suvmax, patient_features
from contexture.pet.quantify import finish_lesions


def _lesions(patients, suvmax, irradiated):
    return pd.DataFrame(
        {"patient_id": patients, "log_suvmax": np.log(np.asarray(suvmax, float)), "irradiated": irradiated}
    )


def test_geometric_mean_by_hand():
    # A: sqrt(2 * 8) = 4; B: (1 * 3 * 9)^(1/3) = 3.
    table = _lesions(["A", "A", "B", "B", "B"], [2.0, 8.0, 1.0, 3.0, 9.0], [False] * 5)
    means = geometric_mean_suvmax(table, irradiated="exclude")
    assert means.loc["A", "geomean_suvmax"] == pytest.approx(4.0)
    assert means.loc["B", "geomean_suvmax"] == pytest.approx(3.0)
    assert means["lesions"].to_dict() == {"A": 2, "B": 3}


def test_irradiated_rules():
    # A: 2, 8 and an irradiated 100; C: only an irradiated 5.
    table = _lesions(["A", "A", "A", "C"], [2.0, 8.0, 100.0, 5.0], [False, False, True, True])
    exclude = geometric_mean_suvmax(table, irradiated="exclude")
    assert exclude.loc["A", "geomean_suvmax"] == pytest.approx(4.0)
    assert exclude.loc["A", "lesions"] == 2
    assert "C" not in exclude.index  # no non-irradiated lesion: no value
    include = geometric_mean_suvmax(table, irradiated="include")
    assert include.loc["A", "geomean_suvmax"] == pytest.approx((2.0 * 8.0 * 100.0) ** (1 / 3))
    assert include.loc["C", "geomean_suvmax"] == pytest.approx(5.0)
    fallback = geometric_mean_suvmax(table, irradiated="exclude_unless_all")
    assert fallback.loc["A", "geomean_suvmax"] == pytest.approx(4.0)  # has non-irradiated lesions
    assert fallback.loc["C", "geomean_suvmax"] == pytest.approx(5.0)  # all irradiated: all count
    assert fallback["lesions"].to_dict() == {"A": 2, "C": 1}


def test_without_irradiated_column_every_lesion_counts_and_rule_is_checked():
    table = _lesions(["A", "A"], [2.0, 8.0], [True, True]).drop(columns="irradiated")
    assert geometric_mean_suvmax(table, irradiated="exclude").loc["A", "geomean_suvmax"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="irradiated must be one of"):
        geometric_mean_suvmax(table, irradiated="sometimes")


def test_patient_features_geometric_mean_excludes_irradiated():
    lesions = finish_lesions(
        pd.DataFrame(
            {
                "patient_id": ["A", "A", "A", "A", "B"],
                "lesion_id": ["1", "2", "3", "1", "9"],
                "timepoint": ["baseline", "baseline", "baseline", "on_treatment", "baseline"],
                "scan_day": [-3, -3, -3, 30, -1],
                "site": ["liver"] * 5,
                "suvmax": [2.0, 8.0, 100.0, 5.0, 7.0],
                "irradiated": [False, False, True, False, True],
            }
        )
    )
    features = patient_features(lesions).set_index("patient_id")
    assert list(features.columns) == [
        GEOMEAN_SUVMAX_COLUMN["baseline"],
        LESION_COUNT_COLUMN["baseline"],
        GEOMEAN_SUVMAX_COLUMN["on_treatment"],
        LESION_COUNT_COLUMN["on_treatment"],
    ]
    assert features.loc["A", "pet_geomean_suvmax_baseline"] == pytest.approx(4.0)  # sqrt(2 * 8)
    assert features.loc["A", "pet_lesions_baseline"] == 2
    assert features.loc["A", "pet_geomean_suvmax_on_treatment"] == pytest.approx(5.0)
    assert math.isnan(features.loc["B", "pet_geomean_suvmax_baseline"])
    assert features.loc["B", "pet_lesions_baseline"] == 0
