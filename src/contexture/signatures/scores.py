"""Gene expression signatures: read signature files, score samples, cut high/low groups.

Signatures are data (``src/contexture/resources/signatures/<name>.yaml``, schema
``src/contexture/schemas/signature.schema.yaml``), never code. Scores are computed from a log2
normalized expression matrix (genes x samples, e.g. ``nanostring/normalized.tsv``) by
one of three methods, each stated in the file:

``mean``
    score = (1/G) sum_g x_g. On log2 data this is log2 of the geometric mean, so the
    cytolytic activity CYT (Rooney et al., Cell 2015: geometric mean of GZMA and PRF1)
    is the mean of the two log2 values.
``mean_z``
    score = (1/G) sum_g (x_g - m_g) / s_g, with m_g and s_g the mean and standard
    deviation (n - 1 denominator, as R's ``sd``/``scale``) of gene g over the cohort's
    *baseline* samples; every sample (on-treatment too) is standardized with those
    baseline values, so a treatment-induced rise stays visible. Genes constant at
    baseline (s_g = 0) carry no information and are left out, with a warning.
``weighted_normalized``
    score = sum_g w_g (log_b x_g - (1/H) sum_h log_b x_h), the T-cell-inflamed GEP of
    Ayers et al. (J Clin Invest 2017) with the weights of Cristescu et al. (Science
    2018): h runs over the normalizer (housekeeping) genes; log_b x = log2 x / log2 b.
    If every scored gene equals the normalizer mean the score is 0; if all shift by one
    log_b unit it moves by sum_g w_g (1.142788 for the GEP).

Partial panels: a signature is scored from the genes present when at least
``min_fraction`` (default 0.8) of its genes (and, separately, of its normalizer genes)
are in the matrix, with a warning naming the missing ones. A weighted signature
(``weighted_normalized``, the locked GEP) with a weighted gene missing is a different
score: it is not scored unless the cohort opts in (``signatures.allow_partial_weighted``);
then the weights of the present genes are used as published (not rescaled) and
``weight_sum_used`` in the coverage table records their sum. Below the threshold
:class:`UnscorableSignatureError` names the signature and the missing genes; the
workflow by default records that in ``signature_coverage.tsv`` and goes on.

Background: with the lanes' limits of detection (mean + 2 SD of the negative controls,
:func:`contexture.nanostring.normalization.at_or_below_detection_limit`), each score
records the fraction of the genes it was computed from whose raw count is at or below
that limit in its lane (``fraction_below_lod``), and is flagged (``flag_below_lod``) when
that fraction exceeds ``below_lod_warn_fraction`` (0.3): a gene at background carries
noise, yet weighs in a mean as much as an informative gene. Optionally
(``exclude_below_lod``) genes at or below the limit in more than half the analysed
samples are left out of the score before scoring, as NanoTube's background filter does
(``remove_background``, proportionReq 0.5; Class et al., Bioinformatics 2023); they then
count as absent for ``min_fraction`` and the locked weighted rule.

Groups: high/low cut at the 25th percentile of the *baseline* scores (one per patient:
the mean of a patient's baseline samples), with the quantile of R's default type 7
(``numpy.quantile(method="linear")``), following Scholler et al. (Nat Med 2022) for
Immunosign 21. A sample is ``low`` when its score is strictly below the cut, ``high``
otherwise.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator

from contexture.errors import ConfigError, InputError, QCError
from contexture.io import read_yaml
from contexture.io.validation import load_schema
from contexture.package_data import package_path

log = logging.getLogger(__name__)

RESOURCE_DIR = package_path("resources", "signatures")
METHODS = ("mean", "mean_z", "weighted_normalized")
DEFAULT_MIN_FRACTION = 0.8
DEFAULT_LOW_QUANTILE = 0.25
DEFAULT_BELOW_LOD_WARN_FRACTION = 0.3
# NanoTube's processNanostringData default bgProportion: a gene is kept when above background in
# at least half the samples, so it is left out when at or below it in more than half.
DEFAULT_EXCLUDE_BELOW_LOD_FRACTION = 0.5
BASELINE = "baseline"
COVERAGE_COLUMNS = (
    "signature",
    "method",
    "proxy",
    "status",
    "n_genes",
    "n_present",
    "fraction_present",
    "missing_genes",
    "n_normalizers",
    "n_normalizers_present",
    "missing_normalizers",
    "weight_sum",
    "weight_sum_used",
    "n_samples",
    "genes_below_lod",
    "fraction_below_lod",
    "n_samples_flagged_below_lod",
    "excluded_below_lod",
    "message",
)
SCORE_COLUMNS = ("sample_id", "patient_id", "timepoint", "signature", "score", "fraction_below_lod", "flag_below_lod")


class UnscorableSignatureError(QCError):
    """A signature cannot be scored on this matrix (too few of its genes, no baseline)."""


@dataclass(frozen=True)
class Signature:
    """One gene signature as read from its file (see the module docstring for methods)."""

    name: str
    title: str
    citation: str
    method: str
    genes: tuple[str, ...]
    provenance: str
    proxy: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    normalizer_genes: tuple[str, ...] = ()
    log_base: float | None = None
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def weight_sum(self) -> float:
        return float(sum(self.weights.values()))


def signature_from_dict(data: dict, *, source: str = "signature") -> Signature:
    """Check ``data`` against the signature schema and the cross-field rules; build a Signature."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with name, genes, method, ...; got {type(data).__name__}")
    validator = Draft202012Validator(load_schema("signature"))
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]
    genes = list(data.get("genes") or [])
    weights = data.get("weights") or {}
    normalizers = list(data.get("normalizer_genes") or [])
    method = data.get("method")
    if method == "weighted_normalized":
        if set(weights) != set(genes):
            problems.append(
                "weights: method weighted_normalized needs one weight per gene; "
                f"genes without a weight {sorted(set(genes) - set(weights))}, "
                f"weights without a gene {sorted(set(weights) - set(genes))}"
            )
        if not normalizers:
            problems.append("normalizer_genes: method weighted_normalized needs normalizer genes")
        if "log_base" not in data:
            problems.append("log_base: method weighted_normalized needs the published log base")
    elif weights or normalizers:
        problems.append(f"weights/normalizer_genes are only used by method weighted_normalized, not {method!r}")
    if set(genes) & set(normalizers):
        problems.append(f"genes {sorted(set(genes) & set(normalizers))} are both scored and normalizers")
    if problems:
        raise InputError(f"{source} is not a valid signature file:\n" + "\n".join(f"  - {p}" for p in problems))
    return Signature(
        name=data["name"],
        title=data["title"],
        citation=" ".join(str(data["citation"]).split()),
        method=method,
        genes=tuple(genes),
        provenance=" ".join(str(data["provenance"]).split()),
        proxy=bool(data.get("proxy", False)),
        weights={g: float(weights[g]) for g in genes} if weights else {},
        normalizer_genes=tuple(normalizers),
        log_base=float(data["log_base"]) if "log_base" in data else None,
        aliases={g: tuple(a) for g, a in (data.get("aliases") or {}).items()},
    )


