"""Survival figures: Kaplan-Meier panels with numbers at risk, and a Cox forest plot.

The KM panels follow the look of survminer's ``ggsurvplot`` (Kassambara et al.): step
curves with shaded pointwise confidence bands, ``+`` marks at censoring times, dashed
lines at the median, the log-rank p in the panel and a numbers-at-risk table under the
time axis. Each function takes the tidy tables of :func:`contexture.survival.analyse`
and returns ``(figure, source data)``; the rule saves both with
:func:`contexture.plotting.save_figure`.
"""

from __future__ import annotations

__all__ = ["forest_figure", "forest_rows", "km_figure", "time_axis"]

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from contexture.plotting import (
    GROUP_COLOURS,
    OKABE_ITO,
    SEQUENCE,
    TWO_COLUMN_MM,
    display_label,
    figure,
    panel_letters,
    plain_log_ticks,
)

ENDPOINT_NAMES = {"pfs": "Progression-free survival", "os": "Overall survival"}
GROUP_COLOURS_EXTRA = {"all": OKABE_ITO["black"], "dMMR": GROUP_COLOURS["high"], "pMMR": GROUP_COLOURS["low"]}


def _colour(group: str, index: int) -> str:
    return GROUP_COLOURS.get(group, GROUP_COLOURS_EXTRA.get(group, SEQUENCE[index % len(SEQUENCE)]))


def _p_text(p: float, name: str = "log-rank") -> str:
    if math.isnan(p):
        return ""
    return f"{name} p < 0.001" if p < 0.001 else f"{name} p = {p:.3f}"


def _time_ticks(max_time: float) -> np.ndarray:
    """Ticks from 0 in steps of 1, 2, 3, 6, 12, 24 or 60 months, the last at or past ``max_time``."""
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60) if max_time / s <= 8), 120)
    return np.arange(0, step * math.ceil(max_time / step - 1e-9) + 1e-9, step) if max_time > 0 else np.array([0.0])


