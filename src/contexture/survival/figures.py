"""Survival figures: Kaplan-Meier panels with numbers at risk, and a Cox forest plot.

The KM panels follow the look of survminer's ``ggsurvplot`` (Kassambara et al.): step
curves with shaded pointwise confidence bands, ``+`` marks at censoring times, dashed
lines at the median, the log-rank p in the panel and a numbers-at-risk table under the
time axis. Each function takes the tidy tables of :func:`contexture.survival.analyse`
and returns ``(figure, source data)``; the rule saves both with
:func:`contexture.plotting.save_figure`.
"""

from __future__ import annotations

import math

import matplotlib.ticker
import numpy as np
import pandas as pd

from contexture.plotting import GROUP_COLOURS, OKABE_ITO, SEQUENCE, TWO_COLUMN_MM, figure

ENDPOINT_NAMES = {"pfs": "Progression-free survival", "os": "Overall survival"}
GROUP_COLOURS_EXTRA = {"all": OKABE_ITO["black"], "dMMR": GROUP_COLOURS["high"], "pMMR": GROUP_COLOURS["low"]}


def _colour(group: str, index: int) -> str:
    return GROUP_COLOURS.get(group, GROUP_COLOURS_EXTRA.get(group, SEQUENCE[index % len(SEQUENCE)]))


def _p_text(p: float) -> str:
    if math.isnan(p):
        return ""
    return "log-rank p < 0.001" if p < 0.001 else f"log-rank p = {p:.3f}"


def _time_ticks(max_time: float) -> np.ndarray:
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60) if max_time / s <= 8), 120)
    return np.arange(0, max_time + 1e-9, step)


