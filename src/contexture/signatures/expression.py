"""Expression analyses: the expression matrix, paired pre/post changes, correlations.

Input is a log2 normalized matrix (genes x samples; ``nanostring/normalized.tsv``) and
the sample table (``sample_id``, ``patient_id``, ``timepoint``, ``included``). A patient
with several samples at one timepoint is represented by their mean (log2 scale).

Paired change (post - pre, per patient) of every gene and signature score is tested
with the Wilcoxon signed-rank test within all patients, within responders and within
non-responders; the changes of responders and non-responders are compared with the
Mann-Whitney (Wilcoxon rank-sum) test (:mod:`contexture.stats.rank_tests`). Both
follow R's ``wilcox.test`` defaults, so a statistician can reproduce every p-value:

* signed rank: zero differences dropped (``zero_method="wilcox"``); exact p when fewer
  than 50 non-zero differences and no ties, otherwise the normal approximation with tie
  correction and continuity correction; statistic V = sum of the ranks of positive
  differences (R: ``wilcox.test(post, pre, paired = TRUE)``).
* rank sum: exact when both groups have fewer than 50 values and there are no ties,
  otherwise the normal approximation with tie and continuity correction; statistic
  W = U of the responders (R: ``wilcox.test(change_responders, change_non_responders)``).

P-values are adjusted by Benjamini-Hochberg (``contexture.stats.rank_tests``;
R ``p.adjust(method = "BH")``) within each family: one feature type
(gene / signature) x one comparison.

Several runs (``run`` column of the sample table; :mod:`contexture.nanostring.runs`): the
matrix is the union of the runs' genes, empty where a sample's run lacks a gene, and each
run was normalized within itself. A paired change is formed within one run only: a
patient's ``pre`` and ``post`` samples must both be in the run, and a patient whose
``pre`` and ``post`` samples are only in different runs is left out (logged, and counted
in the methods text; :func:`cross_run_patients`): values normalized against different
references, and possibly different probes, are not comparable. A patient paired in several
runs is represented, for each feature, by the first run in run order that pairs it and
has the feature. A patient's value at one timepoint (heat map, correlations) is likewise
taken from the first run in run order with the patient at that timepoint and the feature
(:func:`patient_means`), never averaged across runs.

Correlations: Spearman's rho between each chemokine/cytokine gene and each T-cell gene
over patients' baseline expression, p from the t approximation (scipy ``spearmanr``;
R ``cor.test(method = "spearman", exact = FALSE)``), BH across all pairs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from contexture.errors import InputError, Problem, raise_problems
from contexture.parallel import blocks, map_in_order
from contexture.stats.rank_tests import benjamini_hochberg, rank_sum_test, signed_rank_test

log = logging.getLogger(__name__)
# matplotlib's PDF backend logs every font subsetting step at INFO; keep rule logs readable.
logging.getLogger("fontTools").setLevel(logging.WARNING)

RUN_COLUMN = "run"
COMPARISONS = ("all", "responder", "non_responder", "responder_vs_non_responder")
# Fewest features per worker: below this, forking costs more than it saves.
MIN_BLOCK = 100
CHANGE_COLUMNS = (
    "feature_type",
    "feature",
    "comparison",
    "test",
    "n",
    "estimate",
    "estimate_type",
    "mean_change",
    "statistic",
    "p",
    "p_method",
    "q",
)


# --- inputs -----------------------------------------------------------------------------


def expression_matrix(
    table: pd.DataFrame, *, file: str = "normalized expression", runs: dict[str, str] | None = None
) -> pd.DataFrame:
    """Genes x samples float matrix from a table whose first column ``name`` holds gene symbols.

    Every problem (duplicate gene, non-numeric or non-finite value) is reported at once,
    naming the file, row and column. ``runs`` (sample -> run, several runs) allows a gene's
    cells to be empty for every sample of a run, the run's CodeSet lacking the gene; an
    empty cell among a run's values is still a problem.
    """
    if table.columns[0] != "name":
        raise InputError(f"{file}: the first column must be 'name' (gene symbol); found {table.columns[0]!r}")
    problems = []
    names = table["name"].astype(str)
    for row in np.flatnonzero(names.duplicated(keep=False).to_numpy()):
        problems.append(Problem(file, int(row) + 1, "name", names.iloc[row], "each gene once"))
    values = table.drop(columns="name").apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    if runs:
        # A run's block: a gene empty in all of the run's samples is a gene its CodeSet lacks.
        empty = table.drop(columns="name").isna().to_numpy()
        members = np.array([runs.get(str(c)) for c in values.columns], dtype=object)
        for run in dict.fromkeys(members):
            where = members == run
            absent = empty[:, where].all(axis=1)
            bad[np.ix_(absent, where)] = False
    for row, col in zip(*np.nonzero(bad), strict=True):
        problems.append(
            Problem(file, int(row) + 1, values.columns[col], table.iloc[row, col + 1], "a finite log2 expression value")
        )
    raise_problems(problems, file)
    values.index = pd.Index(names, name="name")
    values.columns = values.columns.astype(str)
    return values.astype(float)


def analysis_samples(samples: pd.DataFrame, matrix_columns, *, file: str = "samples table") -> pd.DataFrame:
    """The samples to analyse: ``included`` ones (all when the column is absent), in matrix order.

    Returns ``sample_id``, ``patient_id``, ``timepoint`` (and ``run`` when given) for the matrix columns that are
    included; a missing patient or timepoint (no sample sheet) stays missing. A matrix column absent from the sample table, or an included sample
    absent from the matrix, is an error.
    """
    required = ["sample_id", "patient_id", "timepoint"]
    missing = [c for c in required if c not in samples.columns]
    if RUN_COLUMN in samples.columns:
        required.append(RUN_COLUMN)
    if missing:
        raise InputError(f"{file}: missing column(s) {missing}; found {list(samples.columns)}")
    samples = samples.copy()
    samples["sample_id"] = samples["sample_id"].astype(str)
    if RUN_COLUMN in samples.columns:
        samples[RUN_COLUMN] = samples[RUN_COLUMN].astype(str)
    for column in ("patient_id", "timepoint"):  # empty without a sample sheet: kept empty, never "nan"
        samples[column] = samples[column].astype(object).map(lambda value: None if pd.isna(value) else str(value))
    matrix_columns = [str(c) for c in matrix_columns]
    unknown = sorted(set(matrix_columns) - set(samples["sample_id"]))
    if unknown:
        raise InputError(f"{file}: expression matrix column(s) {unknown[:10]} have no row in the sample table")
    included = samples[samples["included"].astype(bool)] if "included" in samples.columns else samples
    absent = sorted(set(included["sample_id"]) - set(matrix_columns))
    if absent:
        raise InputError(f"{file}: included sample(s) {absent[:10]} are not columns of the expression matrix")
    keep = set(included["sample_id"])
    indexed = samples.set_index("sample_id", drop=False)
    order = [c for c in matrix_columns if c in keep]
    return indexed.loc[order, required].reset_index(drop=True)


def responder_status(patients: pd.DataFrame | None) -> pd.Series | None:
    """``responder`` / ``non_responder`` per patient from patients.tsv's boolean ``responder``.

    Returns None (and logs why) when the table or the column is absent or entirely empty:
    the by-response analyses are then skipped.
    """
    if patients is None or "responder" not in patients.columns:
        log.info("no 'responder' column in the patient table: by-response comparisons skipped")
        return None
    known = patients[patients["responder"].notna()]
    if known.empty:
        log.info("the patient table's 'responder' column is empty: by-response comparisons skipped")
        return None
    status = np.where(known["responder"].astype(bool), "responder", "non_responder")
    return pd.Series(status, index=known["patient_id"].astype(str).to_numpy(), name="response")


# --- per patient values -----------------------------------------------------------------


def read_analysis_expression(expression_path, samples_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The normalized matrix restricted to the analysed samples, and those samples.

    Reads ``nanostring/normalized.tsv`` and ``nanostring/samples.tsv`` (contexture.io),
    checks them (:func:`expression_matrix`, :func:`analysis_samples`) and keeps the
    matrix columns of the included samples, in the sample table's order.
    """
    from contexture.io import read_table

    table = read_table(samples_path, "results/nanostring/samples")
    runs = (
        dict(zip(table["sample_id"].astype(str), table[RUN_COLUMN].astype(str), strict=True))
        if RUN_COLUMN in table.columns and table[RUN_COLUMN].nunique() > 1
        else None
    )
    expression = expression_matrix(
        read_table(expression_path, "results/nanostring/normalized"), file=str(expression_path), runs=runs
    )
    samples = analysis_samples(table, expression.columns, file=str(samples_path))
    return expression[samples["sample_id"].to_list()], samples


