"""Recovery: simulated responder-specific changes are found; null simulations stay at 5 %."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from contexture.signatures.expression import (
    expression_changes,
    expression_matrix,
    patient_means,
    read_gene_list,
    responder_status,
    spearman_correlations,
)
from contexture.signatures.scores import RESOURCE_DIR, read_signature, score_signatures
from tests.unit.signatures.expression_sim import BCELL_GENES, CHEMOKINE_GENES, TCELL_GENES, simulate_expression

pytestmark = pytest.mark.recovery


def binomial_interval(n: int, p: float = 0.05, level: float = 0.99) -> tuple[float, float]:
    """Central interval of the fraction of n Bernoulli(p) trials (for false-positive rates)."""
    low, high = stats.binom.interval(level, n, p)
    return low / n, high / n


@pytest.fixture(scope="module")
def simulated():
    matrix, samples, truth = simulate_expression(60, seed=11, tcell_effect=1.0, bcell_effect=-1.0)
    expression = expression_matrix(matrix)
    signatures = [read_signature(RESOURCE_DIR / f"{n}.yaml") for n in ("immunosign21_proxy", "cyt")]
    scores, _ = score_signatures(expression, samples, signatures)
    response = responder_status(truth)
    return expression, samples, truth, expression_changes(expression, samples, scores, response)


def test_responder_changes_are_recovered(simulated):
    _, _, truth, table = simulated
    genes = table[table["feature_type"] == "gene"].set_index(["feature", "comparison"])
    for gene in TCELL_GENES:
        assert genes.loc[(gene, "responder"), "q"] < 0.05, gene
        assert genes.loc[(gene, "responder_vs_non_responder"), "q"] < 0.05, gene
        assert genes.loc[(gene, "responder"), "estimate"] == pytest.approx(1.0, abs=0.45)
    for gene in BCELL_GENES:
        assert genes.loc[(gene, "responder"), "q"] < 0.05 and genes.loc[(gene, "responder"), "estimate"] < 0, gene
        assert genes.loc[(gene, "responder_vs_non_responder"), "estimate"] < 0
    # non-responders: no true change; allow the odd false positive
    non = genes.xs("non_responder", level="comparison")
    assert (non.loc[list(TCELL_GENES + BCELL_GENES), "q"] < 0.05).sum() <= 1
    assert genes.loc[("CD3E", "responder"), "n"] == truth["responder"].sum()
    signatures = table[table["feature_type"] == "signature"].set_index(["feature", "comparison"])
    for name in ("immunosign21_proxy", "cyt"):
        assert signatures.loc[(name, "responder"), "q"] < 0.05 and signatures.loc[(name, "responder"), "estimate"] > 0
        assert signatures.loc[(name, "responder_vs_non_responder"), "p"] < 0.05
        assert signatures.loc[(name, "non_responder"), "p"] > 0.05


def test_null_simulation_keeps_the_nominal_false_positive_rate():
    matrix, samples, truth = simulate_expression(
        30, seed=5, n_null_genes=600, tcell_effect=0.0, bcell_effect=0.0, loading=0.0
    )
    expression = expression_matrix(matrix)
    table = expression_changes(expression, samples, None, responder_status(truth))
    low, high = binomial_interval(len(expression))
    for comparison, rows in table.groupby("comparison"):
        rate = float((rows["p"] < 0.05).mean())
        assert low <= rate <= high, (comparison, rate, (low, high))
        assert (rows["q"] < 0.05).sum() <= 2


def test_chemokines_correlate_with_tcell_genes_and_null_genes_do_not(simulated):
    expression, samples, _, _ = simulated
    baseline = patient_means(expression, samples, "baseline")
    chemokines = read_gene_list(pd.DataFrame({"gene": list(CHEMOKINE_GENES) + [f"NULL{i:04d}" for i in range(20)]}))
    tcell = read_gene_list(pd.read_csv(RESOURCE_DIR.parent / "expression" / "tcell_genes.tsv", sep="\t"))
    table = spearman_correlations(baseline, chemokines, tcell)
    assert len(table) == (len(CHEMOKINE_GENES) + 20) * 5
    real = table[table["gene"].isin(CHEMOKINE_GENES)]
    null = table[~table["gene"].isin(CHEMOKINE_GENES)]
    assert (real["q"] < 0.05).all() and (real["rho"] > 0.3).all()
    assert (null["q"] < 0.05).mean() <= 0.05
    assert np.isfinite(table["rho"]).all()
