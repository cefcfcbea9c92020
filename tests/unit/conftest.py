"""Unit-test fixtures shared by the stage packages' tests."""

from __future__ import annotations

import copy

import pytest

from contexture.config import validate_config


@pytest.fixture
def cohort_config():
    """Factory: a cohort's config section as the workflow sees it (schema defaults filled in).

    ``cohort_config({"response": {"confirmation_days": 35}})`` validates a one-cohort
    config (a clinical path stands in for the inputs) and returns the cohort's section.
    """

    def make(options: dict | None = None) -> dict:
        cohort = {"clinical": "clinical.tsv", **copy.deepcopy(options or {})}
        config = validate_config({"cohorts": {"c": cohort}})
        return config["cohorts"]["c"]

    return make
