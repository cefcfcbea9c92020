"""Figures draw what their source data hold (issue 20).

Each test builds a figure from small demo-like tables and checks, from the source data the
figure returns (what ``<name>.source.tsv`` holds), that the plotted axis range covers every
plotted value: the last censor mark of a KM curve, the longest swimmer bar, every waterfall
bar and marker, each forest-plot interval. The limits come from the drawn Figure's axes,
not from the code that set them, so a cut-off axis fails.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from contexture.plotting import DEFAULT_LABELS, display_label, readable_name
from contexture.survival.analysis import SurvivalOptions, analyse
from contexture.survival.figures import forest_figure, forest_rows, km_figure


def covers(limits: tuple[float, float], values) -> bool:
    """Whether the axis interval ``limits`` contains every finite value of ``values``."""
    values = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
    low, high = sorted(limits)
    return bool(values.size == 0 or (values.min() >= low and values.max() <= high))


def test_display_label_prefers_cohort_then_defaults_then_readable_name():
    assert display_label("pet_geomean_suvmax_baseline") == "Baseline CD8-PET geometric mean SUVmax"
    assert display_label("immunosign_high") == DEFAULT_LABELS["immunosign_high"] == "Immunosign 21 high"
    assert display_label("on_treatment") == "On treatment"
    assert display_label("immunosign_high", {"immunosign_high": "IS21 high"}) == "IS21 high"
    assert display_label("tumour_grade") == "Tumour grade"
    assert readable_name("pMMR") == "pMMR"  # mixed case kept


def _survival_tables():
    rng = np.random.default_rng(3)
    n = 40
    marker = rng.lognormal(1.6, 0.4, n)
    time = rng.exponential(12 * np.exp(0.4 * (marker - 5)), n)
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:02d}" for i in range(n)],
            "pfs_months": time / 2,
            "pfs_event": (rng.random(n) < 0.8).astype(int),
            "os_months": time,
            "os_event": (rng.random(n) < 0.6).astype(int),
            "pet_geomean_suvmax_baseline": marker,
            "ihc_phenotype": rng.choice(["desert", "stromal", "inflamed"], n),
        }
    )
    patients.loc[patients["os_months"].idxmax(), "os_event"] = 0  # the longest follow-up is a censor mark
    patients.loc[:9, "ihc_phenotype"] = np.nan  # 10 of 40 without a value
    options = SurvivalOptions.from_config(
        {
            "stratifiers": [
                {"column": "pet_geomean_suvmax_baseline", "split": "median", "order": ["low", "high"]},
                {"column": "ihc_phenotype", "order": ["desert", "stromal", "inflamed"]},
            ],
            "cox": {"univariable": ["pet_geomean_suvmax_baseline", "ihc_phenotype"]},
        }
    )
    return patients, analyse(patients, options)


def test_km_axes_cover_the_whole_follow_up_and_are_shared():
    patients, tables = _survival_tables()
    fig, source = km_figure(tables["curves"], tables["km"], tables["logrank"], "os")
    curve_axes = [ax for ax in fig.axes if ax.get_ylabel() == "Overall survival"]
    assert len(curve_axes) == 3  # all patients + two stratifiers
    longest = patients["os_months"].max()
    assert source["time"].max() == pytest.approx(longest)
    for ax in curve_axes:
        stratum = source[source["stratifier"] == _stratifier_of(ax, source)]
        assert covers(ax.get_xlim(), stratum["time"])  # every step and censor mark of the panel
        assert covers(ax.get_ylim(), pd.concat([stratum["surv"], stratum["lower"], stratum["upper"]]))
        assert ax.get_xlim()[1] > longest  # the last censor mark is inside, not on the edge
    assert len({ax.get_xlim() for ax in curve_axes}) == 1  # one time axis for every panel
    texts = "\n".join(t.get_text() for ax in curve_axes for t in ax.get_legend().get_texts())
    trend = tables["logrank"].query("endpoint == 'os' and stratifier == 'ihc_phenotype' and test == 'log-rank trend'")
    assert f"trend p = {float(trend['p'].iloc[0]):.3f}" in texts
    assert "n = 30 of 40 (10 without a value)" in texts
    plt.close(fig)


def _stratifier_of(ax, source) -> str:
    title = ax.get_title(loc="left")
    for stratifier in source["stratifier"].unique():
        if display_label(stratifier) == title:
            return stratifier
    raise AssertionError(f"no stratifier titled {title!r}")


def test_forest_keeps_non_finite_rows_and_shows_references_and_counts():
    _, tables = _survival_tables()
    cox = tables["cox"].copy()
    blown = cox.index[cox["term"] == "pet_geomean_suvmax_baseline"][0]
    cox.loc[blown, ["hr", "ci_low", "ci_high"]] = [math.inf, 0.0, math.inf]  # monotone likelihood
    fig, source = forest_figure(cox)
    ax = fig.axes[0]
    estimates = source[source["kind"] == "estimate"]
    assert covers(ax.get_xlim(), pd.concat([estimates["ci_low"], estimates["ci_high"]]))
    assert len(source[source["kind"] == "not_estimable"]) == 1  # kept, not dropped
    assert len(source[source["kind"] != "reference"]) == len(cox)  # every Cox row is drawn
    references = source[source["kind"] == "reference"]
    assert set(references["scale"]) == {"desert (reference)"} and len(references) == 2  # one per endpoint
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert sum("not estimable" in t.get_text() for t in fig.axes[1].texts) == 1
    assert any(t.startswith("CD8 IHC phenotype, Desert (reference)") for t in ticks)
    cells = {t.get_text() for t in fig.axes[1].texts}
    row = cox[(cox["endpoint"] == "os") & (cox["term"] == "ihc_phenotype")].iloc[0]
    assert {str(int(row["n"])), str(int(row["events"]))} <= cells
    assert len(forest_rows(cox)) == len(source) + cox[["endpoint", "model"]].drop_duplicates().shape[0]
    plt.close(fig)


def _recist_tables():
    features = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D", "E"],
            "bor": ["PD", "PD", "PR", "SD", "PD"],
            "best_pct_change": [0.0, 42.0, -55.0, -98.0, 0.0],
        }
    )
    rows = [
        ("A", -7, 0.0, False, None, None), ("A", 40, 0.0, True, "SD", "PD"),
        ("B", -7, 0.0, False, None, None), ("B", 40, 42.0, False, "PD", "PD"),
        ("C", -7, 0.0, False, None, None), ("C", 40, -55.0, False, "PR", "PR"), ("C", 200, -50.0, False, "PR", "PR"),
        ("D", -7, 0.0, False, None, None), ("D", 40, -98.0, False, "SD", "SD"),
        ("E", -7, 0.0, False, None, None), ("E", 40, 0.0, False, "SD", "PD"),
    ]  # fmt: skip
    timepoints = pd.DataFrame(
        rows,
        columns=[
            "patient_id",
            "assessment_day",
            "pct_from_baseline",
            "new_lesions",
            "target_response",
            "overall_response",
        ],  # fmt: skip
    )
    timepoints["non_target_response"] = np.where(timepoints["patient_id"] == "E", "PD", "NON-CR/NON-PD")
    clinical = pd.DataFrame(
        {"patient_id": list("ABCDE"), "os_days": [90, 120, 900, 400, 60], "os_event": [1, 1, 0, 0, 1]}
    )
    return features, timepoints, clinical


def test_waterfall_marks_progression_at_zero_and_covers_every_bar():
    from contexture.response.figures import waterfall

    features, timepoints, _ = _recist_tables()
    fig, source = waterfall(features, timepoints)
    ax = fig.axes[0]
    assert covers(ax.get_ylim(), source["best_pct_change"])
    assert covers(ax.get_xlim(), range(len(source)))
    assert dict(zip(source["patient_id"], source["progression_cause"].fillna(""), strict=True)) == {
        "A": "new lesion", "B": "target", "C": "", "D": "", "E": "non-target"
    }  # fmt: skip
    markers = np.vstack([c.get_offsets() for c in ax.collections])
    assert covers(ax.get_ylim(), markers[:, 1])
    assert len(markers) == 2  # A and E, whose 0 % bars show nothing
    plt.close(fig)


def test_spider_and_swimmer_cover_their_data_and_name_their_symbols():
    from contexture.response.figures import spider, swimmer

    features, timepoints, clinical = _recist_tables()
    fig, source = spider(timepoints, features)
    ax = fig.axes[0]
    assert covers(ax.get_xlim(), source["weeks"]) and covers(ax.get_ylim(), source["pct_from_baseline"])
    assert ax.get_legend() is not None
    plt.close(fig)
    fig, source = swimmer(timepoints, features, clinical)
    ax = fig.axes[0]
    assert covers(ax.get_xlim(), source["end_months"])
    assert covers(ax.get_ylim(), range(len(source)))
    names = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"Death", "Alive at data cut", "PD (first)", "CR/PR (first)"} <= names
    assert dict(zip(source["patient_id"], source["status"], strict=True))["C"] == "alive"
    plt.close(fig)


def test_ihc_scatter_covers_its_pairs_with_plain_log_ticks():
    from contexture.ihc.figures import suvmax_vs_density

    pairs = pd.DataFrame(
        {
            "slide_id": ["s1", "s2", "s3"],
            "patient_id": ["A", "B", "C"],
            "lesion_id": ["A1", "B1", "C1"],
            "timepoint": ["baseline", "on_treatment", "baseline"],
            "cd8_density_tumor": [3.0, 450.0, 900.0],
            "suvmax": [1.8, 6.0, 14.0],
        }
    )
    correlation = pd.DataFrame(
        {
            "timepoint": ["baseline"],
            "density": ["cd8_density_tumor"],
            "tau": [1.0],
            "ci_low": [1.0],
            "ci_high": [1.0],
            "p": [1.0],
            "n": [2],
            "n_patients": [2],
        }
    )
    fig, source = suvmax_vs_density(pairs, correlation)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert covers(ax.get_xlim(), source["cd8_density_tumor"] + 1.0) and covers(ax.get_ylim(), source["suvmax"])
    labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels() if t.get_text()]
    assert labels and not [text for text in labels if "times" in text or "^" in text or "×" in text]
    assert "Kendall" in ax.get_title(loc="left")  # above the axes, not on the points
    plt.close(fig)
