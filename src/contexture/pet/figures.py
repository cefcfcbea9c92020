"""Figures of the CD8-PET analyses (contexture.pet.models), in the house style.

Each function takes the prepared lesion table (``contexture.pet.models.prepare_lesions``)
and patient covariates (``patient_covariates``) and returns ``(figure, source_data)``;
the workflow saves both with :func:`contexture.plotting.save_figure`. SUVmax axes are
logarithmic, matching the log-scale models. Layouts follow the study's Fig. 2-4
(Kist de Ruijter et al., Nat Med 2022): lesions per patient ordered by geometric mean,
uptake by site and by patient group, and change during treatment by best response.
:func:`biodistribution_figure` draws the dose-finding series' reference-region uptake
(tables of :mod:`contexture.pet.biodistribution`).
"""

from __future__ import annotations

__all__ = [
    "biodistribution_figure",
    "lesion_overview",
    "per_patient_change",
    "pet_model_figures",
    "phenotype_uptake",
    "uptake_violin",
]

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from contexture.pet.features import geometric_mean_suvmax
from contexture.plotting import (
    GROUP_COLOURS,
    OKABE_ITO,
    RESPONSE_COLOURS,
    SEQUENCE,
    SITE_COLOURS,
    TWO_COLUMN_MM,
    display_label,
    figure,
    panel_letters,
    plain_log_ticks,
)
from contexture.plotting import ONE_COLUMN_MM as ONE_COLUMN

BOR_ORDER = ["CR", "PR", "SD", "PD", "NE"]


def _site_colour(site: str) -> str:
    return SITE_COLOURS.get(site, SITE_COLOURS["other"])


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def lesion_overview(baseline: pd.DataFrame, labels: dict | None = None):
    """Baseline SUVmax of every lesion per patient, patients ordered by geometric mean.

    Points are lesions coloured by organ site; the black bar is the patient's geometric
    mean SUVmax. Source data: one row per lesion with its patient's rank and geometric mean.
    """
    fig, ax = figure(TWO_COLUMN_MM, 70)
    if baseline.empty:
        _empty(ax, "no baseline lesions")
        return fig, pd.DataFrame(columns=["patient_id", "rank", "geomean_suvmax", "lesion_id", "site", "suvmax"])
    # The lesions are prepare_lesions' selection (irradiated ones already out when configured).
    geomeans = geometric_mean_suvmax(baseline, irradiated="include")["geomean_suvmax"]
    order = geomeans.sort_values(kind="stable").index
    rank = pd.Series(np.arange(1, len(order) + 1), index=order, name="rank")
    data = baseline.join(rank, on="patient_id").join(geomeans, on="patient_id").sort_values(["rank", "lesion_id"])
    for site, part in data.groupby("site", sort=True):
        ax.scatter(part["rank"], part["suvmax"], s=6, color=_site_colour(site), label=display_label(site, labels),
                   linewidths=0)  # fmt: skip
    ax.hlines(geomeans[order], rank.to_numpy() - 0.35, rank.to_numpy() + 0.35, color=OKABE_ITO["black"], linewidth=1)
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xticks(rank.to_numpy())
    ax.set_xticklabels(order, rotation=90, fontsize=4 if len(order) > 40 else 5)
    if len(order) > 100:
        ax.set_xticks([])
    ax.set_xlabel("Patient (ordered by geometric mean SUVmax)")
    ax.set_ylabel("Baseline SUVmax")
    handles = [Line2D([], [], color=OKABE_ITO["black"], label="patient geometric mean")]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, frameon=False, ncols=3, loc="upper left")
    source = data[["patient_id", "rank", "geomean_suvmax", "lesion_id", "site", "suvmax"]].reset_index(drop=True)
    return fig, source