def read_signature(path: str | Path) -> Signature:
    """Read and check one signature file; its ``name`` must match the file name."""
    path = Path(path)
    signature = signature_from_dict(read_yaml(path), source=f"signature file '{path}'")
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    if signature.name != stem:
        raise InputError(f"signature file '{path}': name '{signature.name}' differs from the file name '{stem}'")
    return signature


def signature_path(name_or_path: str, resource_dir: Path = RESOURCE_DIR) -> Path:
    """A shipped signature by name (``src/contexture/resources/signatures/<name>.yaml``) or a user's file path."""
    if name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path)
    path = resource_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in resource_dir.glob("*.yaml"))
        raise ConfigError(
            f"signatures.use: no shipped signature named '{name_or_path}' (shipped: {shipped}); "
            "give a path ending in .yaml for your own file"
        )
    return path


def check_signature_names(cohorts: dict, resource_dir: Path = RESOURCE_DIR) -> None:
    """Raise one :class:`ConfigError` naming every unknown shipped name in ``signatures.use``.

    Run when the workflow is parsed, so the message reaches the user before the DAG is
    built (an input function's error would come wrapped in Snakemake's traceback).
    """
    problems = []
    for name, cohort in sorted(cohorts.items()):
        for signature in cohort.get("signatures", {}).get("use", []):
            try:
                signature_path(signature, resource_dir)
            except ConfigError as error:
                problems.append(f"cohorts.{name}.{error}")
    if problems:
        raise ConfigError("\n".join(problems))


