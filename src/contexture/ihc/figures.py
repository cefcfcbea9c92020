"""Figures of the IHC stage; each returns (Figure, source data) for plotting.save_figure."""

from __future__ import annotations

__all__ = ["cell_map", "density_by_phenotype", "immunoscore_distribution", "no_cells_figure", "suvmax_vs_density"]

import numpy as np
import pandas as pd

from contexture.ihc.densities import PHENOTYPES
from contexture.ihc.immunoscore import THREE_GROUPS
from contexture.plotting import GROUP_COLOURS, OKABE_ITO, display_label, figure, panel_letters, plain_log_ticks

IMMUNOSCORE_COLOURS = {label: GROUP_COLOURS[label] for label in ("Low", "Intermediate", "High")}
MAX_MAP_CELLS = 60_000


def density_by_phenotype(slides: pd.DataFrame, columns: tuple[str, ...] = ("cd8_density_tumor", "cd8_density_stromal")):
    """CD8+ density (log scale, +1 cell/mm²) by immune phenotype: tumour core and stroma panels."""
    data = slides[["slide_id", "patient_id", "timepoint", "ihc_phenotype", *columns]].dropna(subset=["ihc_phenotype"])
    fig, axes = figure(140, 65, ncols=len(columns), sharey=True)
    titles = {
        "tumor": "tumour core",
        "stromal": "stroma / margin (max)",
        "stroma": "stroma",
        "margin": "invasive margin",
        "epithelium": "epithelium",
    }
    if "phenotype_regions" in slides.columns and slides["phenotype_regions"].eq("epithelium vs stroma").any():
        # cd8_density_stromal is the stroma where epithelium is annotated (densities.phenotype_inputs).
        mixed = slides["phenotype_regions"].dropna().nunique() > 1
        titles["stromal"] = "stroma, or max(stroma, margin)" if mixed else "stroma"
    for ax, column in zip(np.atleast_1d(axes), columns, strict=True):
        rng = np.random.default_rng(0)  # fixed jitter: identical figures on rerun
        for position, phenotype in enumerate(PHENOTYPES):
            values = data.loc[data["ihc_phenotype"] == phenotype, column].dropna().to_numpy(float) + 1.0
            jitter = rng.uniform(-0.18, 0.18, len(values))
            ax.scatter(position + jitter, values, s=10, color=GROUP_COLOURS[phenotype], alpha=0.8, linewidths=0)
            if len(values):
                ax.hlines(np.median(values), position - 0.3, position + 0.3, color="black", linewidth=1.0)
            ax.text(
                position,
                1.0,
                f"n = {len(values)}",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=6,
            )
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_xticks(range(len(PHENOTYPES)), PHENOTYPES)
        ax.set_xlim(-0.6, len(PHENOTYPES) - 0.4)
        ax.set_title(titles.get(column.rsplit("_", 1)[-1], column), pad=10)
        ax.set_xlabel("Immune phenotype")
    np.atleast_1d(axes)[0].set_ylabel("CD8+ cells per mm² + 1")
    if len(columns) > 1:
        panel_letters(np.atleast_1d(axes))
    return fig, data


def immunoscore_distribution(slides: pd.DataFrame):
    """Histogram of mean Immunoscore percentiles, coloured by category, with the cut-offs."""
    data = slides[["slide_id", "timepoint", "immunoscore_percentile", "immunoscore"]].dropna()
    fig, ax = figure(89, 60)
    bins = np.arange(0, 105, 5)
    bottom = np.zeros(len(bins) - 1)
    for _, label in THREE_GROUPS:
        values = data.loc[data["immunoscore"] == label, "immunoscore_percentile"].to_numpy(float)
        counts, _ = np.histogram(values, bins=bins)
        ax.bar(
            bins[:-1],
            counts,
            width=5,
            bottom=bottom,
            align="edge",
            color=IMMUNOSCORE_COLOURS[label],
            label=f"{label} (n = {len(values)})",
        )
        bottom += counts
    for upper, _ in THREE_GROUPS[:-1]:
        ax.axvline(upper, color="black", linestyle="--", linewidth=0.6)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Mean percentile of CD3/CD8 densities in core and margin (%)")
    ax.set_ylabel("Slides")
    ax.legend(frameon=False, title="Immunoscore")
    return fig, data


