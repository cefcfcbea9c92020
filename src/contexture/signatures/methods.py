"""Methods paragraph of the signatures stage: scoring, coverage, high/low groups, changes.

Options (gene fraction, low quantile, pre/post timepoints) are the run's ``signatures``
section; which signatures were scored, partial or skipped, and the proxy's gene count
come from ``tables/signature_coverage.tsv`` (one row per run and signature); with several
runs, the pairs left out across runs from ``nanostring/samples.tsv``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from contexture.io import read_result_table
from contexture.nanostring.normalization import QCThresholds
from contexture.signatures.scores import minimum_present


def _timepoint(name: str) -> str:
    return name.replace("_", "-")


def _genes(text) -> str:
    return ", ".join(g for g in str(text or "").split(",") if g)


def skip_reason(row, min_fraction: float) -> str:
    """Why a signature was skipped, from its ``signature_coverage.tsv`` row.

    Too few genes or normalizer genes (counted against ``min_fraction`` as
    :func:`contexture.signatures.scores.gene_coverage` does), else the recorded message
    (too few baseline samples or constant genes for a z-score signature).
    """
    reasons = []
    needed = minimum_present(int(row.n_genes), min_fraction)
    if int(row.n_present) < needed:
        reasons.append(
            f"{int(row.n_present)} of its {int(row.n_genes)} genes measured, at least {needed} needed; "
            f"missing {_genes(row.missing_genes)}"
        )
    normalizers = int(row.n_normalizers or 0)
    if normalizers and int(row.n_normalizers_present) < minimum_present(normalizers, min_fraction):
        reasons.append(
            f"{int(row.n_normalizers_present)} of its {normalizers} normalizer genes measured; "
            f"missing {_genes(row.missing_normalizers)}"
        )
    if not reasons:
        reasons.append(
            re.sub(r"^signature '[^']*'(?: \(method [^)]*\))?(?: cannot be scored)?:?\s*", "", str(row.message or ""))
        )
    return "; ".join(reasons)


def _responders(cohort_config: dict) -> str:
    """`` (responders: best overall response CR or PR)`` from ``response.responder``."""
    responses = (cohort_config.get("response") or {}).get("responder")
    if not responses:
        return ""
    listed = ", ".join(responses[:-1]) + (" or " if len(responses) > 1 else "") + responses[-1]
    return f" (responders: best overall response {listed})"


def background_sentences(coverage, cohort_config: dict) -> list[str]:
    """What the run did with genes at or below the lanes' limit of detection (none without the columns)."""
    if "fraction_below_lod" not in coverage.columns or coverage["fraction_below_lod"].isna().all():  # no lane limits
        return []
    options = cohort_config["signatures"]
    qc = (cohort_config.get("nanostring") or {}).get("qc") or {}
    k = qc.get("lod_sd_multiplier", QCThresholds().lod_sd_multiplier)
    text = []
    if options["exclude_below_lod"]:
        excluded = [
            f"{row.signature} ({_genes(row.excluded_below_lod)})"
            for row in coverage.itertuples(index=False)
            if pd.notna(row.excluded_below_lod) and str(row.excluded_below_lod)
        ]
        text.append(
            "Genes whose raw count was at or below their lane's limit of detection (mean + "
            f"{k:g} SD of the negative controls) in more than {options['exclude_below_lod_fraction']:.0%} of the "
            "samples were left out of the scores, as in NanoTube's background filter (Class et al. 2023)"
            + (f": {'; '.join(excluded)}." if excluded else "; no signature gene was.")
        )
    flagged = [
        f"{row.signature} {int(row.n_samples_flagged_below_lod)} of {int(row.n_samples)}"
        for row in coverage.itertuples(index=False)
        if row.status != "skipped" and pd.notna(row.n_samples_flagged_below_lod) and row.n_samples_flagged_below_lod > 0
    ]
    text.append(
        f"Scores with more than {options['below_lod_warn_fraction']:.0%} of their genes at or below the lane's limit "
        f"of detection (raw count at most mean + {k:g} SD of the negative controls) were flagged"
        + (f" ({'; '.join(flagged)} samples)." if flagged else "; none was.")
    )
    return text


