"""A small simulator of log2 normalized immune gene expression, for the signature tests.

Model (log2 expression of gene g, patient i, timepoint t):

    x_git = mu_g + loading_g * f_i + effect_g * responder_i * [t = on_treatment] + e_git

with gene levels mu_g ~ U(6, 11), a patient "immune infiltration" factor f_i ~ N(0, 1)
shared by the T-cell, chemokine and interferon genes (loading 0.8; it makes those genes
correlate across patients), e ~ N(0, noise_sd^2) independently per sample, and on
treatment a rise of ``tcell_effect`` (log2) in the T-cell/IFN genes and a fall of
``bcell_effect`` in the B-cell lineage genes, in responders only. Normalizer and
"null" genes carry neither factor nor effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TCELL_GENES = (
    "CD3E", "CD8A", "CD4", "CD27", "GZMA", "GZMB", "PRF1", "GNLY", "NKG7", "IFNG", "STAT1", "IDO1",
    "HLA-DRA", "CXCL9", "CXCL10", "CXCL13", "CCL5", "CCR5", "PDCD1", "CD274", "LAG3", "TIGIT",
    "PDCD1LG2", "CD276", "CMKLR1", "PSMB10", "HLA-E", "TAGAP",
)  # fmt: skip
CHEMOKINE_GENES = ("CCL22", "CXCL14", "IL15", "IL7", "IL18", "IL21")
BCELL_GENES = ("CD19", "MS4A1", "CD79A", "CD79B", "PAX5")
NORMALIZER_GENES = ("ABCF1", "G6PD", "NRDE2", "OAZ1", "POLR2A", "SDHA", "STK11IP", "TBC1D10B", "TBP", "UBB", "ZBTB34")


def simulate_expression(
    n_patients: int = 40,
    *,
    seed: int = 0,
    n_null_genes: int = 20,
    tcell_effect: float = 1.0,
    bcell_effect: float = -1.0,
    noise_sd: float = 0.5,
    responder_fraction: float = 0.5,
    loading: float = 0.8,
    timepoints: tuple[str, ...] = ("baseline", "on_treatment"),
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (matrix with a ``name`` column, samples table, truth per patient)."""
    rng = np.random.default_rng(seed)
    nulls = tuple(f"NULL{i:04d}" for i in range(n_null_genes))
    genes = TCELL_GENES + CHEMOKINE_GENES + BCELL_GENES + NORMALIZER_GENES + nulls
    mu = rng.uniform(6, 11, len(genes))
    factor_loading = np.array([loading if g in TCELL_GENES + CHEMOKINE_GENES else 0.0 for g in genes])
    effect = np.array([tcell_effect if g in TCELL_GENES else bcell_effect if g in BCELL_GENES else 0.0 for g in genes])
    patients = [f"P{i:03d}" for i in range(1, n_patients + 1)]
    responder = rng.permutation(np.arange(n_patients) < round(responder_fraction * n_patients))
    infiltration = rng.normal(0, 1, n_patients)
    columns, rows = {}, []
    for i, patient in enumerate(patients):
        for timepoint in timepoints:
            sample = f"{patient}_{timepoint}"
            shift = effect * responder[i] if timepoint == "on_treatment" else 0.0
            columns[sample] = mu + factor_loading * infiltration[i] + shift + rng.normal(0, noise_sd, len(genes))
            rows.append({"sample_id": sample, "patient_id": patient, "timepoint": timepoint, "included": True})
    matrix = pd.DataFrame(columns, index=pd.Index(genes, name="name")).reset_index()
    samples = pd.DataFrame(rows)
    truth = pd.DataFrame({"patient_id": patients, "responder": responder, "infiltration": infiltration})
    return matrix, samples, truth