# --- runs -------------------------------------------------------------------------------


def sample_runs(samples: pd.DataFrame) -> pd.Series:
    """Each sample's run (indexed like ``samples``); one unnamed run without a ``run`` column."""
    if RUN_COLUMN in samples.columns:
        return samples[RUN_COLUMN].astype(str)
    from contexture.nanostring.runs import FIRST_RUN

    return pd.Series(FIRST_RUN, index=samples.index)


def split_runs(values: pd.DataFrame, samples: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """``{run: (values, samples)}`` in run order (first appearance in ``samples``).

    ``values`` is features x samples (the union matrix of several runs, or scores); a
    run's block has its samples (in ``samples``' order) and the features with a value in
    any of them -- the run's own matrix, as the nanostring stage gave it.
    """
    runs = sample_runs(samples)
    blocks = {}
    for run in dict.fromkeys(runs):
        chosen = samples[(runs == run).to_numpy()]
        block = values[[s for s in chosen["sample_id"] if s in values.columns]]
        blocks[run] = (block[block.notna().any(axis=1)], chosen.reset_index(drop=True))
    return blocks


def _first_by_run(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Features x patients: each cell from the first frame (run order) where it is not empty."""
    if not frames:
        return pd.DataFrame()
    out = frames[0]
    for frame in frames[1:]:
        out = out.combine_first(frame)
    index = list(dict.fromkeys(i for frame in frames for i in frame.index))
    return out.reindex(index=index, columns=sorted(out.columns))


def cross_run_patients(samples: pd.DataFrame, pre: str, post: str) -> list[str]:
    """Patients with a ``pre`` and a ``post`` sample, but never both in one run (no pair is formed)."""
    if samples.empty:
        return []
    runs = sample_runs(samples)
    known = samples.assign(_run=runs.to_numpy())[samples["patient_id"].notna()]
    at = {t: known[known["timepoint"] == t] for t in (pre, post)}
    both_any = set(at[pre]["patient_id"]) & set(at[post]["patient_id"])
    within = set(at[pre][["patient_id", "_run"]].itertuples(index=False)) & set(
        at[post][["patient_id", "_run"]].itertuples(index=False)
    )
    return sorted(both_any - {patient for patient, _ in within})


def _run_patient_means(values: pd.DataFrame, samples: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    """Features x patients: mean of each patient's samples at ``timepoint`` (one run; columns sorted)."""
    chosen = samples[samples["timepoint"] == timepoint]
    if chosen.empty:
        return pd.DataFrame(index=values.index, columns=pd.Index([], name="patient_id"), dtype=float)
    block = values[chosen["sample_id"].to_numpy()]
    block.columns = pd.Index(chosen["patient_id"].to_numpy(), name="patient_id")
    return block.T.groupby(level=0, sort=True).mean().T


def patient_means(values: pd.DataFrame, samples: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    """Features x patients: mean of each patient's samples at ``timepoint`` (columns sorted).

    With several runs, the means are within each run and a patient's value of a feature
    is the first run's (run order) that has the patient at ``timepoint`` and the feature:
    values of two runs are never averaged (module docstring).
    """
    blocks = split_runs(values, samples) if RUN_COLUMN in samples.columns else {}
    if len(blocks) <= 1:
        return _run_patient_means(values, samples, timepoint)
    means = _first_by_run([_run_patient_means(v, s, timepoint) for v, s in blocks.values()])
    means = means.reindex(index=values.index)
    means.columns.name = "patient_id"
    return means


def paired_values(
    values: pd.DataFrame, samples: pd.DataFrame, pre: str = "baseline", post: str = "on_treatment"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features x patients ``(before, after)``: patient means at ``pre`` and ``post`` of one run.

    Patients with both timepoints in one run (columns sorted); with several runs, each
    cell's pair is from the first run (run order) pairing the patient with the feature, and
    patients paired in no run are left out (:func:`cross_run_patients`).
    """
    blocks = split_runs(values, samples) if RUN_COLUMN in samples.columns else {None: (values, samples)}
    befores, afters = [], []
    for block, chosen in blocks.values():
        before = _run_patient_means(block, chosen, pre)
        after = _run_patient_means(block, chosen, post)
        both = sorted(set(before.columns) & set(after.columns))
        before, after = before[both], after[both]
        paired = before.notna() & after.notna()
        befores.append(before.where(paired))
        afters.append(after.where(paired))
    if len(blocks) == 1:
        return befores[0], afters[0]
    before, after = _first_by_run(befores), _first_by_run(afters)
    index = [i for i in values.index if i in before.index]
    before, after = before.reindex(index), after.reindex(index=index, columns=before.columns)
    before.columns.name = after.columns.name = "patient_id"
    return before, after


def paired_changes(
    values: pd.DataFrame, samples: pd.DataFrame, pre: str = "baseline", post: str = "on_treatment"
) -> pd.DataFrame:
    """Features x patients: post - pre for patients with both timepoints (in one run: :func:`paired_values`)."""
    before, after = paired_values(values, samples, pre, post)
    return after - before


def score_matrix(scores: pd.DataFrame) -> pd.DataFrame:
    """Signatures x samples matrix from long signature scores."""
    return scores.pivot(index="signature", columns="sample_id", values="score")


# --- tests ------------------------------------------------------------------------------


def change_tests(changes: pd.DataFrame, feature_type: str, response: pd.Series | None = None) -> pd.DataFrame:
    """Test the paired changes (features x patients) overall, by response, and between responses.

    ``response`` maps patient -> ``responder``/``non_responder`` (None: only ``all``).
    Patients without a known response count in ``all`` only. Returns rows of
    :data:`CHANGE_COLUMNS`; ``q`` is filled by :func:`adjust_families`.
    """
    groups = {"all": list(changes.columns)}
    if response is not None:
        known = response.reindex(changes.columns)
        groups["responder"] = list(known.index[known == "responder"])
        groups["non_responder"] = list(known.index[known == "non_responder"])
    # Column positions once, then plain numpy rows (no per-feature pandas indexing).
    position = {patient: i for i, patient in enumerate(changes.columns)}
    columns = {name: np.array([position[p] for p in patients], dtype=int) for name, patients in groups.items()}
    rows = []
    for feature, row in zip(changes.index, changes.to_numpy(dtype=float), strict=True):
        for comparison, where in columns.items():
            d = row[where]
            d = d[~np.isnan(d)]
            test = signed_rank_test(d)
            rows.append(
                {
                    "feature_type": feature_type,
                    "feature": feature,
                    "comparison": comparison,
                    "test": "wilcoxon_signed_rank",
                    "n": d.size,
                    "estimate": float(np.median(d)) if d.size else np.nan,
                    "estimate_type": "median_change",
                    "mean_change": float(d.mean()) if d.size else np.nan,
                    "statistic": test.statistic,
                    "p": test.p,
                    "p_method": test.p_method,
                }
            )
        if response is not None:
            a = row[columns["responder"]]
            b = row[columns["non_responder"]]
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            test = rank_sum_test(a, b)
            rows.append(
                {
                    "feature_type": feature_type,
                    "feature": feature,
                    "comparison": "responder_vs_non_responder",
                    "test": "mann_whitney_u",
                    "n": a.size + b.size,
                    "estimate": float(np.median(a) - np.median(b)) if a.size and b.size else np.nan,
                    "estimate_type": "difference_of_median_changes",
                    "mean_change": float(a.mean() - b.mean()) if a.size and b.size else np.nan,
                    "statistic": test.statistic,
                    "p": test.p,
                    "p_method": test.p_method,
                }
            )
    return pd.DataFrame(rows, columns=[c for c in CHANGE_COLUMNS if c != "q"])


def _block_change_tests(changes: pd.DataFrame, response: pd.Series | None) -> pd.DataFrame:
    """:func:`change_tests` of one block of genes (a worker's share)."""
    return change_tests(changes, "gene", response)


def adjust_families(table: pd.DataFrame, by=("feature_type", "comparison")) -> pd.DataFrame:
    """Add ``q``: Benjamini-Hochberg within each family (default: feature type x comparison)."""
    table = table.copy()
    table["q"] = np.nan
    for _, index in table.groupby(list(by), sort=False).groups.items():
        table.loc[index, "q"] = benjamini_hochberg(table.loc[index, "p"])
    return table


def expression_changes(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    response: pd.Series | None = None,
    *,
    pre: str = "baseline",
    post: str = "on_treatment",
    workers: int = 1,
) -> pd.DataFrame:
    """Paired pre/post tests for every gene and every signature score (module docstring).

    Rows are sorted: signatures first, then genes (alphabetical), comparisons in the
    order of :data:`COMPARISONS`. ``workers`` > 1 tests blocks of genes in that many
    processes (:func:`contexture.parallel.map_in_order`); the table is identical.
    """
    frames = []
    if scores is not None and not scores.empty:
        frames.append(change_tests(paired_changes(score_matrix(scores), samples, pre, post), "signature", response))
    genes = paired_changes(expression, samples, pre, post)
    # Genes in contiguous blocks on up to ``workers`` processes, merged in block order:
    # the same table as one process (every test is exact arithmetic on its own row).
    parts = map_in_order(
        _block_change_tests, [genes.iloc[b] for b in blocks(len(genes), workers, MIN_BLOCK)], workers, response
    )
    frames.extend(parts)
    table = pd.concat(frames, ignore_index=True)
    n_pairs = len(genes.columns)
    log.info("paired %s -> %s changes: %d patients with both timepoints", pre, post, n_pairs)
    crossed = cross_run_patients(samples, pre, post)
    if crossed:
        log.warning(
            "%d patient(s) have %s and %s samples only in different runs and are left out of the paired changes "
            "(a pair is formed within one run: runs are normalized separately and may be different CodeSets): %s",
            len(crossed),
            pre,
            post,
            ", ".join(crossed[:20]),
        )
    table = adjust_families(table)
    order = {c: i for i, c in enumerate(COMPARISONS)}
    table = table.assign(_t=table["feature_type"].map({"signature": 0, "gene": 1}), _c=table["comparison"].map(order))
    table = table.sort_values(["_t", "feature", "_c"], kind="stable").drop(columns=["_t", "_c"])
    return table[list(CHANGE_COLUMNS)].reset_index(drop=True)


# --- correlations -----------------------------------------------------------------------


def read_gene_list(table: pd.DataFrame, *, file: str = "gene list") -> pd.DataFrame:
    """A gene list table (``gene`` and optional ``category``), genes unique."""
    if "gene" not in table.columns:
        raise InputError(f"{file}: expected a column 'gene'; found {list(table.columns)}")
    table = table.copy()
    table["gene"] = table["gene"].astype(str)
    if "category" not in table.columns:
        table["category"] = ""
    duplicated = sorted(table.loc[table["gene"].duplicated(), "gene"])
    if duplicated:
        raise InputError(f"{file}: gene(s) listed twice: {duplicated}")
    return table[["gene", "category"]]


def spearman_correlations(
    baseline: pd.DataFrame, genes: pd.DataFrame, tcell_genes: pd.DataFrame, *, min_patients: int = 3
) -> pd.DataFrame:
    """Spearman correlations of each listed gene with each T-cell gene over patients.

    ``baseline`` is genes x patients (baseline means). Genes absent from the matrix are
    logged and left out; pairs of a gene with itself are skipped. With fewer than
    ``min_patients`` patients rho and p are missing. ``q``: BH over all pairs.
    """
    from scipy import stats  # on first use: a job that never calls this need not import it

    rows = []
    available = set(baseline.index)
    for listed, what in ((genes, "chemokine/cytokine"), (tcell_genes, "T-cell")):
        absent = [g for g in listed["gene"] if g not in available]
        if absent:
            log.warning("%s genes absent from the expression matrix, left out of correlations: %s", what, absent)
    for gene, category in genes.itertuples(index=False):
        if gene not in available:
            continue
        for tcell, tcell_category in tcell_genes.itertuples(index=False):
            if tcell not in available or tcell == gene:
                continue
            pair = baseline.loc[[gene, tcell]].T.dropna()
            n = len(pair)
            rho = p = np.nan
            if n >= min_patients and pair[gene].nunique() > 1 and pair[tcell].nunique() > 1:
                result = stats.spearmanr(pair[gene], pair[tcell])
                rho, p = float(result.statistic), float(result.pvalue)
            rows.append(
                {
                    "gene": gene,
                    "gene_category": category,
                    "tcell_gene": tcell,
                    "tcell_category": tcell_category,
                    "n": n,
                    "rho": rho,
                    "p": p,
                }
            )
    table = pd.DataFrame(rows, columns=["gene", "gene_category", "tcell_gene", "tcell_category", "n", "rho", "p"])
    table["q"] = benjamini_hochberg(table["p"]) if len(table) else []
    return table


__all__ = [
    "RUN_COLUMN",
    "COMPARISONS",
    "MIN_BLOCK",
    "CHANGE_COLUMNS",
    "expression_matrix",
    "analysis_samples",
    "responder_status",
    "read_analysis_expression",
    "sample_runs",
    "split_runs",
    "cross_run_patients",
    "patient_means",
    "paired_values",
    "paired_changes",
    "score_matrix",
    "change_tests",
    "adjust_families",
    "expression_changes",
    "read_gene_list",
    "spearman_correlations",
]