def uptake_violin(
    baseline: pd.DataFrame,
    column: str,
    label: str,
    colours: dict[str, str] | None = None,
    labels: dict | None = None,
):
    """Violins of baseline lesion SUVmax (log scale) per level of ``column``.

    Overlaid dots are per-patient geometric means within the level (for a patient-level
    covariate, the patient's geometric mean). Source data: those geometric means.
    """
    fig, ax = figure(ONE_COLUMN, 65)
    frame = baseline[baseline[column].notna()] if column in baseline.columns else baseline.iloc[0:0]
    columns = [column, "patient_id", "lesions", "geomean_suvmax"]
    if frame.empty:
        _empty(ax, f"{label}: not available")
        return fig, pd.DataFrame(columns=columns)
    levels = sorted(frame[column].astype(str).unique())
    colours = colours or {}
    positions = np.arange(1, len(levels) + 1)
    parts = ax.violinplot(
        [frame.loc[frame[column].astype(str) == lvl, "log_suvmax"].to_numpy() for lvl in levels],
        positions=positions,
        showextrema=False,
        widths=0.8,
    )
    for body, lvl in zip(parts["bodies"], levels, strict=True):
        body.set_facecolor(colours.get(lvl, OKABE_ITO["grey"]))
        body.set_alpha(0.45)
        body.set_edgecolor("none")
    grouped = frame.assign(level=frame[column].astype(str)).groupby(["level", "patient_id"], sort=True)["log_suvmax"]
    means = grouped.agg(["mean", "size"]).reset_index()
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(means))
    x = means["level"].map({lvl: i + 1 for i, lvl in enumerate(levels)}).to_numpy() + jitter
    ax.scatter(x, means["mean"], s=7, color=OKABE_ITO["black"], linewidths=0, zorder=3)
    ticks = np.log([1, 2, 5, 10, 20, 50])
    ax.set_yticks(ticks, [f"{v:g}" for v in np.exp(ticks)])
    low, high = frame["log_suvmax"].min(), frame["log_suvmax"].max()
    ax.set_ylim(low - 0.2, high + 0.2)
    counts = frame.groupby(frame[column].astype(str))["patient_id"].nunique()
    ax.set_xticks(positions, [f"{display_label(lvl, labels)}\n(n={counts[lvl]})" for lvl in levels])
    ax.set_xlabel(label)
    ax.set_ylabel("Baseline SUVmax (log scale)")
    source = pd.DataFrame(
        {
            column: means["level"],
            "patient_id": means["patient_id"],
            "lesions": means["size"],
            "geomean_suvmax": np.exp(means["mean"]),
        }
    )
    return fig, source


def per_patient_change(
    lesions: pd.DataFrame, covariates: pd.DataFrame, baseline_time: str = "zero", labels: dict | None = None
):
    """Per-patient % change in geometric mean SUVmax per week, grouped by best response.

    For lesions measured at both scans: 100 (exp(mean_l [ln SUV_on - ln SUV_base] / weeks)
    - 1), weeks between the scans' treatment times (descriptive; the model estimates are
    in pet_models.tsv). Source data: one row per patient.
    """
    fig, ax = figure(ONE_COLUMN, 65)
    columns = ["patient_id", "bor", "lesions", "weeks", "percent_change_per_week"]
    base = lesions[lesions["timepoint"] == "baseline"].set_index(["patient_id", "lesion_id"])
    on = lesions[lesions["timepoint"] == "on_treatment"].set_index(["patient_id", "lesion_id"])
    pairs = base[["log_suvmax", "scan_day"]].join(on[["log_suvmax", "scan_day"]], rsuffix="_on", how="inner")
    if pairs.empty:
        _empty(ax, "no lesions measured at both scans")
        return fig, pd.DataFrame(columns=columns)
    start = 0.0 if baseline_time == "zero" else pairs["scan_day"]
    pairs["weeks"] = (pairs["scan_day_on"] - start) / 7.0
    pairs = pairs[pairs["weeks"] > 0]
    pairs["slope"] = (pairs["log_suvmax_on"] - pairs["log_suvmax"]) / pairs["weeks"]
    per_patient = pairs.groupby(level="patient_id").agg(
        lesions=("slope", "size"), weeks=("weeks", "mean"), slope=("slope", "mean")
    )
    bor = covariates.set_index("patient_id")["bor"] if len(covariates) else pd.Series(dtype=object)
    per_patient["bor"] = per_patient.index.map(bor).fillna("NE")
    per_patient["percent_change_per_week"] = 100 * np.expm1(per_patient["slope"])
    levels = [b for b in BOR_ORDER if b in set(per_patient["bor"])] + sorted(set(per_patient["bor"]) - set(BOR_ORDER))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(per_patient))
    x = per_patient["bor"].map({b: i for i, b in enumerate(levels)}).to_numpy() + jitter
    colours = per_patient["bor"].map(lambda b: RESPONSE_COLOURS.get(b, OKABE_ITO["grey"]))
    ax.scatter(x, per_patient["percent_change_per_week"], s=10, c=list(colours), linewidths=0)
    for i, b in enumerate(levels):
        median = per_patient.loc[per_patient["bor"] == b, "percent_change_per_week"].median()
        ax.hlines(median, i - 0.3, i + 0.3, color=OKABE_ITO["black"], linewidth=1)
    ax.axhline(0, color=OKABE_ITO["grey"], linewidth=0.5, linestyle="--")
    ax.set_xticks(range(len(levels)), levels)
    ax.set_xlabel(display_label("bor", labels))
    ax.set_ylabel("SUVmax geometric mean change (%/week)")
    source = per_patient.reset_index()[columns]
    return fig, source


