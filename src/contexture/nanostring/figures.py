"""QC figures of the NanoString stage: one function per figure, tidy data in, Figure out.

Each function returns ``(figure, source_data)``; the rule saves both with
:func:`contexture.plotting.save_figure`. Lanes failing QC are drawn in vermillion,
passing lanes in blue; dashed lines are the QC thresholds used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.nanostring.normalization import relative_log_expression
from contexture.plotting import OKABE_ITO, TWO_COLUMN_MM, figure, plain_log_ticks

PASS, FAIL = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
# Up to this many lanes each is named and the RLE is one box per lane; beyond, lanes are
# unnamed and the RLE is drawn as bands (_rle_bands).
LABELLED_LANES = 80


def _lane_axis(ax, lanes: pd.DataFrame) -> np.ndarray:
    x = np.arange(len(lanes))
    if len(lanes) > LABELLED_LANES:
        # Too many to read: no tick labels (made and then removed, 1,500 of them took
        # seconds to lay out).
        ax.set_xticks([])
        ax.set_xlabel(f"lanes (n = {len(lanes)})")
        return x
    ax.set_xticks(x)
    ax.set_xticklabels(lanes["sample_id"], rotation=90, fontsize=4 if len(lanes) > 30 else 5)
    return x


def _colours(lanes: pd.DataFrame) -> list[str]:
    return [PASS if ok else FAIL for ok in lanes["qc_pass"].astype(bool)]


def _width(lanes: pd.DataFrame) -> float:
    return min(TWO_COLUMN_MM, 60 + 3 * len(lanes))


def binding_density_figure(lanes: pd.DataFrame, minimum: float):
    fig, ax = figure(_width(lanes), 70)
    x = _lane_axis(ax, lanes)
    ax.bar(x, lanes["binding_density"], color=_colours(lanes))
    ax.axhline(minimum, ls="--", lw=0.6, color="black")
    for limit in sorted(set(lanes["binding_density_max"])):
        ax.axhline(limit, ls="--", lw=0.6, color="black")
    ax.set_ylabel("binding density (spots per µm²)")
    ax.set_title("Binding density by lane")
    return fig, lanes[["sample_id", "binding_density", "binding_density_max", "flag_binding_density", "qc_pass"]]


def imaging_figure(lanes: pd.DataFrame, minimum_ratio: float):
    fig, ax = figure(_width(lanes), 70)
    x = _lane_axis(ax, lanes)
    ax.bar(x, lanes["fov_ratio"], color=_colours(lanes))
    ax.axhline(minimum_ratio, ls="--", lw=0.6, color="black")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("FOV counted / FOV count")
    ax.set_title("Imaging QC by lane")
    return fig, lanes[["sample_id", "fov_count", "fov_counted", "fov_ratio", "flag_imaging", "qc_pass"]]


def positive_linearity_figure(raw_counts: pd.DataFrame, lanes: pd.DataFrame, concentrations: dict[str, float]):
    positive = raw_counts[raw_counts["code_class"].astype(str).str.startswith("Positive")]
    samples = list(lanes["sample_id"])
    long = positive.melt(id_vars=["code_class", "name", "accession"], value_vars=samples, var_name="sample_id")
    long = long[long["value"].notna()]  # several runs: a run's probes are empty in the others' lanes
    long["concentration_fm"] = long["name"].map(concentrations)
    long = long.merge(lanes[["sample_id", "qc_pass", "positive_linearity_r2"]], on="sample_id")
    columns = ["sample_id", "name", "concentration_fm", "value", "positive_linearity_r2", "qc_pass"]
    if not long["concentration_fm"].notna().any():
        # PlexSet: POS_1-POS_8 are one ERCC at one concentration, so there is no titration
        # to draw (lanes.tsv's qc_not_applicable says so); a note, not empty axes.
        fig, ax = figure(TWO_COLUMN_MM, 30)
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            "Positive-control linearity does not apply: no positive control of these lanes has a "
            "titrated concentration (PlexSet POS_1-POS_8 are one ERCC at one concentration).",
            ha="center",
            va="center",
            wrap=True,
        )
        return fig, long[columns]
    fig, (left, right) = figure(TWO_COLUMN_MM, 70, ncols=2)
    for _sample, part in long.groupby("sample_id", sort=True):
        part = part.sort_values("concentration_fm")
        left.plot(
            np.log2(part["concentration_fm"]),
            np.log2(np.maximum(part["value"].astype(float), 1)),
            color=PASS if part["qc_pass"].iat[0] else FAIL,
            lw=0.5,
            alpha=0.6,
            marker="o",
            ms=1.5,
        )
    left.set_xlabel("log2 concentration (fM)")
    left.set_ylabel("log2 count")
    left.set_title("Positive controls (R² over POS_A-E)")
    x = _lane_axis(right, lanes)
    right.scatter(x, lanes["positive_linearity_r2"], color=_colours(lanes), s=6)
    right.set_ylabel("R² (log2 count ~ log2 concentration)")
    right.set_title("Positive-control linearity by lane")
    return fig, long[columns]


def factors_figure(lanes: pd.DataFrame, positive_range, housekeeping_range):
    fig, (top, bottom) = figure(_width(lanes), 100, nrows=2, sharex=True)
    for ax, column, limits, label in (
        (top, "pos_factor", positive_range, "positive factor"),
        (bottom, "hk_factor", housekeeping_range, "housekeeping factor"),
    ):
        x = np.arange(len(lanes))
        ax.scatter(x, lanes[column], color=_colours(lanes), s=8)
        for limit in limits:
            ax.axhline(limit, ls="--", lw=0.6, color="black")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_ylabel(label)
    _lane_axis(bottom, lanes)
    top.set_title("Normalization factors by lane")
    return fig, lanes[
        ["sample_id", "positive_geomean", "pos_factor", "housekeeping_geomean_scaled", "hk_factor", "qc_pass"]
    ]


def _rle_bands(ax, values: list[np.ndarray]) -> None:
    """The boxplot's statistics (matplotlib's ``boxplot_stats``: quartiles, median, whiskers
    at the furthest values within 1.5 IQR) drawn as one line per lane: whisker range thin
    and grey, interquartile range thick, median a vermillion dot. With more lanes than
    points of width, box outlines merge into a black band (and 1,500 boxplot artists
    took seconds to draw)."""
    from matplotlib.cbook import boxplot_stats

    stats = boxplot_stats(values)
    x = np.arange(1, len(stats) + 1)
    ax.vlines(x, [s["whislo"] for s in stats], [s["whishi"] for s in stats], color=OKABE_ITO["grey"], lw=0.3)
    ax.vlines(x, [s["q1"] for s in stats], [s["q3"] for s in stats], color="black", lw=0.8)
    ax.plot(x, [s["med"] for s in stats], ls="none", marker=".", ms=1.5, mew=0, color=OKABE_ITO["vermillion"])
    ax.set_xlim(0.5, len(stats) + 0.5)


def rle_figure(log2_before: pd.DataFrame, log2_after: pd.DataFrame, method: str):
    """Relative log expression boxplots per sample, before (log2 raw) and after normalization
    (bands instead of boxes beyond :data:`LABELLED_LANES` samples)."""
    fig, axes = figure(_width(pd.DataFrame({"sample_id": log2_after.columns[1:]})), 110, nrows=2, sharex=True)
    rows = []
    for ax, frame, title in (
        (axes[0], log2_before, "log2 raw counts"),
        (axes[1], log2_after, f"normalized ({method})"),
    ):
        rle = relative_log_expression(frame.set_index("name"))
        values = [rle[c].dropna().to_numpy() for c in rle.columns]  # several runs: other runs' genes empty
        if len(values) > LABELLED_LANES:
            _rle_bands(ax, values)
        else:
            ax.boxplot(
                values,
                showfliers=False,
                widths=0.6,
                medianprops={"color": OKABE_ITO["vermillion"], "lw": 0.8},
                boxprops={"lw": 0.5},
                whiskerprops={"lw": 0.5},
                capprops={"lw": 0.5},
            )
        ax.axhline(0, lw=0.5, color="black")
        ax.set_ylabel("RLE (log2)")
        ax.set_title(f"Relative log expression: {title}")
        quartiles = rle.quantile([0.25, 0.5, 0.75])
        for sample in rle.columns:
            rows.append(
                {
                    "stage": title,
                    "sample_id": sample,
                    "q1": quartiles.loc[0.25, sample],
                    "median": quartiles.loc[0.5, sample],
                    "q3": quartiles.loc[0.75, sample],
                }
            )
    samples = list(log2_after.columns[1:])
    if len(samples) > LABELLED_LANES:
        axes[1].set_xticks([])  # too many to read (as _lane_axis)
    else:
        axes[1].set_xticks(np.arange(1, len(samples) + 1))
        axes[1].set_xticklabels(samples, rotation=90, fontsize=4 if len(samples) > 30 else 5)
    return fig, pd.DataFrame(rows)


__all__ = [
    "LABELLED_LANES",
    "binding_density_figure",
    "imaging_figure",
    "positive_linearity_figure",
    "factors_figure",
    "rle_figure",
]
