"""Report captions of the signatures stage: scores, paired changes, heat map, correlations."""

from __future__ import annotations

from contexture.captioning import Cohort, Facts, format_p, matching_row, number, patient_count


def _signature_changes(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    changes = c.table("tables/expression_changes.tsv")
    parts = []
    for signature, rows in source.groupby("signature", sort=False):
        paired = rows.dropna(subset=["baseline", "on_treatment"])
        counts = paired["response"].value_counts()
        text = (
            f"{signature}: n = {len(paired)} paired patients (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
        )
        for comparison, test in (("all", "Wilcoxon signed-rank"), ("responder_vs_non_responder", "Mann-Whitney U")):
            row = matching_row(changes, feature_type="signature", feature=signature, comparison=comparison)
            if row is not None:
                text += f"; {test} ({comparison.replace('_', ' ')}) {format_p(row['p'])}"
        parts.append(text)
    return "Signature scores before and after treatment by response", "; ".join(parts) or "n = 0 paired patients"


def _heatmap(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return (
        "Baseline immune gene expression",
        f"n = {source['patient_id'].nunique()} patients, {source['gene'].nunique()} genes (z-scores; no test)",
    )


def _correlations(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/expression_correlations.tsv")
    if table.empty:
        return "Chemokine and cytokine vs T-cell gene correlations", "n = 0 gene pairs"
    significant = int((table["q"] < 0.05).sum())
    strongest = table.loc[table["rho"].abs().idxmax()]
    return (
        "Chemokine and cytokine vs T-cell gene correlations",
        f"n = {int(table['n'].max())} baseline samples, {len(table)} gene pairs; Spearman rho, "
        f"Benjamini-Hochberg q < 0.05 for {significant} pairs; strongest {strongest['gene']}-"
        f"{strongest['tcell_gene']} rho = {number(strongest['rho'])}, {format_p(strongest['p'])}",
    )


def _signature_scores(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/signature_scores.tsv")
    return (
        "Signature scores",
        f"n = {table['sample_id'].nunique()} samples of {patient_count(table)} patients, "
        f"{table['signature'].nunique()} signatures",
    )


def _expression_changes(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/expression_changes.tsv")
    paired = table[table["comparison"] == "all"]
    return (
        "Expression changes",
        f"n = {int(paired['n'].max()) if len(paired) else 0} paired patients, {table['feature'].nunique()} features; "
        f"Wilcoxon signed-rank within groups, Mann-Whitney U between; {int((table['q'] < 0.05).sum())} "
        "tests with BH q < 0.05",
    )


FACTS: dict[str, Facts] = {
    "signature_changes_by_response.png": _signature_changes,
    "immune_genes_baseline_heatmap.png": _heatmap,
    "chemokine_tcell_correlations.png": _correlations,
    "signature_scores.tsv": _signature_scores,
    "expression_changes.tsv": _expression_changes,
    "expression_correlations.tsv": _correlations,
}


__all__ = [
    "FACTS",
]
