"""Methods paragraph of the signatures stage: scoring, coverage, high/low groups, changes.

Options (gene fraction, low quantile, pre/post timepoints) are the run's ``signatures``
section; which signatures were scored, partial or skipped, and the proxy's gene count
come from ``tables/signature_coverage.tsv``.
"""

from __future__ import annotations

from pathlib import Path

from contexture.io import read_result_table


def _timepoint(name: str) -> str:
    return name.replace("_", "-")


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
    for row in coverage.itertuples(index=False):
        if row.status == "skipped":
            text.append(f"{row.signature} was not scored (panel lacks {str(row.missing_genes).replace(',', ', ')}).")
        elif row.status == "partial":
            text.append(
                f"{row.signature} was scored from {row.n_present} of {row.n_genes} genes "
                f"(missing {str(row.missing_genes).replace(',', ', ') or 'none'})."
            )
    text.append(
        f"High and low groups were cut at the {options['low_quantile']:.0%} quantile (R type 7) of baseline patient "
        f"scores (Scholler et al. 2022). Paired changes from {_timepoint(options['pre_timepoint'])} to "
        f"{_timepoint(options['post_timepoint'])} were tested with the "
        "Wilcoxon signed-rank test within responders and non-responders and compared between them "
        "with the Mann-Whitney test; chemokine and cytokine genes were correlated with T-cell genes "
        "at baseline by Spearman's rho. P-values were adjusted by Benjamini-Hochberg."
    )
    return " ".join(text)
