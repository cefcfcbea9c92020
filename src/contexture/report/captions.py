"""The numbers behind each figure's and table's caption in the Snakemake HTML report.

``snakemake --report`` renders every caption (``workflow/report/<result>.rst``) with
Jinja, but the template only sees the job (``snakemake.wildcards``, ``.config``, ...) and
the report's list of results, not the data. The data reach the caption through the
result's *labels*: each ``report(...)`` entry passes ``labels=report_labels("<file>")``
(``workflow/rules/common.smk``), which calls :func:`result_labels` when the report is
built, after the run. It reads the stage's tables and the figure's ``.source.tsv`` and
returns two strings: ``result`` (what the file shows) and ``summary`` (n, the test and
its p). The caption template looks its own record up and prints ``summary``. The labels
also appear as the columns of the report's result lists. See docs/report.md.

Every summary states n; figures and tables that carry a test state the test and its p,
formatted by :func:`format_p`. Nothing here computes statistics: the numbers are those
the stages wrote.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from contexture.io import read_table


def format_p(p: float | None) -> str:
    """``p = 0.031`` (two significant digits), ``p < 0.0001``, or ``p not computed``."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return "p not computed"
    p = float(p)
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.2g}"


def _number(value: float, digits: int = 2) -> str:
    return "NA" if pd.isna(value) else f"{float(value):.{digits}f}"


def _patients(table: pd.DataFrame) -> int:
    return int(table["patient_id"].nunique()) if "patient_id" in table.columns else len(table)