def cell_map(cells: pd.DataFrame, slide_id: str, phenotype: str | None = None):
    """Centroids of tumour cells and CD8+ cells of one slide (µm, image orientation)."""
    shown = cells[cells["is_tumor"] | cells["is_cd8"]]
    if len(shown) > MAX_MAP_CELLS:  # deterministic thinning for very large slides
        shown = shown.iloc[:: int(np.ceil(len(shown) / MAX_MAP_CELLS))]
    kind = np.where(shown["is_cd8"], "CD8+", "tumour")
    fig, ax = figure(89, 89)
    for label, colour, size in (("tumour", OKABE_ITO["grey"], 0.6), ("CD8+", OKABE_ITO["blue"], 1.6)):
        selected = shown[kind == label]
        ax.scatter(
            selected["x"],
            selected["y"],
            s=size,
            color=colour,
            linewidths=0,
            label=f"{label} (n = {len(selected)})",
            rasterized=True,
        )
    ax.set_aspect("equal")
    ax.invert_yaxis()  # image coordinates: y grows downwards, as in QuPath
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"{slide_id}" + (f" ({phenotype})" if phenotype else ""))
    ax.legend(frameon=False, markerscale=6, loc="upper right", fontsize=6)
    source = pd.DataFrame({"x_um": shown["x"].to_numpy(), "y_um": shown["y"].to_numpy(), "cell": kind})
    return fig, source


def no_cells_figure(message: str):
    """Placeholder when no cell coordinates exist (density-table input)."""
    fig, ax = figure(89, 40)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig, pd.DataFrame({"note": [message]})


def suvmax_vs_density(
    pairs: pd.DataFrame, correlation: pd.DataFrame, column: str = "cd8_density_tumor", labels: dict | None = None
):
    """SUVmax of the biopsied lesion against its CD8+ density, with Kendall's tau-b per timepoint.

    Log axes with plain tick labels; Kendall's tau-b above the axes and the timepoint
    legend beside them, so neither covers a point.
    """
    fig, ax = figure(89, 70)
    for timepoint, marker in (("baseline", "o"), ("on_treatment", "s")):
        group = pairs[pairs["timepoint"] == timepoint]
        ax.scatter(group[column] + 1.0, group["suvmax"], s=12, marker=marker, label=display_label(timepoint, labels),
                   alpha=0.85, linewidths=0)  # fmt: skip
    other = pairs[~pairs["timepoint"].isin(["baseline", "on_treatment"])]
    if len(other):
        ax.scatter(other[column] + 1.0, other["suvmax"], s=12, label="Other", alpha=0.85, linewidths=0)
    rows = correlation[correlation["density"] == column]
    lines = [
        f"{r['timepoint']}: τb {r['tau']:.2f} ({r['ci_low']:.2f} to {r['ci_high']:.2f}), p = {r['p']:.2g}, "
        f"{int(r['n'])} lesions, {int(r['n_patients'])} patients"
        for _, r in rows.iterrows()
        if pd.notna(r["tau"])
    ]
    title = "Kendall τb per timepoint (CI: bootstrap of patients)"
    ax.set_title("\n".join([title, *lines]), loc="left", fontsize=5.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax.xaxis)
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("CD8+ cells per mm² + 1 (tumour core)")
    ax.set_ylabel("Lesion SUVmax")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="Biopsy")
    source = pairs[["slide_id", "patient_id", "lesion_id", "timepoint", column, "suvmax"]]
    return fig, source
