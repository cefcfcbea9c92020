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

Correlations: Spearman's rho between each chemokine/cytokine gene and each T-cell gene
over patients' baseline expression, p from the t approximation (scipy ``spearmanr``;
R ``cor.test(method = "spearman", exact = FALSE)``), BH across all pairs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from contexture.errors import InputError, Problem, raise_problems
from contexture.parallel import blocks, map_in_order
from contexture.stats.rank_tests import benjamini_hochberg, rank_sum_test, signed_rank_test

log = logging.getLogger(__name__)
# matplotlib's PDF backend logs every font subsetting step at INFO; keep rule logs readable.
logging.getLogger("fontTools").setLevel(logging.WARNING)

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


def expression_matrix(table: pd.DataFrame, *, file: str = "normalized expression") -> pd.DataFrame:
    """Genes x samples float matrix from a table whose first column ``name`` holds gene symbols.

    Every problem (duplicate gene, non-numeric or non-finite value) is reported at once,
    naming the file, row and column.
    """
    if table.columns[0] != "name":
        raise InputError(f"{file}: the first column must be 'name' (gene symbol); found {table.columns[0]!r}")
    problems = []
    names = table["name"].astype(str)
    for row in np.flatnonzero(names.duplicated(keep=False).to_numpy()):
        problems.append(Problem(file, int(row) + 1, "name", names.iloc[row], "each gene once"))
    values = table.drop(columns="name").apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float))
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

    Returns ``sample_id``, ``patient_id``, ``timepoint`` for the matrix columns that are
    included; a missing patient or timepoint (no sample sheet) stays missing. A matrix column absent from the sample table, or an included sample
    absent from the matrix, is an error.
    """
    required = ["sample_id", "patient_id", "timepoint"]
    missing = [c for c in required if c not in samples.columns]
    if missing:
        raise InputError(f"{file}: missing column(s) {missing}; found {list(samples.columns)}")
    samples = samples.copy()
    samples["sample_id"] = samples["sample_id"].astype(str)
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

    expression = expression_matrix(
        read_table(expression_path, "results/nanostring/normalized"), file=str(expression_path)
    )
    samples = analysis_samples(
        read_table(samples_path, "results/nanostring/samples"), expression.columns, file=str(samples_path)
    )
    return expression[samples["sample_id"].to_list()], samples


def patient_means(values: pd.DataFrame, samples: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    """Features x patients: mean of each patient's samples at ``timepoint`` (columns sorted)."""
    chosen = samples[samples["timepoint"] == timepoint]
    if chosen.empty:
        return pd.DataFrame(index=values.index, columns=pd.Index([], name="patient_id"), dtype=float)
    block = values[chosen["sample_id"].to_numpy()]
    block.columns = pd.Index(chosen["patient_id"].to_numpy(), name="patient_id")
    return block.T.groupby(level=0, sort=True).mean().T


def paired_changes(
    values: pd.DataFrame, samples: pd.DataFrame, pre: str = "baseline", post: str = "on_treatment"
) -> pd.DataFrame:
    """Features x patients: post - pre for patients with both timepoints."""
    before = patient_means(values, samples, pre)
    after = patient_means(values, samples, post)
    both = sorted(set(before.columns) & set(after.columns))
    return after[both] - before[both]


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
    n_pairs = len(paired_changes(expression.iloc[:1], samples, pre, post).columns)
    log.info("paired %s -> %s changes: %d patients with both timepoints", pre, post, n_pairs)
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