def run_sentences(cohort_dir: Path, coverage, options: dict) -> list[str]:
    """How a cohort of several runs (``run`` column) was scored and paired; none for one run.

    The number of patients left out of the paired changes because their ``pre`` and
    ``post`` samples are in different runs comes from ``nanostring/samples.tsv``
    (:func:`contexture.signatures.expression.cross_run_patients`, analysed samples only).
    """
    if "run" not in coverage.columns or coverage["run"].nunique() < 2:
        return []
    from contexture.signatures.expression import analysis_samples, cross_run_patients

    runs = list(dict.fromkeys(coverage["run"].astype(str)))
    text = [
        f"The {len(runs)} NanoString runs ({', '.join(runs)}) were scored separately, each on the genes its panel "
        "carries, z-scores standardized and high/low groups cut within each run. A patient's baseline score (the "
        "patient-level feature) was taken from the run whose panel measured most of the signature's genes, ties "
        "broken by run order; scores of two runs were never averaged."
    ]
    samples_path = Path(cohort_dir) / "nanostring" / "samples.tsv"
    if samples_path.is_file():
        samples = read_result_table(samples_path)
        included = samples[samples["included"].astype(bool)] if "included" in samples.columns else samples
        analysed = analysis_samples(included, included["sample_id"].astype(str), file=str(samples_path))
        crossed = cross_run_patients(analysed, options["pre_timepoint"], options["post_timepoint"])
        text.append(
            "Paired changes were formed only from two samples of one run; "
            + (
                f"{len(crossed)} patient(s) whose {_timepoint(options['pre_timepoint'])} and "
                f"{_timepoint(options['post_timepoint'])} samples were in different runs were left out, as values "
                "normalized in different runs are not comparable."
                if crossed
                else "no patient had its two samples only in different runs."
            )
        )
    return text


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """Signature scoring (``""`` when ``tables/signature_coverage.tsv`` is absent)."""
    path = Path(cohort_dir) / "tables" / "signature_coverage.tsv"
    if not path.is_file():
        return ""
    coverage = read_result_table(path)
    options = cohort_config["signatures"]
    text = [
        "## Gene expression signatures\n",
        "Signature scores were computed from log2 normalized NanoString expression: the mean of "
        "log2 expression (CYT, Rooney et al. 2015: the log2 geometric mean of GZMA and PRF1; the "
        "Ayers et al. 2017 IFN-gamma and expanded immune signatures), the T-cell-inflamed gene "
        "expression profile as the weighted sum of housekeeping-normalized log expression (Ayers "
        "et al. 2017; weights of Cristescu et al. 2018), and z-score means standardized on the "
        "cohort's baseline samples.",
    ]
    proxies = coverage[coverage["proxy"]]
    if not proxies.empty:
        text.append(
            f"The Immunosign 21 gene list is proprietary; a documented {int(proxies['n_genes'].iloc[0])}-gene public "
            "proxy covering its published categories was scored instead and is reported as a proxy."
        )
    text.append(
        f"Signatures were scored when at least {options['min_gene_fraction']:.0%} of their genes were measured"
        + (
            "; weighted signatures were also scored with weighted genes missing, with the published weights of "
            "the genes present."
            if options["allow_partial_weighted"]
            else "; weighted signatures (the gene expression profile) only with all their weighted genes."
        )
    )
    several = "run" in coverage.columns and coverage["run"].nunique() > 1
    for row in coverage.itertuples(index=False):
        where = f" in run {row.run}" if several else ""
        if row.status == "skipped":
            text.append(f"{row.signature} was not scored{where} ({skip_reason(row, options['min_gene_fraction'])}).")
        elif row.status == "partial":
            text.append(
                f"{row.signature} was scored{where} from {row.n_present} of {row.n_genes} genes "
                f"(missing {str(row.missing_genes).replace(',', ', ') or 'none'})."
            )
    text.extend(run_sentences(cohort_dir, coverage, options))
    text.extend(background_sentences(coverage, cohort_config))
    if not (coverage["status"] != "skipped").any():
        text.append("No signature could be scored, so no high/low groups, changes or correlations were analysed.")
        return " ".join(text)
    text.append(
        f"High and low groups were cut at the {options['low_quantile']:.0%} quantile (R type 7) of baseline patient "
        f"scores (Scholler et al. 2022). Paired changes from {_timepoint(options['pre_timepoint'])} to "
        f"{_timepoint(options['post_timepoint'])} were tested with the "
        "Wilcoxon signed-rank test within responders and non-responders"
        + _responders(cohort_config)
        + " and compared between them "
        "with the Mann-Whitney test; chemokine and cytokine genes were correlated with T-cell genes "
        "at baseline by Spearman's rho. P-values were adjusted by Benjamini-Hochberg."
    )
    return " ".join(text)


__all__ = [
    "skip_reason",
    "background_sentences",
    "run_sentences",
    "methods_paragraph",
]
