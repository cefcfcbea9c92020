"""Response stage: RECIST 1.1, iRECIST, SITC resistance, response rates, figures, classifier.

:func:`evaluate` is the stage's entry point: from the validated measurement table (and
the clinical table for the last-dose day) it returns the per-assessment table
(``tables/recist_timepoints.tsv``) and the patient features (``bor``, ``bor_irecist``,
``resistance``, ``resistance_class``, ``resistance_confirmed``, ``responder``,
``best_pct_change``). Methods and citations: the submodules and docs/response.md.

Entry points of the scripts: :func:`read_measurements` and :func:`assess` (rule ``recist``),
:func:`response_figures` (rule ``response_figures``) and :func:`classify` (rule
``response_classifier``).
"""

from __future__ import annotations

__all__ = [
    "FEATURE_COLUMNS",
    "assess",
    "bor_settings",
    "classify",
    "evaluate",
    "read_measurements",
    "response_figures",
    "selection_warnings",
]

import logging
import os

import pandas as pd

from contexture.errors import raise_problems

# figures (matplotlib) and the classifier (scikit-learn) are imported by the entry points
# that use them, so the other jobs, and the stages that import FEATURE_COLUMNS, do not pay
# for them (contexture.lazy).
from contexture.response.irecist import IRECIST_COLUMNS, best_irecist_response, irecist_timepoints
from contexture.response.recist import (
    TIMEPOINT_COLUMNS,
    best_overall_response,
    best_percent_change,
    check_measurements,
    convert_units,
    header_unit_problems,
    response_rates,
    scale_diameters,
    selection_problems,
    target_selection_warnings,
    timepoint_responses,
    unit_problems,
)
from contexture.response.sitc import resistance_from_timepoints

log = logging.getLogger(__name__)

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


def read_measurements(path: str | os.PathLike, units: str = "mm") -> pd.DataFrame:
    """The RECIST measurement table, typed by its schema, diameters in millimetres.

    ``units`` is ``response.units``: with ``cm`` a ``diameter_cm`` (or ``cm``) column is
    read as the diameter and every diameter is multiplied by 10; with ``mm`` (default)
    such a header is refused, suggesting the unit (:func:`contexture.response.recist.header_unit_problems`).
    """
    from contexture.io import read_input_table
    from contexture.io.validation import load_schema, validate_frame

    text = read_input_table(path, what="RECIST table")
    raise_problems(header_unit_problems(text.columns, str(path), units), f"RECIST table '{path}'")
    typed, problems = validate_frame(convert_units(text, units), load_schema("tables/recist"), str(path))
    raise_problems(problems, f"RECIST table '{path}'")
    return scale_diameters(typed, units)


def bor_settings(options: dict) -> dict:
    """The best-overall-response options of a ``response`` config section (schema defaults)."""
    return {
        "confirmation": options.get("confirmation", True),
        "min_sd_days": options.get("min_sd_days", 42),
        "confirmation_days": options.get("confirmation_days", 28),
        "max_ne_between": options.get("max_ne_between", 1),
    }


def selection_warnings(measurements: pd.DataFrame, options: dict | None = None, *, file: str = "RECIST table"):
    """Target-selection warnings (RECIST 1.1 section 4.2), logged; raised with ``strict_selection``."""
    warnings = target_selection_warnings(measurements)
    if (options or {}).get("strict_selection", False):
        raise_problems(selection_problems(warnings, file), f"RECIST table '{file}' (response.strict_selection)")
    for row in warnings.itertuples(index=False):
        log.warning("RECIST target selection, patient %s, lesions %s: %s", row.patient_id, row.lesion_ids, row.detail)
    return warnings


def evaluate(
    measurements: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    options: dict | None = None,
    *,
    file: str = "RECIST table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(timepoints, features)`` for a typed RECIST table (diameters in mm).

    ``options`` is the cohort's ``response`` config section (defaults as in
    ``src/contexture/schemas/cohort/response.schema.yaml``). Raises
    :class:`contexture.errors.InputError` listing every cross-row problem of the table,
    and diameters that look like centimetres.
    """
    options = dict(options or {})
    raise_problems(check_measurements(measurements, file) + unit_problems(measurements, file), f"RECIST table '{file}'")
    bor_options = bor_settings(options)
    window = options.get("irecist", {})
    timepoints = timepoint_responses(measurements)
    irecist = irecist_timepoints(
        timepoints,
        measurements,
        confirmation_min_days=window.get("confirmation_min_days", 28),
        confirmation_max_days=window.get("confirmation_max_days", 56),
    )
    timepoints[IRECIST_COLUMNS] = irecist[IRECIST_COLUMNS].to_numpy()
    timepoints["new_target_sum_mm"] = timepoints["new_target_sum_mm"].astype(float)
    bor = best_overall_response(timepoints, **bor_options)
    bor_i = best_irecist_response(timepoints, **bor_options)

    end = None
    if clinical is not None and "treatment_end_day" in clinical.columns:
        end = clinical.set_index(clinical["patient_id"].astype(str))["treatment_end_day"].astype(float)
    resistance = resistance_from_timepoints(timepoints, end, bor_options, **options.get("resistance", {}))

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
    columns = TIMEPOINT_COLUMNS[: TIMEPOINT_COLUMNS.index("overall_response")]
    columns += ["new_target_sum_mm", "overall_response", "overall_basis", "irecist_response", "irecist_basis"]
    return timepoints[columns], features


def assess(
    measurements: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    options: dict | None = None,
    *,
    file: str = "RECIST table",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(timepoints, features, rates, selection)``: :func:`evaluate`, the response rates of its
    features (``tables/response_rates.tsv``, :func:`contexture.response.recist.response_rates`)
    and the target-selection warnings (``response/recist_selection_warnings.tsv``,
    :func:`selection_warnings`).
    """
    selection = selection_warnings(measurements, options, file=file)
    timepoints, features = evaluate(measurements, clinical, options, file=file)
    return timepoints, features, response_rates(features), selection


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
    from contexture.response import figures

    return {
        "waterfall": figures.waterfall(features, timepoints, labels),
        "spider": figures.spider(timepoints, features, labels),
        "swimmer": figures.swimmer(timepoints, features, clinical, labels),
    }


def classify(patients: pd.DataFrame, options: dict, seed: int, threads: int = 1):
    """``(table, (figure, source))``: the cross-validated response classifier and its ROC curve.

    ``options`` is the cohort's ``response.classifier`` section: ``features`` lists the
    candidate baseline features, the other keys go to
    :func:`contexture.response.classifier.evaluate_classifier`. ``threads`` processes
    refit the resamples (the rule's threads; the table does not depend on it).
    """
    from contexture.response import figures
    from contexture.response.classifier import evaluate_classifier

    options = dict(options)
    features = options.pop("features")
    table, roc = evaluate_classifier(patients, features, seed=seed, threads=threads, **options)
    return table, figures.roc_figure(roc, table)
