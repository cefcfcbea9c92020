"""Response stage: RECIST 1.1, iRECIST, SITC resistance, response rates, figures, classifier.

:func:`evaluate` is the stage's entry point: from the validated measurement table (and
the clinical table for the last-dose day) it returns the per-assessment table
(``tables/recist_timepoints.tsv``) and the patient features (``bor``, ``bor_irecist``,
``resistance``, ``resistance_class``, ``resistance_confirmed``, ``responder``,
``best_pct_change``). Methods and citations: the submodules and docs/response.md.

Entry points of the scripts: :func:`assess` (rule ``response_recist``),
:func:`response_figures` (rule ``response_figures``) and :func:`classify` (rule
``response_classifier``).
"""

from __future__ import annotations

import pandas as pd

from contexture.errors import raise_problems
from contexture.response import figures
from contexture.response.classifier import evaluate_classifier
from contexture.response.irecist import best_irecist_response, irecist_responses
from contexture.response.recist import (
    TIMEPOINT_COLUMNS,
    best_overall_response,
    best_percent_change,
    check_measurements,
    response_rates,
    timepoint_responses,
)
from contexture.response.sitc import resistance_from_timepoints

DEFAULT_RESPONDER = ("CR", "PR", "SD", "NON-CR/NON-PD")
FEATURE_COLUMNS = [
    "patient_id",
    "bor",
    "bor_irecist",
    "resistance",
    "resistance_class",
    "resistance_confirmed",
    "responder",
    "best_pct_change",
]


def evaluate(
    measurements: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    options: dict | None = None,
    *,
    file: str = "RECIST table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(timepoints, features)`` for a typed RECIST table.

    ``options`` is the cohort's ``response`` config section (defaults as in
    ``workflow/schemas/cohort/response.schema.yaml``). Raises
    :class:`contexture.errors.InputError` listing every cross-row problem of the table.
    """
    options = dict(options or {})
    raise_problems(check_measurements(measurements, file), f"RECIST table '{file}'")
    bor_options = {
        "confirmation": options.get("confirmation", True),
        "min_sd_days": options.get("min_sd_days", 42),
        "confirmation_days": options.get("confirmation_days", 28),
        "max_ne_between": options.get("max_ne_between", 1),
    }
    timepoints = timepoint_responses(measurements)
    timepoints["irecist_response"] = irecist_responses(timepoints)
    bor = best_overall_response(timepoints, **bor_options)
    bor_i = best_irecist_response(timepoints, **bor_options)

    end = None
    if clinical is not None and "treatment_end_day" in clinical.columns:
        end = clinical.set_index(clinical["patient_id"].astype(str))["treatment_end_day"].astype(float)
    resistance = resistance_from_timepoints(timepoints, bor, end, **options.get("resistance", {}))

    responder_set = set(options.get("responder", DEFAULT_RESPONDER))
    responder = bor.isin(responder_set).astype("boolean").where(bor != "NE")
    features = pd.DataFrame(
        {
            "bor": bor,
            "bor_irecist": bor_i,
            "resistance": resistance["resistance"],
            "resistance_class": resistance["resistance_class"],
            "resistance_confirmed": resistance["resistance_confirmed"],
            "responder": responder,
            "best_pct_change": best_percent_change(timepoints),
        }
    )
    features = features.rename_axis("patient_id").reset_index()[FEATURE_COLUMNS]
    columns = TIMEPOINT_COLUMNS + ["irecist_response"]
    return timepoints[columns], features


def assess(
    measurements: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    options: dict | None = None,
    *,
    file: str = "RECIST table",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(timepoints, features, rates)``: :func:`evaluate` and the response rates of its features.

    ``rates``: :func:`contexture.response.recist.response_rates`
    (``tables/response_rates.tsv``).
    """
    timepoints, features = evaluate(measurements, clinical, options, file=file)
    return timepoints, features, response_rates(features)


def response_figures(
    timepoints: pd.DataFrame,
    features: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    labels: dict | None = None,
) -> dict:
    """``{"waterfall", "spider", "swimmer": (figure, source)}`` of the RECIST results.

    Tables as rule ``response_recist`` writes them; ``clinical`` (optional) gives the
    swimmer plot's follow-up (:mod:`contexture.response.figures`); ``labels`` the
    cohort's display names (:func:`contexture.plotting.display_label`).
    """
    return {
        "waterfall": figures.waterfall(features, timepoints, labels),
        "spider": figures.spider(timepoints, features, labels),
        "swimmer": figures.swimmer(timepoints, features, clinical, labels),
    }


def classify(patients: pd.DataFrame, options: dict, seed: int):
    """``(table, (figure, source))``: the cross-validated response classifier and its ROC curve.

    ``options`` is the cohort's ``response.classifier`` section: ``features`` lists the
    candidate baseline features, the other keys go to
    :func:`contexture.response.classifier.evaluate_classifier`.
    """
    options = dict(options)
    features = options.pop("features")
    table, roc = evaluate_classifier(patients, features, seed=seed, **options)
    return table, figures.roc_figure(roc, table)
