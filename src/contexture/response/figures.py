"""Response figures: waterfall, spider and swimmer plots, and the classifier's ROC curve.

Each function takes tidy tables and returns ``(figure, source_data)``; the rule saves
both with :func:`contexture.plotting.save_figure`. Colours: ``RESPONSE_COLOURS`` by
best overall response. Reference lines at +20% and -30% mark the RECIST 1.1 PD and PR
thresholds (PD is judged against the nadir, so the +20% line is only a guide).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture import DAYS_PER_MONTH
from contexture.plotting import OKABE_ITO, RESPONSE_COLOURS, TWO_COLUMN_MM, figure

ORDER = ["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]


def _legend(ax, present) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=RESPONSE_COLOURS[b], label=b) for b in ORDER if b in set(present)]
    if handles:
        ax.legend(handles=handles, title="Best response", frameon=False, loc="best")


def waterfall(features: pd.DataFrame):
    """Best % change of the target sum per patient, sorted, coloured by BOR."""
    data = (
        features.loc[features["best_pct_change"].notna(), ["patient_id", "bor", "best_pct_change"]]
        .sort_values(["best_pct_change", "patient_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
    fig, ax = figure(TWO_COLUMN_MM / 2, 60)
    x = np.arange(len(data))
    ax.bar(x, data["best_pct_change"], color=[RESPONSE_COLOURS.get(b, OKABE_ITO["grey"]) for b in data["bor"]])
    for level in (20, -30):
        ax.axhline(level, color=OKABE_ITO["black"], linewidth=0.5, linestyle="--")
    ax.axhline(0, color=OKABE_ITO["black"], linewidth=0.6)
    ax.set_xticks([])
    ax.set_xlabel(f"Patients with measurable disease (n = {len(data)})")
    ax.set_ylabel("Best change in target-lesion sum (%)")
    _legend(ax, data["bor"])
    return fig, data


def spider(timepoints: pd.DataFrame, features: pd.DataFrame):
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
    ax.set_ylabel("Change in target-lesion sum from baseline (%)")
    _legend(ax, data["bor"])
    return fig, data.sort_values(["patient_id", "assessment_day"]).reset_index(drop=True)


def swimmer(timepoints: pd.DataFrame, features: pd.DataFrame, clinical: pd.DataFrame | None = None):
    """One bar per patient from treatment start to last follow-up (months), response events marked.

    Bar end: OS follow-up from the clinical table when available, else the last
    assessment. Markers: first PR/CR (triangle), first PD (cross), end of treatment (bar).
    """
    follow = timepoints[timepoints["assessment_day"] > 0]
    last = follow.groupby("patient_id")["assessment_day"].max()
    data = features[["patient_id", "bor"]].copy()
    data["end_days"] = data["patient_id"].map(last)
    data["treatment_end_days"] = np.nan
    if clinical is not None:
        info = clinical.set_index(clinical["patient_id"].astype(str))
        if "os_days" in info:
            data["end_days"] = data["patient_id"].map(info["os_days"]).fillna(data["end_days"])
        if "treatment_end_day" in info:
            data["treatment_end_days"] = data["patient_id"].map(info["treatment_end_day"])
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
    ax.scatter(data["first_response_months"], y, marker="^", color=OKABE_ITO["black"], s=8, zorder=3, label="CR/PR")
    ax.scatter(data["first_progression_months"], y, marker="x", color=OKABE_ITO["black"], s=8, zorder=3, label="PD")
    ax.scatter(data["treatment_end_months"], y, marker="|", color=OKABE_ITO["black"], s=20, zorder=3, label="Last dose")
    ax.set_yticks(y if len(data) <= 60 else [])
    if len(data) <= 60:
        ax.set_yticklabels(data["patient_id"], fontsize=4)
    ax.set_xlabel("Months from treatment start")
    ax.set_ylabel("Patient")
    _legend(ax, data["bor"])
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
