"""IHC against PET, and paired pre/on-treatment change of density.

PET: a slide's ``lesion_id`` names the PET lesion it was biopsied from; pairs are
matched on (``patient_id``, ``lesion_id``, ``timepoint``) with ``tables/lesions.tsv``.
The association of CD8+ density with SUVmax is Kendall's tau-b
(``scipy.stats.kendalltau(x, y, variant="b")``; R: ``cor.test(x, y, method =
"kendall")``, which gives tau-b and, without ties and n < 50, the exact p-value as
scipy's ``method="auto"`` does), the rank correlation the 89ZED88082A study used
between CD8 IHC and tracer uptake (Kist de Ruijter et al., Nat Med 2022;28:2601-2610).

Paired change: for patients with a baseline and an on-treatment slide, the change of
CD8+ density (on - baseline, cells/mm²) and its log2 ratio with a pseudocount of
1 cell/mm² (``log2((on + 1) / (baseline + 1))``, so zero densities stay finite),
tested with the Wilcoxon signed-rank test with R's rules
(:func:`contexture.stats.rank_tests.signed_rank_test`, two-sided; R:
``wilcox.test(on, baseline, paired = TRUE)``: zero changes dropped, exact p below 50
non-zero changes without ties or zeros, otherwise the normal approximation with tie and
continuity correction), as the signatures stage tests its paired changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from contexture.stats.rank_tests import signed_rank_test

PSEUDOCOUNT_PER_MM2 = 1.0


def kendall_tau_b(x: np.ndarray | pd.Series, y: np.ndarray | pd.Series) -> dict[str, float]:
    """Kendall's tau-b of complete pairs with its two-sided p-value and n."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    complete = ~(np.isnan(x) | np.isnan(y))
    n = int(complete.sum())
    if n < 3:
        return {"n": n, "tau": np.nan, "p": np.nan}
    result = stats.kendalltau(x[complete], y[complete], variant="b")
    return {"n": n, "tau": float(result.statistic), "p": float(result.pvalue)}


def pair_with_lesions(slides: pd.DataFrame, lesions: pd.DataFrame) -> pd.DataFrame:
    """Slides with a ``lesion_id`` joined to that lesion's PET row at the same timepoint."""
    with_lesion = slides[slides["lesion_id"].notna() & (slides["lesion_id"].astype(str) != "")]
    keys = ["patient_id", "lesion_id", "timepoint"]
    pet = lesions[[*keys, "suvmax"]].copy()
    for key in keys:
        pet[key] = pet[key].astype(str)
    with_lesion = with_lesion.assign(**{key: with_lesion[key].astype(str) for key in keys})
    return with_lesion.merge(pet, on=keys, how="inner", validate="many_to_one").sort_values("slide_id")


def pet_correlation(pairs: pd.DataFrame, density_columns: list[str]) -> pd.DataFrame:
    """Kendall's tau-b of each density column with SUVmax, per timepoint and pooled."""
    rows = []
    for timepoint, group in [("all", pairs), *sorted(pairs.groupby("timepoint"), key=lambda item: str(item[0]))]:
        for column in density_columns:
            result = kendall_tau_b(group[column], group["suvmax"])
            rows.append({"timepoint": timepoint, "density": column, **result, "method": "Kendall tau-b"})
    return pd.DataFrame(rows, columns=["timepoint", "density", "n", "tau", "p", "method"])


def paired_change(
    features: pd.DataFrame,
    columns: list[str],
    *,
    baseline: str = "baseline",
    on_treatment: str = "on_treatment",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-patient change of each density column between baseline and on-treatment.

    ``features`` has one row per (patient, timepoint) (``patient_id``, ``timepoint`` and
    ``columns``). Returns (per-patient long table, per-column summary with n, median
    change, median log2 ratio and the Wilcoxon signed-rank p-value).
    """
    wide = features[features["timepoint"].isin([baseline, on_treatment])].pivot(
        index="patient_id", columns="timepoint", values=columns
    )
    per_patient = []
    summary = []
    for column in columns:
        if (column, baseline) not in wide.columns or (column, on_treatment) not in wide.columns:
            continue
        before = wide[(column, baseline)]
        after = wide[(column, on_treatment)]
        both = before.notna() & after.notna()
        table = pd.DataFrame(
            {
                "patient_id": wide.index[both],
                "density": column,
                "baseline": before[both].to_numpy(),
                "on_treatment": after[both].to_numpy(),
            }
        )
        table["change"] = table["on_treatment"] - table["baseline"]
        table["log2_ratio"] = np.log2(
            (table["on_treatment"] + PSEUDOCOUNT_PER_MM2) / (table["baseline"] + PSEUDOCOUNT_PER_MM2)
        )
        per_patient.append(table)
        differences = table["change"].to_numpy()
        p = np.nan
        if len(table) >= 2 and np.any(differences != 0):
            p = signed_rank_test(table["on_treatment"], table["baseline"]).p
        summary.append(
            {
                "density": column,
                "n": len(table),
                "median_change": float(np.median(differences)) if len(table) else np.nan,
                "median_log2_ratio": float(table["log2_ratio"].median()) if len(table) else np.nan,
                "p": p,
                "method": "Wilcoxon signed-rank",
            }
        )
    columns_out = ["patient_id", "density", "baseline", "on_treatment", "change", "log2_ratio"]
    per_patient_table = pd.concat(per_patient, ignore_index=True) if per_patient else pd.DataFrame(columns=columns_out)
    summary_table = pd.DataFrame(summary, columns=["density", "n", "median_change", "median_log2_ratio", "p", "method"])
    return per_patient_table.sort_values(["density", "patient_id"], kind="stable").reset_index(drop=True), summary_table