SITE_PALETTE = SITE_COLOURS
DMMR_COLOURS = {"dMMR": OKABE_ITO["blue"], "pMMR": OKABE_ITO["vermillion"]}
PHENOTYPE_COLOURS = GROUP_COLOURS


def phenotype_uptake(data: pd.DataFrame, patient_projected: bool, labels: dict | None = None):
    """SUVmax by CD8 IHC phenotype, on the lesions the phenotype model uses.

    Lesion-level design (:func:`contexture.pet.models.biopsied_lesions`): one point per
    biopsied lesion and scan, at the scan of its slide (circles baseline, triangles
    on-treatment) over violins per phenotype; tick labels count lesions and patients.
    ``patient_projected``: the patient-projected option's violins with per-patient
    geometric means (:func:`uptake_violin`). Source data: one row per point.
    """
    if patient_projected:
        name = display_label("ihc_phenotype", labels) + " (patient, projected)"
        return uptake_violin(data, "ihc_phenotype", name, PHENOTYPE_COLOURS, labels)
    fig, ax = figure(ONE_COLUMN, 65)
    columns = ["patient_id", "lesion_id", "timepoint", "ihc_phenotype", "ihc_phenotype_group", "suvmax"]
    if data.empty:
        _empty(ax, "CD8 IHC phenotype: no biopsied PET lesion")
        return fig, pd.DataFrame(columns=columns)
    levels = [lvl for lvl in ("desert", "stromal", "inflamed") if lvl in set(data["ihc_phenotype"])]
    positions = {lvl: i + 1 for i, lvl in enumerate(levels)}
    groups = [data.loc[data["ihc_phenotype"] == lvl, "log_suvmax"].to_numpy() for lvl in levels]
    drawable = [i for i, values in enumerate(groups) if values.size >= 2]
    if drawable:
        parts = ax.violinplot([groups[i] for i in drawable], positions=[i + 1 for i in drawable],
                              showextrema=False, widths=0.8)  # fmt: skip
        for body, i in zip(parts["bodies"], drawable, strict=True):
            body.set_facecolor(PHENOTYPE_COLOURS.get(levels[i], OKABE_ITO["grey"]))
            body.set_alpha(0.45)
            body.set_edgecolor("none")
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(data))
    x = data["ihc_phenotype"].map(positions).to_numpy() + jitter
    for timepoint, marker in (("baseline", "o"), ("on_treatment", "^")):
        chosen = (data["timepoint"] == timepoint).to_numpy()
        ax.scatter(x[chosen], data["log_suvmax"].to_numpy()[chosen], s=9, marker=marker, color=OKABE_ITO["black"],
                   linewidths=0, zorder=3, label=display_label(timepoint, labels))  # fmt: skip
    ticks = np.log([1, 2, 5, 10, 20, 50])
    ax.set_yticks(ticks, [f"{v:g}" for v in np.exp(ticks)])
    low, high = data["log_suvmax"].min(), data["log_suvmax"].max()
    ax.set_ylim(low - 0.2, high + 0.2)
    ticks = []
    for lvl in levels:
        part = data[data["ihc_phenotype"] == lvl]
        lesions = part.groupby(["patient_id", "lesion_id"]).ngroups
        ticks.append(f"{display_label(lvl, labels)}\n{lesions} lesions\n{part['patient_id'].nunique()} pts")
    ax.set_xticks(list(positions.values()), ticks)
    ax.set_xlabel("CD8 IHC phenotype of the biopsied lesion")
    ax.set_ylabel("SUVmax of the biopsied lesion (log scale)")
    ax.legend(frameon=False, loc="upper left", fontsize=5)
    return fig, data[columns].reset_index(drop=True)