def km_figure(curves: pd.DataFrame, km: pd.DataFrame, logrank: pd.DataFrame, endpoint: str):
    """KM panels of one endpoint: the whole cohort, then one panel per stratifier."""
    curves = curves[curves["endpoint"] == endpoint]
    panels = list(dict.fromkeys(curves["stratifier"])) or ["(no follow-up)"]
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    fig, axes = figure(
        TWO_COLUMN_MM if columns == 2 else TWO_COLUMN_MM / 2,
        62.0 * rows,
        nrows=2 * rows,
        ncols=columns,
        squeeze=False,
        gridspec_kw={"height_ratios": [4, 1] * rows},
    )
    for index in range(rows * columns):
        curve_ax = axes[2 * (index // columns), index % columns]
        risk_ax = axes[2 * (index // columns) + 1, index % columns]
        if index >= len(panels):
            curve_ax.set_visible(False)
            risk_ax.set_visible(False)
            continue
        stratifier = panels[index]
        data = curves[curves["stratifier"] == stratifier]
        if data.empty:
            curve_ax.text(0.5, 0.5, "no follow-up", ha="center", va="center", transform=curve_ax.transAxes)
            risk_ax.set_visible(False)
            continue
        max_time = float(data["time"].max())
        ticks = _time_ticks(max_time)
        groups = list(dict.fromkeys(data["group"]))
        for number, group in enumerate(groups):
            colour = _colour(group, number)
            g = data[data["group"] == group]
            times = np.concatenate([[0.0], g["time"].to_numpy(float)])
            surv = np.concatenate([[1.0], g["surv"].to_numpy(float)])
            lower = np.concatenate([[1.0], g["lower"].to_numpy(float)])
            upper = np.concatenate([[1.0], g["upper"].to_numpy(float)])
            row = km[(km["endpoint"] == endpoint) & (km["stratifier"] == stratifier) & (km["group"] == group)]
            median = float(row["median_months"].iloc[0]) if len(row) else math.nan
            label = f"{group} (n={int(row['n'].iloc[0])}; median " if len(row) else f"{group} ("
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
        test = logrank[
            (logrank["endpoint"] == endpoint) & (logrank["stratifier"] == stratifier) & (logrank["test"] == "log-rank")
        ]
        if len(test):
            curve_ax.text(
                0.03, 0.04, _p_text(float(test["p"].iloc[0])), ha="left", va="bottom", transform=curve_ax.transAxes
            )
        curve_ax.set_ylim(0, 1.02)
        curve_ax.set_xlim(0, ticks[-1] * 1.03 if ticks[-1] > 0 else 1)
        curve_ax.set_xticks(ticks)
        curve_ax.set_ylabel(f"{ENDPOINT_NAMES.get(endpoint, endpoint)}")
        weeks = km.loc[(km["endpoint"] == endpoint) & (km["stratifier"] == stratifier), "landmark_weeks"]
        weeks = float(weeks.iloc[0]) if "landmark_weeks" in km and len(weeks) else math.nan
        title = stratifier if stratifier != "all" else "All patients"
        curve_ax.set_title(title + ("" if math.isnan(weeks) else f" (landmark at {weeks:g} weeks)"), loc="left")
        curve_ax.legend(loc="upper right", frameon=False)
        risk_ax.set_xlim(curve_ax.get_xlim())
        risk_ax.set_xticks(ticks)
        risk_ax.set_ylim(-0.6, len(groups) - 0.4)
        risk_ax.set_yticks(range(len(groups)))
        risk_ax.set_yticklabels(list(reversed(groups)))
        curve_ax.set_xlabel("Months since treatment start" if math.isnan(weeks) else "Months since the landmark")
        risk_ax.set_title("Number at risk", loc="left", fontsize=6)
        for spine in ("left", "top", "right", "bottom"):
            risk_ax.spines[spine].set_visible(False)
        risk_ax.tick_params(axis="y", length=0, pad=10)
        risk_ax.tick_params(axis="x", length=0, labelbottom=False)
    source = curves[
        ["endpoint", "stratifier", "group", "time", "n_risk", "n_event", "n_censor", "surv", "lower", "upper"]
    ]
    return fig, source.reset_index(drop=True)


def forest_figure(cox: pd.DataFrame):
    """Hazard ratios with CIs of every Cox row (both endpoints), on a log axis."""
    finite = np.isfinite(cox[["hr", "ci_low", "ci_high"]].astype(float)).all(axis=1) & (cox["hr"].astype(float) > 0)
    rows = cox[finite].reset_index(drop=True)
    height = 20.0 + 5.0 * max(len(rows), 1)
    fig, ax = figure(TWO_COLUMN_MM, height)
    if rows.empty:
        ax.text(0.5, 0.5, "no Cox model could be fitted", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig, rows
    y = np.arange(len(rows))[::-1]
    labels = [
        f"{r.endpoint.upper()} | {r.model} | {r.term} ({r.scale})"
        + (f" [landmark {r.landmark_weeks:g} wk]" if pd.notna(getattr(r, "landmark_weeks", math.nan)) else "")
        + (" *" if isinstance(r.warning, str) and r.warning else "")
        for r in rows.itertuples()
    ]
    colours = [SEQUENCE[0] if r.endpoint == "os" else SEQUENCE[1] for r in rows.itertuples()]
    ax.hlines(y, rows["ci_low"], rows["ci_high"], colors=colours, lw=0.8)
    ax.scatter(rows["hr"], y, marker="s", s=10, c=colours, zorder=3)
    ax.axvline(1.0, color=OKABE_ITO["grey"], lw=0.5, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel("Hazard ratio (95% CI, log scale)")
    for yi, r in zip(y, rows.itertuples(), strict=True):
        ax.annotate(
            f"{r.hr:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f}) p={r.p:.3g}",
            xy=(1.01, yi),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=5.5,
        )
    ax.set_title("Cox proportional hazards (* = see warning column)", loc="left")
    columns = ["endpoint", "model", "term", "scale", "hr", "ci_low", "ci_high", "p", "n", "events", "warning"]
    return fig, rows[columns + [c for c in ("landmark_weeks",) if c in rows]]
