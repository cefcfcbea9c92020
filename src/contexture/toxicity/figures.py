"""Figures of the toxicity stage: biomarkers by severe vs other immune-related toxicity."""

from __future__ import annotations

__all__ = ["toxicity_figure"]

import logging
import textwrap

import numpy as np
import pandas as pd

from contexture.plotting import OKABE_ITO, TWO_COLUMN_MM, display_label, figure, panel_letters

# matplotlib's PDF backend logs every font subsetting step at INFO; keep rule logs readable.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def toxicity_figure(plot: pd.DataFrame, table: pd.DataFrame, severe_grade: float = 3, labels: dict | None = None):
    """Biomarker by severe vs other toxicity, one panel per (toxicity, biomarker), with p values.

    Panels lettered A, B, ... when there are several; names through ``labels``
    (:func:`contexture.plotting.display_label`).
    """
    panels = list(plot[["toxicity", "biomarker"]].drop_duplicates().itertuples(index=False, name=None))
    if not panels:
        fig, ax = figure(89, 40)
        ax.axis("off")
        ax.text(0.5, 0.5, "No toxicity analysis\n(too few severe events or no biomarkers)", ha="center", va="center")
        return fig, plot
    ncols = min(4, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = figure(TWO_COLUMN_MM if ncols > 2 else 89, 55 * nrows, nrows=nrows, ncols=ncols, squeeze=False)
    labels = [f"grade < {severe_grade:g}", f"grade ≥ {severe_grade:g}"]
    colours = [OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"]]
    for ax, (toxicity, biomarker) in zip(axes.ravel(), panels, strict=False):
        data = plot[(plot["toxicity"] == toxicity) & (plot["biomarker"] == biomarker)]
        groups = [data.loc[~data["severe"], "value"].to_numpy(), data.loc[data["severe"], "value"].to_numpy()]
        ax.boxplot(groups, positions=[0, 1], widths=0.5, showfliers=False, medianprops={"color": "black"})
        rng = np.random.default_rng(0)
        for position, values, colour in zip([0, 1], groups, colours, strict=True):
            ax.scatter(position + rng.uniform(-0.12, 0.12, len(values)), values, s=8, color=colour, zorder=3)
        ax.set_xticks([0, 1], [f"{label}\n(n={len(g)})" for label, g in zip(labels, groups, strict=True)])
        ax.set_ylabel(textwrap.fill(display_label(biomarker, labels), 26))
        found = table[(table["toxicity"] == toxicity) & (table["biomarker"] == biomarker)].set_index("test")["p"]
        text = []
        if "mann_whitney" in found:
            text.append(f"Mann-Whitney p = {found['mann_whitney']:.3g}")
        if "fisher_exact" in found:
            text.append(f"Fisher p = {found['fisher_exact']:.3g}")
        ax.set_title(textwrap.fill(display_label(toxicity, labels), 30) + "\n" + "\n".join(text), fontsize=6)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    if len(panels) > 1:
        panel_letters(axes.ravel()[: len(panels)])
    return fig, plot
