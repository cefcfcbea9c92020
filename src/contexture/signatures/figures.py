"""Figures of the signatures stage: baseline heat map, paired scores by response, correlations.

Each function takes tidy data (the tables of :mod:`contexture.signatures.expression`)
and returns ``(figure, source_data)``; the workflow saves both with
:func:`contexture.plotting.save_figure`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from contexture.plotting import (
    OKABE_ITO,
    ONE_COLUMN_MM,
    RESPONSE_COLOURS,
    TWO_COLUMN_MM,
    display_label,
    figure,
    panel_letters,
)

RESPONSE_LABELS = {"responder": "responder", "non_responder": "non-responder", "unknown": "unknown"}


def _response_colour(status: str) -> str:
    return RESPONSE_COLOURS.get(status, OKABE_ITO["grey"])


def baseline_heatmap_figure(
    baseline: pd.DataFrame, score: pd.Series, response: pd.Series | None, *, score_label: str
) -> tuple[object, pd.DataFrame]:
    """Heat map of baseline genes (rows, z-scored across patients) x patients ordered by score.

    ``baseline`` is genes x patients (log2); ``score`` the ordering signature's baseline
    score per patient; ``response`` per patient (or None). Returns (figure, source data).
    """
    patients = [p for p in score.sort_values(kind="stable").index if p in baseline.columns]
    data = baseline[patients]
    spread = data.std(axis=1, ddof=1).replace(0, np.nan)
    z = data.sub(data.mean(axis=1), axis=0).div(spread, axis=0).dropna(how="all")
    status = (response.reindex(patients) if response is not None else pd.Series(index=patients, dtype=object)).fillna(
        "unknown"
    )
    height = 30 + 2.6 * len(z)
    fig, axes = figure(
        TWO_COLUMN_MM, min(height, 230), nrows=3, sharex=True, gridspec_kw={"height_ratios": [1.2, 0.5, len(z) / 4 + 1]}
    )
    x = np.arange(len(patients))
    axes[0].bar(x, score.reindex(patients).to_numpy(), color=OKABE_ITO["grey"], width=0.8)
    axes[0].set_ylabel(score_label, rotation=0, ha="right", va="center")
    axes[1].bar(x, np.ones(len(x)), color=[_response_colour(s) for s in status], width=1.0)
    axes[1].set_yticks([])
    axes[1].set_ylabel("response", rotation=0, ha="right", va="center")
    for spine in axes[1].spines.values():
        spine.set_visible(False)
    limit = float(np.nanmax(np.abs(z.to_numpy()))) if z.size else 1.0
    image = axes[2].imshow(
        z.to_numpy(),
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=(-0.5, len(patients) - 0.5, len(z) - 0.5, -0.5),
    )
    axes[2].set_yticks(np.arange(len(z)), z.index)
    axes[2].set_xticks(x, patients, rotation=90)
    axes[2].set_xlabel("patient (ordered by baseline score)")
    fig.colorbar(image, ax=axes[2], label="z-score (log2 expression)", shrink=0.6)
    handles = [Patch(color=_response_colour(s), label=RESPONSE_LABELS.get(s, s)) for s in dict.fromkeys(status)]
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    source = (
        z.rename_axis("gene")
        .reset_index()
        .melt(id_vars="gene", var_name="patient_id", value_name="z_score")
        .merge(score.rename("score").rename_axis("patient_id").reset_index(), on="patient_id", how="left")
        .merge(status.rename("response").rename_axis("patient_id").reset_index(), on="patient_id", how="left")
    )
    return fig, source


def paired_scores_figure(pairs: pd.DataFrame, labels: dict[str, str] | None = None) -> tuple[object, pd.DataFrame]:
    """Per-signature baseline vs on-treatment scores, one line per patient, by response.

    ``pairs`` has ``signature``, ``patient_id``, ``response``, ``baseline``,
    ``on_treatment``. One panel per signature (titles through ``labels``,
    :func:`contexture.plotting.display_label`; lettered A, B, ...), response groups side by side.
    """
    signatures = list(dict.fromkeys(pairs["signature"]))
    n = max(len(signatures), 1)
    fig, axes = figure(TWO_COLUMN_MM, 55, ncols=n, squeeze=False)
    statuses = [s for s in ("responder", "non_responder", "unknown") if s in set(pairs["response"])]
    for ax, signature in zip(axes[0], signatures, strict=False):
        block = pairs[pairs["signature"] == signature]
        for k, status in enumerate(statuses):
            rows = block[block["response"] == status]
            offset = 2.5 * k
            for _, row in rows.iterrows():
                ax.plot(
                    [offset, offset + 1],
                    [row["baseline"], row["on_treatment"]],
                    color=_response_colour(status),
                    alpha=0.6,
                    marker="o",
                    markersize=2,
                )
            if len(rows):
                ax.plot(
                    [offset, offset + 1],
                    [rows["baseline"].median(), rows["on_treatment"].median()],
                    color="black",
                    linewidth=2,
                )
        ax.set_xticks(
            [x for k in range(len(statuses)) for x in (2.5 * k, 2.5 * k + 1)], ["pre", "post"] * len(statuses)
        )

        ax.set_title(textwrap.fill(display_label(signature, labels), 22), fontsize=6)
        ax.set_ylabel("score")
    if len(signatures) > 1:
        panel_letters(axes[0][: len(signatures)])
    # Pairs of ticks are pre/post per response group, in the legend's order and colours.
    handles = [Patch(color=_response_colour(s), label=display_label(s, labels)) for s in statuses]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
                   title="Response (tick pairs left to right)")  # fmt: skip
    return fig, pairs


def correlation_figure(correlations: pd.DataFrame, alpha: float = 0.05) -> tuple[object, pd.DataFrame]:
    """Matrix of Spearman rho (chemokine/cytokine genes x T-cell genes); * marks q < alpha."""
    rho = correlations.pivot(index="gene", columns="tcell_gene", values="rho")
    q = correlations.pivot(index="gene", columns="tcell_gene", values="q")
    rows = list(dict.fromkeys(correlations["gene"]))
    cols = list(dict.fromkeys(correlations["tcell_gene"]))
    rho, q = rho.reindex(index=rows, columns=cols), q.reindex(index=rows, columns=cols)
    fig, ax = figure(ONE_COLUMN_MM, 25 + 5 * max(len(rows), 1))
    image = ax.imshow(rho.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(cols)), cols, rotation=90)
    ax.set_yticks(np.arange(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            value = rho.iat[i, j]
            if pd.notna(value):
                star = "*" if pd.notna(q.iat[i, j]) and q.iat[i, j] < alpha else ""
                ax.text(j, i, f"{value:.2f}{star}", ha="center", va="center", fontsize=5)
    fig.colorbar(image, ax=ax, label="Spearman rho (baseline)", shrink=0.8)
    return fig, correlations


__all__ = [
    "RESPONSE_LABELS",
    "baseline_heatmap_figure",
    "paired_scores_figure",
    "correlation_figure",
]