def time_axis(curves: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Ticks and right x limit shared by every panel of one KM figure.

    The limit reaches past the longest follow-up of any panel (the last event or censor
    mark of the whole cohort), so no curve or mark is cut off and panels compare.
    """
    max_time = float(curves["time"].max()) if len(curves) else 0.0
    ticks = _time_ticks(max_time)
    right = max(float(ticks[-1]), max_time * 1.02) if max_time > 0 else 1.0
    return ticks, right


def _test_text(logrank: pd.DataFrame, endpoint: str, stratifier: str) -> str:
    """The global log-rank p and, for ordered groups, the trend test's p beside it."""
    rows = logrank[(logrank["endpoint"] == endpoint) & (logrank["stratifier"] == stratifier)]
    parts = []
    for test, name in (("log-rank", "log-rank"), ("log-rank trend", "trend")):
        found = rows[rows["test"] == test]
        if len(found):
            parts.append(_p_text(float(found["p"].iloc[0]), name))
    return "; ".join(part for part in parts if part)


def _missing_text(rows: pd.DataFrame) -> str:
    """``n = 26 of 38 (12 without a value)`` when some patients with follow-up lack a group."""
    if rows.empty or "n_missing_group" not in rows:
        return ""
    missing = int(pd.to_numeric(rows["n_missing_group"], errors="coerce").fillna(0).max())
    if missing == 0:
        return ""
    n = int(rows["n"].sum())
    return f"n = {n} of {n + missing} ({missing} without a value)"


def km_figure(curves: pd.DataFrame, km: pd.DataFrame, logrank: pd.DataFrame, endpoint: str, labels: dict | None = None):
    """KM panels of one endpoint: the whole cohort, then one panel per stratifier.

    Every panel shares one time axis (:func:`time_axis`). Above each panel, off the curves
    and bands: one legend line per group (n, median), the global log-rank p with the trend
    p of ordered groups beside it, and how many patients with follow-up have no value.
    """
    curves = curves[curves["endpoint"] == endpoint]
    panels = list(dict.fromkeys(curves["stratifier"])) or ["(no follow-up)"]
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    fig, axes = figure(
        TWO_COLUMN_MM if columns == 2 else TWO_COLUMN_MM / 2,
        80.0 * rows,
        nrows=2 * rows,
        ncols=columns,
        squeeze=False,
        gridspec_kw={"height_ratios": [4, 1] * rows},
    )
    ticks, right = time_axis(curves)
    curve_axes = []
    for index in range(rows * columns):
        curve_ax = axes[2 * (index // columns), index % columns]
        risk_ax = axes[2 * (index // columns) + 1, index % columns]
        if index >= len(panels):
            curve_ax.set_visible(False)
            risk_ax.set_visible(False)
            continue
        curve_axes.append(curve_ax)
        stratifier = panels[index]
        data = curves[curves["stratifier"] == stratifier]
        if data.empty:
            curve_ax.text(0.5, 0.5, "no follow-up", ha="center", va="center", transform=curve_ax.transAxes)
            risk_ax.set_visible(False)
            continue
        groups = list(dict.fromkeys(data["group"]))
        names = [display_label(group, labels) for group in groups]
        panel_km = km[(km["endpoint"] == endpoint) & (km["stratifier"] == stratifier)]
        for number, group in enumerate(groups):
            colour = _colour(group, number)
            g = data[data["group"] == group]
            times = np.concatenate([[0.0], g["time"].to_numpy(float)])
            surv = np.concatenate([[1.0], g["surv"].to_numpy(float)])
            lower = np.concatenate([[1.0], g["lower"].to_numpy(float)])
            upper = np.concatenate([[1.0], g["upper"].to_numpy(float)])
            row = panel_km[panel_km["group"] == group]
            median = float(row["median_months"].iloc[0]) if len(row) else math.nan
            label = f"{names[number]} (n={int(row['n'].iloc[0])}; median " if len(row) else f"{names[number]} ("
            label += "NR)" if math.isnan(median) else f"{median:.1f} mo)"
            curve_ax.step(times, surv, where="post", color=colour, label=label)
            curve_ax.fill_between(times, lower, upper, step="post", color=colour, alpha=0.15, linewidth=0)
            censored = g[g["n_censor"] > 0]
            curve_ax.plot(censored["time"], censored["surv"], "+", color=colour, markersize=4, markeredgewidth=0.6)
            if not math.isnan(median):
                curve_ax.plot([0, median, median], [0.5, 0.5, 0], ls="--", color=OKABE_ITO["grey"], lw=0.5)
            at_risk = [int(g.loc[g["time"] >= t, "n_risk"].iloc[0]) if (g["time"] >= t).any() else 0 for t in ticks]
            for t, n in zip(ticks, at_risk, strict=True):
                risk_ax.text(t, len(groups) - 1 - number, str(n), ha="center", va="center", color=colour, fontsize=5.5)
        curve_ax.set_ylim(0, 1.02)
        curve_ax.set_xlim(0, right)
        curve_ax.set_xticks(ticks)
        curve_ax.set_ylabel(display_label(endpoint, {**ENDPOINT_NAMES, **(labels or {})}))
        # Legend above the panel (off the curves and their bands), one group per line, then
        # the tests and the missing-value note; the title sits above it all.
        notes = [text for text in (_test_text(logrank, endpoint, stratifier), _missing_text(panel_km)) if text]
        handles, texts = curve_ax.get_legend_handles_labels()
        handles += [Line2D([], [], linestyle="none") for _ in notes]
        legend = curve_ax.legend(handles, texts + notes, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False,
                                 borderaxespad=0.2, handlelength=1.2, labelspacing=0.25)  # fmt: skip
        legend.set_in_layout(False)  # its room is the title's pad, which the layout keeps
        weeks = km.loc[(km["endpoint"] == endpoint) & (km["stratifier"] == stratifier), "landmark_weeks"]
        weeks = float(weeks.iloc[0]) if "landmark_weeks" in km and len(weeks) else math.nan
        title = display_label(stratifier, labels) + ("" if math.isnan(weeks) else f" (landmark at {weeks:g} weeks)")
        curve_ax.set_title(title, loc="left", pad=4 + 8.0 * len(handles))
        risk_ax.set_xlim(0, right)
        risk_ax.set_xticks(ticks)
        risk_ax.set_ylim(-0.6, len(groups) - 0.4)
        risk_ax.set_yticks(range(len(groups)))
        risk_ax.set_yticklabels(list(reversed(names)))
        curve_ax.set_xlabel("Months since treatment start" if math.isnan(weeks) else "Months since the landmark")
        risk_ax.set_title("Number at risk", loc="left", fontsize=6)
        for spine in ("left", "top", "right", "bottom"):
            risk_ax.spines[spine].set_visible(False)
        risk_ax.tick_params(axis="y", length=0, pad=10)
        risk_ax.tick_params(axis="x", length=0, labelbottom=False)
    if len(curve_axes) > 1:
        panel_letters(curve_axes)
    source = curves[
        ["endpoint", "stratifier", "group", "time", "n_risk", "n_event", "n_censor", "surv", "lower", "upper"]
    ]
    return fig, source.reset_index(drop=True)


def forest_rows(cox: pd.DataFrame) -> pd.DataFrame:
    """The forest plot's rows, top to bottom: a header per (endpoint, model), then its terms.

    A categorical term (``scale`` "B vs A") gets a reference row for level A (HR 1) before
    its first contrast. A term whose HR or CI is infinite or zero (e.g. a model with
    monotone likelihood) stays, as ``kind`` ``not_estimable``, instead of being dropped.
    ``kind``: ``header``, ``reference``, ``estimate`` or ``not_estimable``.
    """
    out = []
    for (endpoint, model), block in cox.groupby(["endpoint", "model"], sort=False):
        out.append({"kind": "header", "endpoint": endpoint, "model": model})
        seen_reference = set()
        for r in block.itertuples():
            scale = str(r.scale) if isinstance(r.scale, str) else ""
            if " vs " in scale and r.term not in seen_reference:
                seen_reference.add(r.term)
                level = scale.split(" vs ", 1)[1]
                out.append({"kind": "reference", "endpoint": endpoint, "model": model, "term": r.term,
                            "scale": f"{level} (reference)", "hr": 1.0})  # fmt: skip
            values = np.array([r.hr, r.ci_low, r.ci_high], dtype=float)
            finite = bool(np.isfinite(values).all() and (values > 0).all())
            out.append({
                "kind": "estimate" if finite else "not_estimable", "endpoint": endpoint, "model": model,
                "term": r.term, "scale": scale, "hr": r.hr, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p,
                "n": r.n, "events": r.events, "warning": r.warning if isinstance(r.warning, str) else "",
            })  # fmt: skip
    columns = ["kind", "endpoint", "model", "term", "scale", "hr", "ci_low", "ci_high", "p", "n", "events", "warning"]
    return pd.DataFrame(out, columns=columns)


def _scale_text(scale: str, labels: dict | None) -> str:
    """``high vs low`` with display names of the levels; other scales as written."""
    if " vs " not in scale and not scale.endswith(" (reference)"):
        return scale
    if scale.endswith(" (reference)"):
        return display_label(scale.removesuffix(" (reference)"), labels) + " (reference)"
    level, reference = scale.split(" vs ", 1)
    return f"{display_label(level, labels)} vs {display_label(reference, labels)}"


def _ci_text(r) -> str:
    if r.kind == "reference":
        return "1 (reference)"
    if r.kind == "not_estimable":
        return f"not estimable (HR {float(r.hr):g})"
    return f"{r.hr:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f})"


def forest_figure(cox: pd.DataFrame, labels: dict | None = None):
    """Hazard ratios with CIs of every Cox row (both endpoints), on a log axis.

    Rows as :func:`forest_rows`: a bold header per endpoint and model, then each term
    with its n and events (the models' complete cases differ), HR (95% CI) and p; a hollow
    diamond at 1 for the reference level of a categorical term; a term whose HR is not
    finite is a grey row with an arrow at the axis edge, not left out.
    """
    rows = forest_rows(cox)
    height = 22.0 + 3.6 * max(len(rows), 1)
    fig, (ax, table_ax) = figure(TWO_COLUMN_MM, height, ncols=2, sharey=True, gridspec_kw={"width_ratios": [1, 1]})
    table_ax.set_axis_off()
    if rows.empty:
        ax.text(0.5, 0.5, "no Cox model could be fitted", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig, rows
    y = np.arange(len(rows))[::-1].astype(float)
    rows = rows.assign(y=y)
    estimates = rows[rows["kind"] == "estimate"]
    colours = {"os": SEQUENCE[0], "pfs": SEQUENCE[1]}
    colour = estimates["endpoint"].map(lambda e: colours.get(e, OKABE_ITO["black"]))
    ax.hlines(estimates["y"], estimates["ci_low"], estimates["ci_high"], colors=list(colour), lw=0.8)
    ax.scatter(estimates["hr"], estimates["y"], marker="s", s=10, c=list(colour), zorder=3)
    reference = rows[rows["kind"] == "reference"]
    ax.scatter(reference["hr"], reference["y"], marker="D", s=10, facecolors="white",
               edgecolors=OKABE_ITO["black"], linewidths=0.6, zorder=3)  # fmt: skip
    bounds = pd.concat([estimates["ci_low"], estimates["ci_high"], pd.Series([1.0])]).astype(float)
    low, high = float(bounds.min()) / 1.25, float(bounds.max()) * 1.25
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    for r in rows[rows["kind"] == "not_estimable"].itertuples():
        at_high = not (float(r.hr) <= 0 or (np.isfinite(float(r.hr)) and float(r.hr) < 1))
        ax.scatter([high if at_high else low], [r.y], marker=">" if at_high else "<", s=14,
                   color=OKABE_ITO["grey"], zorder=3, clip_on=False)  # fmt: skip
    ax.axvline(1.0, color=OKABE_ITO["grey"], lw=0.5, ls="--")
    plain_log_ticks(ax.xaxis)
    names = []
    for r in rows.itertuples():
        if r.kind == "header":
            names.append(f"{display_label(r.endpoint, labels)}: {display_label(r.model, labels)}")
        else:
            star = " *" if r.kind != "reference" and r.warning else ""
            names.append(f"{display_label(r.term, labels)}, {_scale_text(r.scale, labels)}{star}")
    ax.set_yticks(y, names)
    for tick, r in zip(ax.get_yticklabels(), rows.itertuples(), strict=True):
        if r.kind == "header":
            tick.set_fontweight("bold")
        elif r.kind == "not_estimable":
            tick.set_color(OKABE_ITO["grey"])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("Hazard ratio (95% CI, log scale)")
    columns = ((0.02, "n"), (0.14, "events"), (0.34, "HR (95% CI)"), (0.80, "p"))
    for x, name in columns:
        table_ax.text(x, len(rows) - 0.3, name, fontsize=5.5, fontweight="bold", va="bottom",
                      transform=table_ax.get_yaxis_transform())  # fmt: skip
    for r in rows.itertuples():
        if r.kind == "header":
            continue
        cells = ["", "", _ci_text(r), ""]
        if r.kind != "reference":
            cells = [f"{int(r.n)}", f"{int(r.events)}", _ci_text(r), "" if pd.isna(r.p) else f"{r.p:.3g}"]
        for (x, _), text in zip(columns, cells, strict=True):
            table_ax.text(x, r.y, text, va="center", fontsize=5.5, transform=table_ax.get_yaxis_transform(),
                          color=OKABE_ITO["grey"] if r.kind == "not_estimable" else OKABE_ITO["black"])  # fmt: skip
    ax.set_title("Cox proportional hazards (* = see warning column)", loc="left", pad=12)
    return fig, rows[rows["kind"] != "header"].reset_index(drop=True)