class _Cohort:
    """Lazy, cached reading of a cohort's result tables (``results/{cohort}``)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._tables: dict[str, pd.DataFrame] = {}

    def table(self, relative: str) -> pd.DataFrame:
        if relative not in self._tables:
            path = self.directory / relative
            schema = "results/figures/source" if relative.startswith("figures/") else f"results/{relative[:-4]}"
            self._tables[relative] = read_table(path, schema) if path.exists() else pd.DataFrame()
        return self._tables[relative]

    def source(self, figure: str) -> pd.DataFrame:
        return self.table(f"figures/{Path(figure).stem}.source.tsv")


def _row(table: pd.DataFrame, **match) -> pd.Series | None:
    if table.empty:
        return None
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        if column not in table.columns:
            return None
        mask &= table[column].astype(str) == str(value)
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]


# --- cohort ---------------------------------------------------------------------------


def _cohort_overview(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = [f"{column} {int((source[column] > 0).sum())}" for column in source.columns if column != "patient_id"]
    return "Data availability per patient", f"n = {len(source)} patients; patients with data: " + ", ".join(counts)


def _data_availability(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/data_availability.tsv")
    modalities = table.groupby("modality")["patient_id"].nunique() if not table.empty else pd.Series(dtype=int)
    listed = ", ".join(f"{m} {n}" for m, n in modalities.items())
    return "Data availability table", f"n = {_patients(table)} patients; patients per modality: {listed}"


def _patients_table(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/patients.tsv")
    return "Patient table", f"n = {len(table)} patients, {max(len(table.columns) - 1, 0)} patient-level columns"


# --- nanostring -------------------------------------------------------------------------


def _nanostring_qc(title: str) -> Callable[[_Cohort, str], tuple[str, str]]:
    def facts(c: _Cohort, name: str) -> tuple[str, str]:
        lanes = c.table("nanostring/lanes.tsv")
        failed = int((~lanes["qc_pass"]).sum()) if "qc_pass" in lanes else 0
        return title, f"n = {len(lanes)} lanes, {failed} failing QC (nSolver thresholds; no test)"

    return facts


# --- signatures -------------------------------------------------------------------------


def _signature_changes(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    changes = c.table("tables/expression_changes.tsv")
    parts = []
    for signature, rows in source.groupby("signature", sort=False):
        paired = rows.dropna(subset=["baseline", "on_treatment"])
        counts = paired["response"].value_counts()
        text = (
            f"{signature}: n = {len(paired)} paired patients (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
        )
        for comparison, test in (("all", "Wilcoxon signed-rank"), ("responder_vs_non_responder", "Mann-Whitney U")):
            row = _row(changes, feature_type="signature", feature=signature, comparison=comparison)
            if row is not None:
                text += f"; {test} ({comparison.replace('_', ' ')}) {format_p(row['p'])}"
        parts.append(text)
    return "Signature scores before and after treatment by response", "; ".join(parts) or "n = 0 paired patients"


def _heatmap(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return (
        "Baseline immune gene expression",
        f"n = {source['patient_id'].nunique()} patients, {source['gene'].nunique()} genes (z-scores; no test)",
    )


def _correlations(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/expression_correlations.tsv")
    if table.empty:
        return "Chemokine and cytokine vs T-cell gene correlations", "n = 0 gene pairs"
    significant = int((table["q"] < 0.05).sum())
    strongest = table.loc[table["rho"].abs().idxmax()]
    return (
        "Chemokine and cytokine vs T-cell gene correlations",
        f"n = {int(table['n'].max())} baseline samples, {len(table)} gene pairs; Spearman rho, "
        f"Benjamini-Hochberg q < 0.05 for {significant} pairs; strongest {strongest['gene']}-"
        f"{strongest['tcell_gene']} rho = {_number(strongest['rho'])}, {format_p(strongest['p'])}",
    )


def _signature_scores(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/signature_scores.tsv")
    return (
        "Signature scores",
        f"n = {table['sample_id'].nunique()} samples of {_patients(table)} patients, "
        f"{table['signature'].nunique()} signatures",
    )


def _expression_changes(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/expression_changes.tsv")
    paired = table[table["comparison"] == "all"]
    return (
        "Expression changes",
        f"n = {int(paired['n'].max()) if len(paired) else 0} paired patients, {table['feature'].nunique()} features; "
        f"Wilcoxon signed-rank within groups, Mann-Whitney U between; {int((table['q'] < 0.05).sum())} "
        "tests with BH q < 0.05",
    )


# --- pet ----------------------------------------------------------------------------------


def _pet_overview(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    models = c.table("tables/pet_models.tsv")
    text = f"n = {source['patient_id'].nunique()} patients, {len(source)} baseline lesions"
    geomean = _row(models, analysis="baseline_geomean", term="geometric_mean_suvmax")
    icc = _row(models, analysis="icc", term="icc")
    if geomean is not None:
        text += f"; geometric mean SUVmax {_number(geomean['estimate'])} (95% CI {_number(geomean['ci_low'])}-{_number(geomean['ci_high'])})"
    if icc is not None:
        text += f"; ICC {_number(icc['estimate'])} (95% CI {_number(icc['ci_low'])}-{_number(icc['ci_high'])})"
    return "Baseline SUVmax per lesion and patient", text + " (no test)"


def _pet_factor(title: str, analysis: str, term: str) -> Callable[[_Cohort, str], tuple[str, str]]:
    def facts(c: _Cohort, name: str) -> tuple[str, str]:
        source = c.source(name)
        row = _row(c.table("tables/pet_models.tsv"), analysis=analysis, term=term)
        text = f"n = {source['patient_id'].nunique()} patients, {int(source['lesions'].sum())} lesions"
        if row is None:
            return title, text + "; test not run (too few patients or levels)"
        method = str(row["method"]).split(",")[0]
        return title, f"{text}; linear mixed model, {method}: {format_p(row['p'])}"

    return facts


def _pet_change(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    models = c.table("tables/pet_models.tsv")
    title = "Change in SUVmax per week of treatment by response"
    text = f"n = {source['patient_id'].nunique()} patients with an on-treatment scan"
    row = _row(models, analysis="change_per_week", term="interaction_ratio[responder/non_responder]")
    if row is None:
        return title, text + "; interaction test not run"
    return (
        title,
        f"{text}; linear mixed model, weeks x response interaction (Wald z-test): ratio of weekly "
        f"fold-changes {_number(row['estimate'], 3)}, {format_p(row['p'])}",
    )


def _pet_models(c: _Cohort, name: str) -> tuple[str, str]:
    models = c.table("tables/pet_models.tsv")
    patients = _row(models, analysis="baseline_geomean", term="n_patients")
    lesions = _row(models, analysis="baseline_geomean", term="n_lesions")
    tests = models[models["term"].astype(str).str.startswith("test[")] if not models.empty else models
    listed = "; ".join(f"{row['analysis']} {format_p(row['p'])}" for _, row in tests.iterrows())
    n = (
        f"n = {int(patients['estimate'])} patients, {int(lesions['estimate'])} baseline lesions"
        if patients is not None and lesions is not None
        else "n = 0 patients"
    )
    return "CD8-PET uptake models", f"{n}; factor tests (Wald under REML / likelihood ratio under ML): {listed}"


def _lesions(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/lesions.tsv")
    return (
        "Lesion SUV table",
        f"n = {len(table)} lesion measurements in {_patients(table)} patients ("
        + ", ".join(f"{k} {v}" for k, v in table["timepoint"].value_counts().sort_index().items())
        + ")",
    )


# --- ihc ----------------------------------------------------------------------------------


def _ihc_phenotype(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = ", ".join(f"{k} {v}" for k, v in source["ihc_phenotype"].value_counts().sort_index().items())
    return "CD8+ density by immune phenotype", f"n = {len(source)} slides ({counts}); descriptive, no test"


def _ihc_immunoscore(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = ", ".join(f"{k} {v}" for k, v in source["immunoscore"].value_counts().sort_index().items())
    return "Immunoscore mean percentiles", f"n = {len(source)} slides ({counts}); descriptive, no test"


def _ihc_cell_map(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    if "cell" not in source.columns:
        return "Example IHC cell map", "n = 0 cells (densities supplied as a table)"
    counts = ", ".join(f"{k} {v}" for k, v in source["cell"].value_counts().sort_index().items())
    return "Example IHC cell map", f"n = {len(source)} cells of one slide ({counts}); no test"


def _ihc_pet(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/ihc_pet_correlation.tsv")
    source = c.source(name)
    density = next((col for col in source.columns if col.startswith("cd8_density")), "cd8_density_tumor")
    row = _row(table, timepoint="all", density=density)
    title = "Lesion SUVmax vs CD8+ density"
    if row is None:
        return title, f"n = {len(source)} biopsied lesions; test not run"
    return title, f"n = {int(row['n'])} biopsied lesions; Kendall tau-b = {_number(row['tau'])}, {format_p(row['p'])}"


def _ihc_slides(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/ihc_slides.tsv")
    return "IHC slide table", f"n = {len(table)} slides of {_patients(table)} patients"


# --- response -----------------------------------------------------------------------------


def _orr(c: _Cohort) -> str:
    row = _row(c.table("tables/response_rates.tsv"), criteria="RECIST 1.1", endpoint="ORR")
    if row is None:
        return ""
    return (
        f"; ORR {int(row['count'])}/{int(row['n'])} = {100 * float(row['rate']):.0f}% "
        f"(95% CI {100 * float(row['ci_low']):.0f}-{100 * float(row['ci_high']):.0f}%, Clopper-Pearson)"
    )


def _waterfall(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return "Best % change of the target-lesion sum", f"n = {len(source)} patients with a follow-up sum{_orr(c)}"


def _spider(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return (
        "Target-lesion sum over time",
        f"n = {source['patient_id'].nunique()} patients, {len(source)} assessments (no test)",
    )


def _swimmer(c: _Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    return "Time on study and response per patient", f"n = {len(source)} patients{_orr(c)}"


def _toxicity(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/toxicity.tsv")
    title = "Baseline biomarkers by immune-related adverse event severity"
    tests = table[table["test"] == "mann_whitney"] if "test" in table.columns else table.iloc[0:0]
    if tests.empty:
        return title, "n = 0 comparisons; too few severe events to test"
    first = tests.iloc[0]
    parts = [f"{row['biomarker']} {format_p(row['p'])}" for _, row in tests.iterrows()]
    return (
        title,
        f"n = {int(first['n_severe'])} severe vs {int(first['n_other'])} other patients "
        f"({first['toxicity']}); Mann-Whitney: " + ", ".join(parts),
    )


def _classifier(c: _Cohort, name: str) -> tuple[str, str]:
    row = _row(c.table("tables/classifier.tsv"), analysis="cv_auc")
    title = "Response classifier" + (" ROC curve" if name.endswith(".png") else "")
    if row is None or pd.isna(row.get("estimate")):
        return title, "n = 0 patients; classifier not fitted"
    return (
        title,
        f"n = {int(row['n'])} patients ({int(row['n_responders'])} responders); cross-validated AUC "
        f"{_number(row['estimate'])} (95% CI {_number(row['ci_low'])}-{_number(row['ci_high'])}); "
        f"permutation test {format_p(row['p'])}",
    )


def _recist(c: _Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/recist_timepoints.tsv")
    return "RECIST time-point responses", f"n = {_patients(table)} patients, {len(table)} assessments"


def _rates(c: _Cohort, name: str) -> tuple[str, str]:
    rates = c.table("tables/response_rates.tsv")
    n = int(rates["n"].iloc[0]) if len(rates) else 0
    return "Response rates", f"n = {n} patients{_orr(c)}"


# --- survival -----------------------------------------------------------------------------


def _km(endpoint: str) -> Callable[[_Cohort, str], tuple[str, str]]:
    def facts(c: _Cohort, name: str) -> tuple[str, str]:
        km = c.table("tables/survival_km.tsv")
        logrank = c.table("tables/survival_logrank.tsv")
        title = {"pfs": "Progression-free survival", "os": "Overall survival"}[endpoint] + " (Kaplan-Meier)"
        everyone = _row(km, endpoint=endpoint, stratifier="all")
        if everyone is None:
            return title, "n = 0 patients with follow-up"
        text = f"n = {int(everyone['n'])} patients, {int(everyone['events'])} events"
        rows = logrank[(logrank["endpoint"] == endpoint) & (logrank["test"] == "log-rank")] if len(logrank) else logrank
        tests = [f"{row['stratifier']} (n = {int(row['n'])}) {format_p(row['p'])}" for _, row in rows.iterrows()]
        if tests:
            text += "; log-rank test: " + "; ".join(tests)
        return title, text

    return facts


def _forest(c: _Cohort, name: str) -> tuple[str, str]:
    cox = c.table("tables/survival_cox.tsv")
    title = "Cox proportional-hazards models"
    if cox.empty:
        return title, "n = 0 patients; no model fitted"
    rows = [
        f"{row['endpoint']} {row['term']} ({row['scale']}) HR {_number(row['hr'])}, {format_p(row['p'])}"
        for _, row in cox[cox["model"] == "univariable"].iterrows()
    ]
    return (
        title,
        f"n = {int(cox['n'].max())} patients; univariable Cox, Wald test: " + "; ".join(rows),
    )


def _survival_table(c: _Cohort, name: str) -> tuple[str, str]:
    km = c.table("tables/survival_km.tsv")
    parts = [
        f"{row['endpoint']} n = {int(row['n'])}, {int(row['events'])} events, median {_number(row['median_months'], 1)} months"
        for _, row in km[km["stratifier"] == "all"].iterrows()
    ]
    summary = "; ".join(parts) or "n = 0 patients"
    if name == "survival_logrank.tsv":
        logrank = c.table("tables/survival_logrank.tsv")
        return "Log-rank tests", f"{summary}; {len(logrank)} tests (log-rank and trend)"
    if name == "survival_cox.tsv":
        cox = c.table("tables/survival_cox.tsv")
        models = cox[["endpoint", "model"]].drop_duplicates() if len(cox) else cox
        return "Cox models", f"{summary}; {len(models)} Cox models, {len(cox)} terms (Wald tests)"
    return "Kaplan-Meier estimates", summary


FACTS: dict[str, Callable[[_Cohort, str], tuple[str, str]]] = {
    "cohort_overview.png": _cohort_overview,
    "data_availability.tsv": _data_availability,
    "patients.tsv": _patients_table,
    "nanostring_binding_density.png": _nanostring_qc("NanoString binding density per lane"),
    "nanostring_imaging.png": _nanostring_qc("NanoString imaging (FOV ratio) per lane"),
    "nanostring_positive_control_linearity.png": _nanostring_qc("NanoString positive-control linearity"),
    "nanostring_normalization_factors.png": _nanostring_qc("NanoString normalization factors"),
    "nanostring_relative_log_expression.png": _nanostring_qc("NanoString relative log expression"),
    "lanes.tsv": _nanostring_qc("NanoString lane QC"),
    "signature_changes_by_response.png": _signature_changes,
    "immune_genes_baseline_heatmap.png": _heatmap,
    "chemokine_tcell_correlations.png": _correlations,
    "signature_scores.tsv": _signature_scores,
    "expression_changes.tsv": _expression_changes,
    "expression_correlations.tsv": _correlations,
    "pet_lesion_overview.png": _pet_overview,
    "pet_suvmax_by_site.png": _pet_factor("Baseline SUVmax by organ site", "site", "test[site]"),
    "pet_suvmax_by_dmmr.png": _pet_factor("Baseline SUVmax by mismatch-repair status", "dmmr", "test[dmmr]"),
    "pet_suvmax_by_ihc_phenotype.png": _pet_factor(
        "Baseline SUVmax by CD8 IHC phenotype", "ihc_phenotype", "test[ihc_phenotype_group]"
    ),
    "pet_change_per_week_by_response.png": _pet_change,
    "pet_models.tsv": _pet_models,
    "lesions.tsv": _lesions,
    "ihc_cd8_density_by_phenotype.png": _ihc_phenotype,
    "ihc_immunoscore_distribution.png": _ihc_immunoscore,
    "ihc_cell_map.png": _ihc_cell_map,
    "ihc_suvmax_vs_cd8_density.png": _ihc_pet,
    "ihc_slides.tsv": _ihc_slides,
    "ihc_pet_correlation.tsv": _ihc_pet,
    "best_percent_change_waterfall.png": _waterfall,
    "target_sum_change_spider.png": _spider,
    "response_swimmer.png": _swimmer,
    "response_classifier_roc.png": _classifier,
    "toxicity_biomarkers.png": _toxicity,
    "toxicity.tsv": _toxicity,
    "classifier.tsv": _classifier,
    "recist_timepoints.tsv": _recist,
    "response_rates.tsv": _rates,
    "survival_km_pfs.png": _km("pfs"),
    "survival_km_os.png": _km("os"),
    "survival_cox_forest.png": _forest,
    "survival_km.tsv": _survival_table,
    "survival_logrank.tsv": _survival_table,
    "survival_cox.tsv": _survival_table,
}


def result_labels(cohort_dir: str | Path, name: str) -> dict[str, str]:
    """Report labels of the result file ``name`` of the cohort in ``cohort_dir``.

    Returns ``{"result": <what it shows>, "summary": <n; test and p>}``. Braces are
    replaced because Snakemake applies wildcards to label strings.
    """
    if name not in FACTS:
        raise KeyError(f"no caption facts for {name!r}; add it to contexture.report.captions.FACTS")
    title, summary = FACTS[name](_Cohort(cohort_dir), name)
    clean = {"result": title, "summary": summary}
    return {key: value.replace("{", "(").replace("}", ")") for key, value in clean.items()}
