"""Response figures: waterfall, spider and swimmer plots, and the classifier's ROC curve.

Each function takes tidy tables and returns ``(figure, source_data)``; the rule saves
both with :func:`contexture.plotting.save_figure`. Colours: ``RESPONSE_COLOURS`` by
best overall response. Reference lines at +20% and -30% mark the RECIST 1.1 PD and PR
thresholds (PD is judged against the nadir, so the +20% line is only a guide).
"""

from __future__ import annotations

__all__ = ["progression_cause", "roc_figure", "spider", "swimmer", "waterfall"]

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from contexture import DAYS_PER_MONTH
from contexture.plotting import OKABE_ITO, RESPONSE_COLOURS, TWO_COLUMN_MM, display_label, figure

ORDER = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]


def _legend(ax, present, extra: list | None = None, labels: dict | None = None) -> None:
    """Best-response colours (and ``extra`` symbol handles) in a legend right of the axes,
    off the bars, lines and reference lines."""
    from matplotlib.patches import Patch

    handles = [Patch(color=RESPONSE_COLOURS[b], label=display_label(b, labels)) for b in ORDER if b in set(present)]
    handles += extra or []
    if handles:
        ax.legend(handles=handles, title="Best response", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def progression_cause(timepoints: pd.DataFrame | None) -> pd.Series:
    """Per patient, what made the first PD assessment PD (RECIST 1.1 §4.3): ``new lesion``
    (a new lesion appeared), else ``non-target`` (unequivocal non-target progression),
    else ``target`` (the target sum)."""
    if timepoints is None or timepoints.empty or "new_lesions" not in timepoints:
        return pd.Series(dtype=object)
    pd_rows = timepoints[timepoints["overall_response"] == "PD"].sort_values(["patient_id", "assessment_day"])
    first = pd_rows.groupby("patient_id").head(1).set_index("patient_id")
    new = first["new_lesions"].astype("boolean").fillna(False).astype(bool)
    non_target = first["non_target_response"].astype("string").eq("PD").fillna(False).astype(bool)
    return pd.Series(np.select([new, non_target], ["new lesion", "non-target"], "target"), index=first.index)


def waterfall(features: pd.DataFrame, timepoints: pd.DataFrame | None = None, labels: dict | None = None):
    """Best % change of the target sum per patient, sorted, coloured by BOR.

    Above the bar of each patient whose best response is PD, a symbol says what made the
    first PD (:func:`progression_cause`): a triangle for a new lesion, a diamond for
    non-target progression. Their best change is often 0 %, an invisible bar otherwise.
    """
    data = (
        features.loc[features["best_pct_change"].notna(), ["patient_id", "bor", "best_pct_change"]]
        .sort_values(["best_pct_change", "patient_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
    # Only patients whose best response is PD: their bar (often 0 %) does not show why.
    cause = data["patient_id"].map(progression_cause(timepoints))
    data["progression_cause"] = cause.where(data["bor"] == "PD")
    fig, ax = figure(TWO_COLUMN_MM / 2, 60)
    x = np.arange(len(data))
    ax.bar(x, data["best_pct_change"], color=[RESPONSE_COLOURS.get(b, OKABE_ITO["grey"]) for b in data["bor"]])
    for level in (20, -30):
        ax.axhline(level, color=OKABE_ITO["black"], linewidth=0.5, linestyle="--")
    ax.axhline(0, color=OKABE_ITO["black"], linewidth=0.6)
    low = min(-35.0, float(data["best_pct_change"].min()) - 5) if len(data) else -35.0
    high = max(25.0, float(data["best_pct_change"].max()) + 5) if len(data) else 25.0
    offset = 0.04 * (high - low)
    extra = []
    for reason, marker in (("new lesion", "v"), ("non-target", "D")):
        marked = data[data["progression_cause"] == reason]
        if marked.empty:
            continue
        ax.scatter(marked.index, marked["best_pct_change"].clip(lower=0) + offset, marker=marker, s=7,
                   color=OKABE_ITO["black"], zorder=3, linewidths=0)  # fmt: skip
        extra.append(Line2D([], [], marker=marker, linestyle="none", color=OKABE_ITO["black"], markersize=2.5,
                            label=f"PD by {reason} (n = {len(marked)})"))  # fmt: skip
    ax.set_ylim(low, high + 2 * offset)
    ax.set_xlim(-0.6, max(len(data), 1) - 0.4)
    ax.set_xticks([])
    ax.set_xlabel(f"Patients with measurable disease (n = {len(data)})")
    ax.set_ylabel("Best change in target-lesion sum (%)")
    _legend(ax, data["bor"], extra, labels)
    return fig, data


def spider(timepoints: pd.DataFrame, features: pd.DataFrame, labels: dict | None = None):
    """% change of the target sum from baseline over time, one line per patient."""
    data = timepoints.loc[
        timepoints["pct_from_baseline"].notna(), ["patient_id", "assessment_day", "pct_from_baseline"]
    ]
    data = data.merge(features[["patient_id", "bor"]], on="patient_id", how="left")
    data["weeks"] = data["assessment_day"].clip(lower=0) / 7
    fig, ax = figure(TWO_COLUMN_MM / 2, 60)
    for _, group in data.groupby("patient_id", sort=True):
        bor = group["bor"].iloc[0]
        ax.plot(group["weeks"], group["pct_from_baseline"], color=RESPONSE_COLOURS.get(bor, OKABE_ITO["grey"]), lw=0.8)
    for level in (20, -30):
        ax.axhline(level, color=OKABE_ITO["black"], linewidth=0.5, linestyle="--")
    ax.set_xlabel("Weeks from treatment start")
    ax.set_ylabel("Change in target-lesion sum\nfrom baseline (%)")
    _legend(ax, data["bor"], labels=labels)
    return fig, data.sort_values(["patient_id", "assessment_day"]).reset_index(drop=True)


def swimmer(
    timepoints: pd.DataFrame,
    features: pd.DataFrame,
    clinical: pd.DataFrame | None = None,
    labels: dict | None = None,
):
    """One bar per patient from treatment start to last follow-up (months), response events marked.

    Bar end: OS follow-up from the clinical table when available, else the last
    assessment. Markers: first PR/CR (triangle), first PD (cross), last dose (bar), and
    at the bar end death (filled square) or alive at the data cut (arrow), from
    ``os_event``. A legend beside the plot names every symbol.
    """
    follow = timepoints[timepoints["assessment_day"] > 0]
    last = follow.groupby("patient_id")["assessment_day"].max()
    data = features[["patient_id", "bor"]].copy()
    data["end_days"] = data["patient_id"].map(last)
    data["treatment_end_days"] = np.nan
    data["status"] = "unknown"
    if clinical is not None:
        info = clinical.set_index(clinical["patient_id"].astype(str))
        if "os_days" in info:
            data["end_days"] = data["patient_id"].map(info["os_days"]).fillna(data["end_days"])
        if "treatment_end_day" in info:
            data["treatment_end_days"] = data["patient_id"].map(info["treatment_end_day"])
        if "os_event" in info:
            event = pd.to_numeric(data["patient_id"].map(info["os_event"]), errors="coerce")
            data["status"] = np.select([event == 1, event == 0], ["dead", "alive"], "unknown")
    data["end_days"] = data["end_days"].fillna(0)

    def first(labels):
        rows = follow[follow["overall_response"].isin(labels)]
        return data["patient_id"].map(rows.groupby("patient_id")["assessment_day"].min())

    data["first_response_days"] = first(["CR", "PR"])
    data["first_progression_days"] = first(["PD"])
    data = data.sort_values(["end_days", "patient_id"]).reset_index(drop=True)
    for column in ("end_days", "treatment_end_days", "first_response_days", "first_progression_days"):
        data[column.replace("_days", "_months")] = data[column] / DAYS_PER_MONTH

    fig, ax = figure(TWO_COLUMN_MM / 2, max(50, 2.2 * len(data) + 15))
    y = np.arange(len(data))
    colours = [RESPONSE_COLOURS.get(b, OKABE_ITO["grey"]) for b in data["bor"]]
    ax.barh(y, data["end_months"], color=colours, height=0.7)
    black = OKABE_ITO["black"]
    symbols = [
        ("first_response_months", "^", 8, "CR/PR (first)"),
        ("first_progression_months", "x", 8, "PD (first)"),
        ("treatment_end_months", "|", 20, "Last dose"),
    ]
    extra = []
    for column, marker, size, name in symbols:
        ax.scatter(data[column], y, marker=marker, color=black, s=size, zorder=3, linewidths=0.8)
        extra.append(Line2D([], [], marker=marker, linestyle="none", color=black, markersize=3, label=name))
    end = data["end_months"].max() if len(data) else 1.0
    gap = 0.015 * (end if end > 0 else 1.0)
    for status, marker, name in (("dead", "s", "Death"), ("alive", ">", "Alive at data cut")):
        chosen = data["status"] == status
        if chosen.any():
            ax.scatter(data.loc[chosen, "end_months"] + gap, y[chosen.to_numpy()], marker=marker, color=black,
                       s=7, zorder=3, linewidths=0)  # fmt: skip
            extra.append(Line2D([], [], marker=marker, linestyle="none", color=black, markersize=3, label=name))
    ax.set_xlim(0, (end if end > 0 else 1.0) * 1.06)
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_yticks(y if len(data) <= 60 else [])
    if len(data) <= 60:
        ax.set_yticklabels(data["patient_id"], fontsize=4)
    ax.set_xlabel("Months from treatment start")
    ax.set_ylabel("Patient")
    _legend(ax, data["bor"], extra, labels)
    return fig, data


def roc_figure(roc: pd.DataFrame, table: pd.DataFrame):
    """ROC curve of the cross-validated predictions with the AUC and its CI."""
    fig, ax = figure(70, 70)
    ax.plot([0, 1], [0, 1], color=OKABE_ITO["grey"], linestyle="--", linewidth=0.6)
    if len(roc):
        row = table[table["analysis"] == "cv_auc"].iloc[0]
        label = f"AUC {row['estimate']:.2f} ({row['ci_low']:.2f}-{row['ci_high']:.2f}), permutation p = {row['p']:.3f}"
        ax.step(
            roc["false_positive_rate"], roc["true_positive_rate"], where="post", color=OKABE_ITO["blue"], label=label
        )
        ax.legend(frameon=False, loc="lower right")
    else:
        ax.text(0.5, 0.5, "classifier skipped:\ntoo few features or patients", ha="center", va="center")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.set_aspect("equal")
    return fig, roc