def pet_model_figures(
    lesions: pd.DataFrame,
    patients: pd.DataFrame | None,
    options: dict | None = None,
    slides: pd.DataFrame | None = None,
    labels: dict | None = None,
    names: list[str] | None = None,
) -> dict:
    """The figures of the PET analyses: ``{file stem: (figure, source data)}``.

    ``lesions``/``patients``/``slides`` as ``tables/lesions.tsv``/``tables/patients.tsv``/
    ``tables/ihc_slides.tsv``; ``options`` the cohort's ``pet_analysis`` section (same
    lesion selection as :func:`contexture.pet.models.run_pet_models`); ``labels`` the
    display names (:func:`contexture.plotting.display_label`); ``names`` the figures to
    draw (all by default).
    """
    from contexture.pet.models import DEFAULT_OPTIONS, patient_covariates, phenotype_data, prepare_lesions

    options = {**DEFAULT_OPTIONS, **(options or {})}
    table = prepare_lesions(lesions, options["exclude_irradiated"])
    covariates = patient_covariates(patients, options["responder_groups"])
    tumour = table[table["site"] != options["lymph_node_sites"]["normal"]]
    baseline = tumour[tumour["timepoint"] == "baseline"].merge(covariates, on="patient_id", how="left")
    phenotype, _ = phenotype_data(tumour, covariates, slides, options["ihc_phenotype_unit"])
    makers = {
        "pet_lesion_overview": lambda: lesion_overview(baseline, labels),
        "pet_suvmax_by_site": lambda: uptake_violin(
            baseline, "site", display_label("site", labels), SITE_PALETTE, labels
        ),
        "pet_suvmax_by_dmmr": lambda: uptake_violin(
            baseline, "dmmr", display_label("dmmr", labels), DMMR_COLOURS, labels
        ),
        "pet_suvmax_by_ihc_phenotype": lambda: phenotype_uptake(
            phenotype, options["ihc_phenotype_unit"] == "patient", labels
        ),
        "pet_change_per_week_by_response": lambda: per_patient_change(
            tumour, covariates, options["baseline_time"], labels
        ),
    }
    return {name: makers[name]() for name in (names or makers)}


def biodistribution_figure(table: pd.DataFrame, data: pd.DataFrame):
    """SUVmean per tissue over days: dose-specific model geometric means with CI bands.

    One panel per tissue (log SUV axis, as the model); for each dose the model's
    geometric mean (line) and its Satterthwaite t interval (band), and each patient's SUVmean
    (points). Without doses, the single model band. Returns ``(figure, source_data)``.
    """
    model = table[(table["statistic"] == "suvmean") & table["method"].str.startswith("model")]
    tissues = list(dict.fromkeys(model["tissue"]))
    n_cols = min(4, max(len(tissues), 1))
    n_rows = max(math.ceil(len(tissues) / n_cols), 1)
    fig, axes = figure(TWO_COLUMN_MM, 45.0 * n_rows + 10, nrows=n_rows, ncols=n_cols, squeeze=False)
    doses = sorted(model["dose_mg"].dropna().unique())
    colours = {dose: SEQUENCE[i % len(SEQUENCE)] for i, dose in enumerate(doses)}
    for index, ax in enumerate(axes.ravel()):
        if index >= len(tissues):
            ax.set_visible(False)
            continue
        tissue = tissues[index]
        rows = model[model["tissue"] == tissue]
        groups = [(dose, rows[rows["dose_mg"] == dose]) for dose in doses] or [(math.nan, rows)]
        for dose, part in groups:
            colour = colours.get(dose, OKABE_ITO["black"])
            part = part.sort_values("day")
            ax.fill_between(part["day"], part["ci_low"], part["ci_high"], color=colour, alpha=0.2, linewidth=0)
            ax.plot(part["day"], part["estimate"], color=colour, linewidth=1, marker="o", markersize=2)
            points = data[(data["tissue"] == tissue) & ((data["dose_mg"] == dose) if doses else True)]
            offset = 0.08 * (doses.index(dose) - (len(doses) - 1) / 2) if doses else 0.0
            ax.scatter(points["day"] + offset, points["suvmean"], s=4, color=colour, alpha=0.6, linewidths=0)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(tissue.replace("_", " "))
        ax.set_xticks(sorted(rows["day"].unique()))
        if index % n_cols == 0:
            ax.set_ylabel("SUVmean")
        if index >= len(tissues) - n_cols:
            ax.set_xlabel("Days after injection")
    if len(tissues) > 1:
        panel_letters(axes.ravel()[: len(tissues)])
    if doses:
        handles = [Line2D([], [], color=colours[d], marker="o", markersize=3, label=f"{d:g} mg") for d in doses]
        handles.append(Line2D([], [], color=OKABE_ITO["grey"], linewidth=4, alpha=0.4, label="model CI band"))
        spare = axes.ravel()[len(tissues)] if len(tissues) < axes.size else None
        if spare is not None:
            spare.set_visible(True)
            spare.axis("off")
            spare.legend(handles=handles, frameon=False, loc="center", title="protein dose")
        else:
            fig.legend(handles=handles, frameon=False, loc="lower center", ncols=len(handles), title="protein dose")
    source = model[model["dose_mg"].notna() | (not doses)][
        ["tissue", "day", "dose_mg", "estimate", "ci_low", "ci_high", "n_patients"]
    ].assign(kind="model_geometric_mean")
    points = data[["tissue", "day", "dose_mg", "patient_id", "suvmean"]].assign(kind="patient")
    return fig, pd.concat([source, points], ignore_index=True)
