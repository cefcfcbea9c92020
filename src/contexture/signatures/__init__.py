"""Signatures stage: gene-signature scores, paired pre/post changes, gene correlations.

Entry points (what ``workflow/scripts/signatures_*.py`` call):

* :func:`score_cohort` -- signature scores per sample, their coverage, and the patient
  columns ``immunosign_score`` / ``immunosign_high`` (rule ``signature_scores``);
* :func:`analyse_changes` -- paired pre/post tests of genes and scores and the baseline
  heat map (rule ``expression_changes``);
* :func:`paired_changes_figure` -- the paired scores by response (rule
  ``signature_changes_figure``, made when the cohort has responses);
* :func:`analyse_correlations` -- Spearman correlations of chemokine/cytokine genes with
  T-cell genes and their figure (rule ``expression_correlations``).

Science: :mod:`contexture.signatures.scores` (scoring methods),
:mod:`contexture.signatures.expression` (matrix, paired changes, correlations, tests);
figures: :mod:`contexture.signatures.figures`.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import pandas as pd

from contexture.errors import ConfigError

# expression (scipy.stats, statsmodels) and figures (matplotlib) are imported by the entry
# points that use them: the workflow's DAG imports this package for signature names only
# (contexture.lazy).
from contexture.nanostring.runs import FIRST_RUN
from contexture.signatures.scores import (
    RUN_COLUMN,
    Signature,
    assign_groups,
    patient_features,
    score_signatures,
    sort_scores,
)

log = logging.getLogger(__name__)

PAIR_COLUMNS = ["signature", "patient_id", "response", "baseline", "on_treatment"]


class Scores(NamedTuple):
    """The tables of rule ``signature_scores``."""

    scores: pd.DataFrame
    coverage: pd.DataFrame
    features: pd.DataFrame


class Changes(NamedTuple):
    """The table and figures (each ``(figure, source data)``) of rule ``expression_changes``."""

    changes: pd.DataFrame
    heatmap_figure: tuple


def score_cohort(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    signatures: list[Signature],
    *,
    immunosign: str,
    min_gene_fraction: float,
    on_insufficient: str,
    low_quantile: float,
    log_base: float,
    allow_partial_weighted: bool = False,
    below_lod: pd.DataFrame | dict[str, pd.DataFrame] | None = None,
    below_lod_warn_fraction: float = 0.3,
    exclude_below_lod: bool = False,
    exclude_below_lod_fraction: float = 0.5,
) -> Scores:
    """Score every signature on every analysed sample, run by run; cut high/low; patient Immunosign columns.

    ``immunosign`` names the signature behind ``immunosign_score``/``immunosign_high`` and
    must be among ``signatures`` (a :class:`~contexture.errors.ConfigError` otherwise).
    ``below_lod`` (genes x samples at or below the lane's limit of detection; with several
    runs ``{run: table}``, :func:`detection_limits`) and the three background options:
    :func:`contexture.signatures.scores.score_signatures`.

    Runs (``samples``' ``run`` column; :func:`~contexture.signatures.expression.split_runs`):
    each run is scored alone on the genes it carries (z-scores standardized on its own
    baseline samples) and cut at its own ``low_quantile`` (:func:`contexture.signatures.scores.assign_groups`);
    scores and coverage rows carry their ``run``. The patient columns take each patient's
    score from one run (:func:`contexture.signatures.scores.patient_run_choice`).
    """
    from contexture.signatures.expression import sample_runs, split_runs

    names = [s.name for s in signatures]
    if immunosign not in names:
        raise ConfigError(f"signatures.immunosign '{immunosign}' is not among signatures.use {names}")
    blocks = split_runs(expression, samples)
    if not blocks:  # no sample: one empty run, as before runs existed
        blocks = {sample_runs(samples).iloc[0] if len(samples) else FIRST_RUN: (expression, samples)}
    if isinstance(below_lod, pd.DataFrame) or below_lod is None:
        below_lod = dict.fromkeys(blocks, below_lod)
    score_parts, coverage_parts = [], []
    for run, (matrix, run_samples) in blocks.items():
        if len(blocks) > 1:
            log.info("run %s: scoring %d samples on its %d genes", run, matrix.shape[1], matrix.shape[0])
        scores, coverage = score_signatures(
            matrix,
            run_samples,
            signatures,
            min_fraction=min_gene_fraction,
            on_insufficient=on_insufficient,
            log_base=log_base,
            allow_partial_weighted=allow_partial_weighted,
            below_lod=below_lod.get(run),
            below_lod_warn_fraction=below_lod_warn_fraction,
            exclude_below_lod=exclude_below_lod,
            exclude_below_lod_fraction=exclude_below_lod_fraction,
        )
        scores, cuts = assign_groups(scores, low_quantile)
        coverage["low_quantile"] = low_quantile
        coverage["low_cut"] = coverage["signature"].map(cuts)
        scores.insert(3, RUN_COLUMN, run)
        coverage.insert(0, RUN_COLUMN, run)
        score_parts.append(scores)
        coverage_parts.append(coverage)
    scores = pd.concat(score_parts, ignore_index=True) if len(score_parts) > 1 else score_parts[0]
    coverage = pd.concat(coverage_parts, ignore_index=True) if len(coverage_parts) > 1 else coverage_parts[0]
    known = samples["patient_id"].notna()
    if not known.all():
        log.warning(
            "%d of %d samples have no patient (a run without a NanoString sample sheet, or rows without "
            "patient_id): their scores stand alone under their sample IDs and are left out of the patient-level "
            "features (immunosign_score, immunosign_high), the high/low cut and the paired changes; give a sample "
            "sheet with patient_id and timepoint for those",
            int((~known).sum()),
            len(samples),
        )
    features = patient_features(
        scores[scores["patient_id"].notna()],
        immunosign,
        low_quantile,
        patients=sorted(set(samples.loc[known, "patient_id"].astype(str))),
        coverage=coverage,
    )
    return Scores(sort_scores(scores, names), coverage, features)


def detection_limits(raw_counts: pd.DataFrame, lanes: pd.DataFrame, samples: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{run: genes x samples}``: True where the raw count is at or below the lane's limit of detection.

    Per run (:func:`contexture.nanostring.run_blocks` of the tables the nanostring rule
    wrote), for the run's analysed ``samples``
    (:func:`contexture.nanostring.normalization.at_or_below_detection_limit`), so each
    run's genes are named as in its own normalized matrix.
    """
    from contexture.nanostring import run_blocks
    from contexture.nanostring.normalization import at_or_below_detection_limit
    from contexture.signatures.expression import sample_runs

    blocks = run_blocks(raw_counts, lanes, ["code_class", "name", "accession"])
    runs = sample_runs(samples)
    return {
        run: at_or_below_detection_limit(block, lanes, list(samples.loc[(runs == run).to_numpy(), "sample_id"]))
        for run, block in blocks.items()
    }


def paired_changes_table(
    scores: pd.DataFrame, samples: pd.DataFrame, response: pd.Series | None, *, pre: str, post: str
) -> pd.DataFrame:
    """Each signature's score before and after, per patient with both timepoints (the paired figure's data).

    ``scores`` are the long signature scores; a patient with several samples at a
    timepoint counts with their mean, both from one run
    (:func:`~contexture.signatures.expression.paired_values`).
    Columns :data:`PAIR_COLUMNS`: ``baseline`` holds the ``pre`` timepoint's score and
    ``on_treatment`` the ``post`` one's, whatever the two timepoints are called;
    ``response`` is ``responder``/``non_responder``, or ``unknown`` (also for every
    patient when ``response`` is None). Signatures in the order they first appear.
    """
    from contexture.signatures.expression import paired_values, score_matrix

    if scores.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    values = score_matrix(scores)
    before, after = paired_values(values, samples, pre, post)  # pairs within one run
    rows = [
        {
            "signature": signature,
            "patient_id": patient,
            "response": response.get(patient, "unknown") if response is not None else "unknown",
            "baseline": before.at[signature, patient],
            "on_treatment": after.at[signature, patient],
        }
        for signature in dict.fromkeys(scores["signature"])
        if signature in before.index
        for patient in before.columns
        if pd.notna(before.at[signature, patient])
    ]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def baseline_heatmap(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    scores: pd.DataFrame,
    response: pd.Series | None,
    genes: pd.DataFrame,
    *,
    immunosign: str,
    baseline: str = "baseline",
):
    """``(figure, source)``: the listed genes at ``baseline``, patients ordered by a signature's score.

    Patients are ordered by their ``baseline`` score of ``immunosign`` when it was
    scored, else of the first scored signature, else not ordered (all scores 0, label
    "no signature scored"). Genes of ``genes`` absent from the matrix are left out.
    """
    from contexture.signatures.expression import patient_means, score_matrix
    from contexture.signatures.figures import baseline_heatmap_figure

    means = patient_means(expression, samples, baseline)
    means = means.loc[[g for g in genes["gene"] if g in means.index]]
    scored = list(dict.fromkeys(scores["signature"]))
    ordering = immunosign if immunosign in scored else (scored[0] if scored else None)
    if ordering is None:
        score = pd.Series(0.0, index=means.columns)
    else:
        score = patient_means(score_matrix(scores).loc[[ordering]], samples, baseline).loc[ordering]
    return baseline_heatmap_figure(means, score, response, score_label=ordering or "no signature scored")


def analyse_changes(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    scores: pd.DataFrame,
    patients: pd.DataFrame | None,
    heatmap_genes: pd.DataFrame,
    *,
    pre: str,
    post: str,
    immunosign: str,
    workers: int = 1,
) -> Changes:
    """Paired ``pre`` -> ``post`` tests of every gene and score, and the heat map.

    ``workers``: processes for the gene tests (the rule's threads); the tables do not
    depend on it.

    Response groups come from ``patients``' ``responder`` column
    (:func:`~contexture.signatures.expression.responder_status`; without it only the
    all-patient tests run). Tests: :func:`~contexture.signatures.expression.expression_changes`;
    heat map: :func:`baseline_heatmap`. The paired-score figure by response is
    :func:`paired_changes_figure` (its own rule, made only when the cohort has responses).
    """
    from contexture.signatures.expression import expression_changes, responder_status

    response = responder_status(patients)
    changes = expression_changes(expression, samples, scores, response, pre=pre, post=post, workers=workers)
    heatmap = baseline_heatmap(expression, samples, scores, response, heatmap_genes, immunosign=immunosign)
    return Changes(changes, heatmap)


def paired_changes_figure(
    scores: pd.DataFrame,
    samples: pd.DataFrame,
    patients: pd.DataFrame | None,
    *,
    pre: str,
    post: str,
    labels: dict | None = None,
) -> tuple:
    """``(figure, source)``: each signature's ``pre`` and ``post`` score per patient, by response.

    Response groups as :func:`analyse_changes`; ``labels`` the cohort's display names
    (:func:`contexture.plotting.display_label`).
    """
    from contexture.signatures.expression import responder_status
    from contexture.signatures.figures import paired_scores_figure

    response = responder_status(patients)
    return paired_scores_figure(paired_changes_table(scores, samples, response, pre=pre, post=post), labels)


def analyse_correlations(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    genes: pd.DataFrame,
    tcell_genes: pd.DataFrame,
    *,
    timepoint: str,
    fdr_alpha: float,
):
    """``(table, (figure, source))``: Spearman rho of each listed gene with each T-cell gene at ``timepoint``.

    Over patients' mean expression at ``timepoint``
    (:func:`~contexture.signatures.expression.spearman_correlations`); the figure stars
    pairs with q < ``fdr_alpha``.
    """
    from contexture.signatures.expression import patient_means, spearman_correlations
    from contexture.signatures.figures import correlation_figure

    correlations = spearman_correlations(patient_means(expression, samples, timepoint), genes, tcell_genes)
    return correlations, correlation_figure(correlations, alpha=fdr_alpha)


__all__ = [
    "PAIR_COLUMNS",
    "Changes",
    "Scores",
    "analyse_changes",
    "paired_changes_figure",
    "analyse_correlations",
    "baseline_heatmap",
    "detection_limits",
    "paired_changes_table",
    "score_cohort",
]