# --- coverage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Which of a signature's genes the matrix has (``rows`` maps gene -> matrix row name)."""

    signature: str
    rows: dict[str, str]
    missing: tuple[str, ...]
    normalizer_rows: dict[str, str]
    missing_normalizers: tuple[str, ...]
    n_genes: int
    n_normalizers: int
    excluded: tuple[str, ...] = ()  # in the matrix but left out at or below the limit of detection

    @property
    def partial(self) -> bool:
        return bool(self.missing or self.excluded or self.missing_normalizers)


def _match(genes: tuple[str, ...], available: set[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    rows = {}
    for gene in genes:
        if gene in available:
            rows[gene] = gene
        else:
            found = [a for a in aliases.get(gene, ()) if a in available]
            if found:
                rows[gene] = found[0]
    return rows


def minimum_present(n: int, min_fraction: float) -> int:
    """Smallest number of genes out of ``n`` that reaches ``min_fraction`` (4 of 5 at 0.8).

    Rounds up, with a tolerance of 1e-9 so that 0.8 * 5 counts as exactly 4.
    """
    return math.ceil(min_fraction * n - 1e-9)


def match_coverage(signature: Signature, available, excluded_rows=()) -> Coverage:
    """Match the signature's genes (and aliases) to the matrix rows, without judging coverage.

    Genes whose matrix row is in ``excluded_rows`` (at or below the limit of detection in
    most samples) are recorded in ``excluded`` and left out of ``rows``; normalizer genes
    are never excluded.
    """
    available = set(available)
    excluded_rows = set(excluded_rows)
    matched = _match(signature.genes, available, signature.aliases)
    rows = {g: r for g, r in matched.items() if r not in excluded_rows}
    normalizer_rows = _match(signature.normalizer_genes, available, signature.aliases)
    return Coverage(
        signature=signature.name,
        rows=rows,
        excluded=tuple(g for g in signature.genes if g in matched and g not in rows),
        missing=tuple(g for g in signature.genes if g not in matched),
        normalizer_rows=normalizer_rows,
        missing_normalizers=tuple(g for g in signature.normalizer_genes if g not in normalizer_rows),
        n_genes=len(signature.genes),
        n_normalizers=len(signature.normalizer_genes),
    )


def gene_coverage(
    signature: Signature, available, min_fraction: float = DEFAULT_MIN_FRACTION, excluded_rows=()
) -> Coverage:
    """Match the signature's genes (and aliases) to the matrix; raise if below ``min_fraction``.

    Raises :class:`UnscorableSignatureError` naming the signature and every missing gene
    when fewer than ``minimum_present`` genes (or normalizer genes) are present; logs a
    warning listing them when some, but few enough, are missing.
    """
    if not 0 < min_fraction <= 1:
        raise ConfigError(f"signatures.min_gene_fraction must be in (0, 1]; got {min_fraction}")
    coverage = match_coverage(signature, available, excluded_rows)
    rows, normalizer_rows = coverage.rows, coverage.normalizer_rows
    reasons = []
    if len(rows) < minimum_present(coverage.n_genes, min_fraction):
        reasons.append(
            f"{len(rows)} of its {coverage.n_genes} genes are in the expression matrix"
            + (" above background" if coverage.excluded else "")
            + f" (needs at least {minimum_present(coverage.n_genes, min_fraction)}, {min_fraction:.0%}); "
            f"missing: {', '.join(coverage.missing) or 'none'}"
            + (f"; excluded below the limit of detection: {', '.join(coverage.excluded)}" if coverage.excluded else "")
        )
    if coverage.n_normalizers and len(normalizer_rows) < minimum_present(coverage.n_normalizers, min_fraction):
        reasons.append(
            f"{len(normalizer_rows)} of its {coverage.n_normalizers} normalizer genes are in the matrix "
            f"(needs at least {minimum_present(coverage.n_normalizers, min_fraction)}); "
            f"missing: {', '.join(coverage.missing_normalizers)}"
        )
    if reasons:
        raise UnscorableSignatureError(f"signature '{signature.name}' cannot be scored: " + "; ".join(reasons))
    if coverage.partial:
        log.warning(
            "signature '%s' scored from %d of %d genes (missing: %s)%s%s",
            signature.name,
            len(rows),
            coverage.n_genes,
            ", ".join(coverage.missing) or "none",
            f"; excluded below the limit of detection: {', '.join(coverage.excluded)}" if coverage.excluded else "",
            f"; normalizers missing: {', '.join(coverage.missing_normalizers)}" if coverage.missing_normalizers else "",
        )
    return coverage


# --- scoring ----------------------------------------------------------------------------


def score_signature(
    expression: pd.DataFrame,
    signature: Signature,
    *,
    baseline_samples=None,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    log_base: float | None = None,
    allow_partial_weighted: bool = False,
    excluded_rows=(),
) -> tuple[pd.Series, Coverage]:
    """Score every sample (column) of ``expression`` (log2, genes x samples) with ``signature``.

    ``baseline_samples`` (columns) are the reference of method ``mean_z``; ``log_base``
    overrides the file's base for ``weighted_normalized``. Returns the scores (indexed
    by sample, named after the signature) and the gene coverage. A weighted signature with
    a weighted gene missing (or in ``excluded_rows``, left out below the limit of detection)
    raises :class:`UnscorableSignatureError` unless ``allow_partial_weighted``.
    """
    coverage = gene_coverage(signature, expression.index, min_fraction, excluded_rows)
    absent = coverage.missing + coverage.excluded
    if signature.method == "weighted_normalized" and absent and not allow_partial_weighted:
        used = sum(signature.weights[g] for g in coverage.rows)
        raise UnscorableSignatureError(
            f"signature '{signature.name}' is a locked weighted score and {len(absent)} of its weighted "
            f"genes are missing ({', '.join(coverage.missing) or 'none'}"
            + (f"; excluded below the limit of detection: {', '.join(coverage.excluded)}" if coverage.excluded else "")
            + f"): the remaining weights sum to {used:.6g} of "
            f"{signature.weight_sum:.6g}, a different score. Set signatures.allow_partial_weighted: true to score "
            "it anyway."
        )
    genes = list(coverage.rows)
    values = expression.loc[[coverage.rows[g] for g in genes]].to_numpy(dtype=float)
    if signature.method == "mean":
        scores = values.mean(axis=0)
    elif signature.method == "mean_z":
        baseline = list(baseline_samples) if baseline_samples is not None else []
        if len(baseline) < 2:
            raise UnscorableSignatureError(
                f"signature '{signature.name}' (method mean_z) needs at least 2 baseline samples "
                f"to standardize genes; got {len(baseline)}"
            )
        reference = expression.loc[[coverage.rows[g] for g in genes], baseline].to_numpy(dtype=float)
        centre = reference.mean(axis=1)
        spread = reference.std(axis=1, ddof=1)
        constant = spread <= 1e-12 * np.maximum(1.0, np.abs(centre))
        if constant.all():
            raise UnscorableSignatureError(
                f"signature '{signature.name}': every gene is constant across baseline samples"
            )
        if constant.any():
            log.warning(
                "signature '%s': genes constant at baseline left out of the z-score mean: %s",
                signature.name,
                ", ".join(np.asarray(genes)[constant]),
            )
        z = (values[~constant] - centre[~constant, None]) / spread[~constant, None]
        scores = z.mean(axis=0)
    elif signature.method == "weighted_normalized":
        base = log_base if log_base is not None else signature.log_base
        if base is None or base <= 1:
            raise ConfigError(f"signature '{signature.name}': log base must be > 1; got {base}")
        to_base = 1.0 / math.log2(base)
        normalizers = expression.loc[list(coverage.normalizer_rows.values())].to_numpy(dtype=float)
        normalizer_mean = normalizers.mean(axis=0) * to_base
        weights = np.array([signature.weights[g] for g in genes])
        scores = weights @ (values * to_base - normalizer_mean[None, :])
    else:  # the schema's enum makes this unreachable for files read by read_signature
        raise ConfigError(f"signature '{signature.name}': unknown method {signature.method!r}; expected {METHODS}")
    return pd.Series(scores, index=expression.columns, name=signature.name), coverage


def coverage_row(
    signature: Signature, coverage: Coverage | None, status: str, message: str = "", background: dict | None = None
) -> dict:
    """One row of ``signature_coverage.tsv`` (``weight_sum_used``: the weights of the genes scored).

    ``background`` holds the limit-of-detection columns (:func:`background_summary`);
    without it they are empty.
    """
    scored = status != "skipped"
    present = len(coverage.rows) if coverage else None
    return {
        "signature": signature.name,
        "method": signature.method,
        "proxy": signature.proxy,
        "status": status,
        "n_genes": len(signature.genes),
        "n_present": present,
        "fraction_present": present / len(signature.genes) if coverage else None,
        "missing_genes": ",".join(coverage.missing) if coverage else "",
        "n_normalizers": len(signature.normalizer_genes),
        "n_normalizers_present": len(coverage.normalizer_rows) if coverage else None,
        "missing_normalizers": ",".join(coverage.missing_normalizers) if coverage else "",
        "weight_sum": signature.weight_sum if signature.weights else None,
        "weight_sum_used": (
            sum(signature.weights[g] for g in coverage.rows) if signature.weights and coverage and scored else None
        ),
        "n_samples": None,
        "genes_below_lod": "",
        "fraction_below_lod": None,
        "n_samples_flagged_below_lod": None,
        "excluded_below_lod": ",".join(coverage.excluded) if coverage else "",
        **(background or {}),
        "message": message,
    }


def genes_below_lod(signature: Signature, below_lod: pd.DataFrame, threshold: float) -> list[str]:
    """Matrix rows of the signature's genes at or below the limit of detection in more than ``threshold`` of samples.

    ``below_lod`` is genes x samples (True at or below the lane's limit). The rule of
    NanoTube's ``remove_background`` (mode threshold): a gene is kept when above the
    limit in at least ``1 - threshold`` of the samples (proportionReq; 0.5 by default).
    """
    rows = _match(signature.genes, set(below_lod.index), signature.aliases)
    fraction = below_lod.loc[list(rows.values())].mean(axis=1)
    return [row for row in rows.values() if fraction[row] > threshold]


def background_summary(
    signature: Signature, coverage: Coverage, below_lod: pd.DataFrame, per_sample: pd.Series | None, warn: float
) -> dict:
    """The limit-of-detection columns of a signature's coverage row.

    ``n_samples``: the analysed samples; ``genes_below_lod``: each of its genes in the matrix (excluded ones too) at or below
    the limit in at least one sample, as ``GENE:k/n`` (k of the n analysed samples), most
    often first; ``fraction_below_lod``: the fraction of (gene, sample) cells at or below
    the limit over the genes scored (of a skipped signature: over its genes in the
    matrix), which equals the mean of the scores' per-sample fractions;
    ``n_samples_flagged_below_lod``: samples whose fraction exceeds ``warn``.
    """
    rows = _match(signature.genes, set(below_lod.index), signature.aliases)
    counts = below_lod.loc[list(rows.values())].sum(axis=1) if rows else pd.Series(dtype=int)
    n = below_lod.shape[1]
    listed = sorted(
        ((gene, int(counts[row])) for gene, row in rows.items() if counts[row] > 0), key=lambda item: -item[1]
    )
    scored = list(coverage.rows.values()) or list(rows.values())
    cells = below_lod.loc[scored].to_numpy(dtype=bool) if scored else np.zeros((0, n), dtype=bool)
    return {
        "n_samples": n,
        "genes_below_lod": ",".join(f"{gene}:{k}/{n}" for gene, k in listed),
        "fraction_below_lod": float(cells.mean()) if cells.size else None,
        "n_samples_flagged_below_lod": int((per_sample > warn).sum()) if per_sample is not None else None,
    }


def score_signatures(
    expression: pd.DataFrame,
    samples: pd.DataFrame,
    signatures: list[Signature],
    *,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    on_insufficient: str = "skip",
    log_base: float | None = None,
    allow_partial_weighted: bool = False,
    below_lod: pd.DataFrame | None = None,
    below_lod_warn_fraction: float = DEFAULT_BELOW_LOD_WARN_FRACTION,
    exclude_below_lod: bool = False,
    exclude_below_lod_fraction: float = DEFAULT_EXCLUDE_BELOW_LOD_FRACTION,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every signature on every sample; return (long scores, coverage table).

    ``samples`` has ``sample_id``, ``patient_id``, ``timepoint`` for the columns of
    ``expression``. With ``on_insufficient="skip"`` a signature that cannot be scored is
    logged (naming the missing genes) and recorded with status ``skipped``; with
    ``"error"`` its :class:`UnscorableSignatureError` propagates.

    ``below_lod`` (genes x the same samples, True where the raw count is at or below the
    lane's limit of detection; :func:`contexture.nanostring.normalization.at_or_below_detection_limit`)
    gives each score ``fraction_below_lod`` (of the genes it was computed from) and
    ``flag_below_lod`` (that fraction > ``below_lod_warn_fraction``; logged), and the
    coverage table its background columns (:func:`background_summary`). With
    ``exclude_below_lod`` genes at or below the limit in more than
    ``exclude_below_lod_fraction`` of the samples are left out first
    (:func:`genes_below_lod`). Without ``below_lod`` those columns are empty.
    """
    if on_insufficient not in ("skip", "error"):
        raise ConfigError(f"signatures.on_insufficient must be 'skip' or 'error'; got {on_insufficient!r}")
    if below_lod is not None:
        missing = [s for s in expression.columns if s not in below_lod.columns]
        if missing:
            raise InputError(f"no limit of detection for samples {missing[:20]}")
        below_lod = below_lod[list(expression.columns)].astype(bool)
    elif exclude_below_lod:
        raise ConfigError("signatures.exclude_below_lod needs the lanes' limits of detection (raw counts and lanes)")
    names = [s.name for s in signatures]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"signatures.use names signature(s) {duplicated} more than once")
    samples = samples.set_index("sample_id", drop=False).loc[list(expression.columns)]
    baseline = list(samples.index[samples["timepoint"] == BASELINE])
    if len(samples) and samples["timepoint"].isna().all():
        log.warning(
            "no sample has a timepoint (a run without a NanoString sample sheet): signatures standardized on "
            "baseline samples (mean_z) cannot be scored and no high/low groups are cut"
        )
    frames, coverage_rows = [], []
    for signature in signatures:
        excluded = (
            genes_below_lod(signature, below_lod, exclude_below_lod_fraction)
            if exclude_below_lod and below_lod is not None
            else []
        )
        try:
            scores, coverage = score_signature(
                expression,
                signature,
                baseline_samples=baseline,
                min_fraction=min_fraction,
                log_base=log_base,
                allow_partial_weighted=allow_partial_weighted,
                excluded_rows=excluded,
            )
        except UnscorableSignatureError as error:
            if on_insufficient == "error":
                raise
            log.warning("skipping: %s", error)
            coverage = match_coverage(signature, expression.index, excluded)
            background = (
                background_summary(signature, coverage, below_lod, None, below_lod_warn_fraction)
                if below_lod is not None
                else None
            )
            coverage_rows.append(coverage_row(signature, coverage, "skipped", str(error), background))
            continue
        status = "partial" if coverage.partial else "complete"
        if below_lod is not None:
            per_sample = below_lod.loc[list(coverage.rows.values())].mean(axis=0)
            flagged = per_sample > below_lod_warn_fraction
            background = background_summary(signature, coverage, below_lod, per_sample, below_lod_warn_fraction)
            if flagged.any():
                log.warning(
                    "signature '%s': %d of %d samples have more than %g%% of its %d scored genes at or below the "
                    "lane's limit of detection (flag_below_lod); genes at background: %s",
                    signature.name,
                    int(flagged.sum()),
                    len(flagged),
                    100 * below_lod_warn_fraction,
                    len(coverage.rows),
                    background["genes_below_lod"],
                )
            fraction, flag = per_sample.to_numpy(dtype=float), flagged.to_numpy(dtype=bool)
        else:
            background = None
            fraction = np.full(len(scores), np.nan)
            flag = pd.array([pd.NA] * len(scores), dtype="boolean")
        coverage_rows.append(coverage_row(signature, coverage, status, background=background))
        frames.append(
            pd.DataFrame(
                {
                    "sample_id": samples["sample_id"].to_numpy(),
                    "patient_id": samples["patient_id"].to_numpy(),
                    "timepoint": samples["timepoint"].to_numpy(),
                    "signature": signature.name,
                    "score": scores.to_numpy(),
                    "fraction_below_lod": fraction,
                    "flag_below_lod": flag,
                }
            )
        )
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(SCORE_COLUMNS))
    return long, pd.DataFrame(coverage_rows, columns=list(COVERAGE_COLUMNS))


# --- groups and patient features --------------------------------------------------------


def quantile_type7(values, q: float) -> float:
    """The ``q`` quantile by R's default (type 7): linear interpolation at h = (n - 1) q.

    Equals ``numpy.quantile(values, q, method="linear")`` and R's
    ``quantile(values, q, type = 7)`` (Hyndman & Fan, Am Stat 1996, definition 7).
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan")
    return float(np.quantile(values, q, method="linear"))


def baseline_patient_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One baseline score per patient and signature: the mean of the patient's baseline samples."""
    baseline = scores[scores["timepoint"] == BASELINE]
    return baseline.groupby(["signature", "patient_id"], as_index=False, sort=True)["score"].mean()


def assign_groups(scores: pd.DataFrame, low_quantile: float = DEFAULT_LOW_QUANTILE) -> tuple[pd.DataFrame, pd.Series]:
    """Add ``group`` (high/low) to long scores; return them and the cut per signature.

    The cut of a signature is :func:`quantile_type7` of its baseline patient scores at
    ``low_quantile``; every sample (any timepoint) is ``low`` when strictly below it.
    Without baseline samples the cut and the groups are missing.
    """
    if not 0 < low_quantile < 1:
        raise ConfigError(f"signatures.low_quantile must be in (0, 1); got {low_quantile}")
    per_patient = baseline_patient_scores(scores)
    cuts = per_patient.groupby("signature", sort=True)["score"].apply(lambda s: quantile_type7(s, low_quantile))
    cuts = cuts.reindex(sorted(scores["signature"].unique()))
    grouped = scores.copy()
    cut = grouped["signature"].map(cuts)
    grouped["group"] = np.where(cut.isna(), None, np.where(grouped["score"] < cut, "low", "high"))
    return grouped, cuts.rename("cut")


RUN_COLUMN = "run"


def patient_run_choice(scores: pd.DataFrame, signature: str, coverage: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each patient's baseline score of ``signature`` from one run: ``patient_id, run, score, n_present``.

    One value per patient and signature (what survival, response and toxicity use): the
    mean of the patient's baseline samples within a run. With several runs (``run``
    column) the run is the one whose panel carries most of the signature's genes
    (``n_present`` of the run's ``coverage`` row: genes scored, after any exclusion below
    the limit of detection), ties broken by run order (first appearance in ``scores``);
    values of two runs are never averaged. Patients without a baseline score are absent.
    """
    runs = scores[RUN_COLUMN].astype(str) if RUN_COLUMN in scores.columns else pd.Series("", index=scores.index)
    order = {run: i for i, run in enumerate(dict.fromkeys(runs))}
    chosen = scores[(scores["signature"] == signature) & (scores["timepoint"] == BASELINE)].assign(_run=runs)
    per_patient = chosen.groupby(["_run", "patient_id"], as_index=False, sort=True)["score"].mean()
    present = {}
    if coverage is not None and RUN_COLUMN in coverage.columns:
        rows = coverage[coverage["signature"] == signature]
        present = dict(zip(rows[RUN_COLUMN].astype(str), rows["n_present"], strict=True))
    per_patient["n_present"] = per_patient["_run"].map(present).fillna(0).astype(int)
    per_patient["_order"] = per_patient["_run"].map(order)
    per_patient = per_patient.sort_values(["patient_id", "n_present", "_order"], ascending=[True, False, True])
    first = per_patient.drop_duplicates("patient_id", keep="first")
    return first.rename(columns={"_run": RUN_COLUMN})[["patient_id", RUN_COLUMN, "score", "n_present"]].reset_index(
        drop=True
    )


def patient_features(
    scores: pd.DataFrame,
    immunosign: str,
    low_quantile: float = DEFAULT_LOW_QUANTILE,
    patients=None,
    coverage: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Patient table columns ``immunosign_score``, ``immunosign_high``, ``immunosign_signature``, ``immunosign_run``.

    ``immunosign_score`` is the patient's baseline score (mean of baseline samples) of
    the signature named ``immunosign``, from one run (:func:`patient_run_choice`; the run
    in ``immunosign_run``); ``immunosign_high`` is whether it reaches the ``low_quantile``
    cut of that run's baseline patient scores (:func:`assign_groups`, per run). Patients
    in ``patients`` without a baseline score (or all patients, when that signature was not
    scored) get empty cells.
    """
    choice = patient_run_choice(scores, immunosign, coverage)
    runs = scores[RUN_COLUMN].astype(str) if RUN_COLUMN in scores.columns else pd.Series("", index=scores.index)
    cuts = {}
    for name in dict.fromkeys(runs):
        per_patient = baseline_patient_scores(scores[(runs == name).to_numpy()])
        cuts[name] = quantile_type7(per_patient.loc[per_patient["signature"] == immunosign, "score"], low_quantile)
    named = scores["patient_id"].dropna().astype(str)  # a sample without a patient feeds no patient row
    ids = sorted(set(named) | set(map(str, patients if patients is not None else [])))
    table = pd.DataFrame({"patient_id": ids})
    chosen = choice.set_index(choice["patient_id"].astype(str))
    table["immunosign_score"] = table["patient_id"].map(chosen["score"])
    run = table["patient_id"].map(chosen[RUN_COLUMN])
    cut = run.map(cuts).astype(float)
    high = pd.Series(pd.NA, index=table.index, dtype="boolean")
    known = table["immunosign_score"].notna()
    high[known] = table.loc[known, "immunosign_score"] >= cut[known]
    table["immunosign_high"] = high
    table["immunosign_signature"] = immunosign if not choice.empty else pd.NA
    table["immunosign_run"] = run.where(known & (run != ""), pd.NA)
    used = sorted(set(run[known]) - {""})
    if len(used) > 1:
        log.warning(
            "immunosign_score of %s comes from %d runs (%s; each patient's from the run whose panel carries most of "
            "its genes, ties by run order): scores of runs normalized separately, or of different CodeSets, are on "
            "different scales, so immunosign_high is cut within each run; treat immunosign_score across runs with care",
            immunosign,
            len(used),
            ", ".join(f"{r}: {int((run[known] == r).sum())} patients" for r in used),
        )
    return table


ORDER_TIMEPOINTS = {"baseline": 0, "on_treatment": 1, "relapse": 2}


def sort_scores(scores: pd.DataFrame, signatures: list[str]) -> pd.DataFrame:
    """Sort long scores by signature (file order), patient, timepoint, sample (deterministic)."""
    order = {name: i for i, name in enumerate(signatures)}
    keyed = scores.assign(
        _s=scores["signature"].map(order),
        _t=scores["timepoint"].map(ORDER_TIMEPOINTS).fillna(len(ORDER_TIMEPOINTS)),
    )
    keyed = keyed.sort_values(["_s", "patient_id", "_t", "timepoint", "sample_id"], kind="stable")
    return keyed.drop(columns=["_s", "_t"]).reset_index(drop=True)


__all__ = [
    "RESOURCE_DIR",
    "METHODS",
    "DEFAULT_MIN_FRACTION",
    "DEFAULT_LOW_QUANTILE",
    "DEFAULT_BELOW_LOD_WARN_FRACTION",
    "DEFAULT_EXCLUDE_BELOW_LOD_FRACTION",
    "BASELINE",
    "COVERAGE_COLUMNS",
    "SCORE_COLUMNS",
    "UnscorableSignatureError",
    "Signature",
    "signature_from_dict",
    "read_signature",
    "signature_path",
    "check_signature_names",
    "Coverage",
    "minimum_present",
    "match_coverage",
    "gene_coverage",
    "score_signature",
    "coverage_row",
    "genes_below_lod",
    "background_summary",
    "score_signatures",
    "quantile_type7",
    "baseline_patient_scores",
    "assign_groups",
    "RUN_COLUMN",
    "patient_run_choice",
    "patient_features",
    "ORDER_TIMEPOINTS",
    "sort_scores",
]
