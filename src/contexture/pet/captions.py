"""Report captions of the PET stage: lesion overview, uptake models and the lesion table."""

from __future__ import annotations

from contexture.captioning import Cohort, Facts, format_p, matching_row, number, patient_count


def _overview(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    models = c.table("tables/pet_models.tsv")
    text = f"n = {source['patient_id'].nunique()} patients, {len(source)} baseline lesions"
    geomean = matching_row(models, analysis="baseline_geomean", term="geometric_mean_suvmax")
    icc = matching_row(models, analysis="icc", term="icc")
    if geomean is not None:
        text += f"; geometric mean SUVmax {number(geomean['estimate'])} (95% CI {number(geomean['ci_low'])}-{number(geomean['ci_high'])})"
    if icc is not None:
        text += f"; ICC {number(icc['estimate'])} (95% CI {number(icc['ci_low'])}-{number(icc['ci_high'])})"
    return "Baseline SUVmax per lesion and patient", text + " (no test)"


def _factor(title: str, analysis: str, term: str) -> Facts:
    def facts(c: Cohort, name: str) -> tuple[str, str]:
        source = c.source(name)
        row = matching_row(c.table("tables/pet_models.tsv"), analysis=analysis, term=term)
        text = f"n = {source['patient_id'].nunique()} patients, {int(source['lesions'].sum())} lesions"
        if row is None:
            return title, text + "; test not run (too few patients or levels)"
        method = str(row["method"]).split(",")[0]
        return title, f"{text}; linear mixed model, {method}: {format_p(row['p'])}"

    return facts


def _change(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    models = c.table("tables/pet_models.tsv")
    title = "Change in SUVmax per week of treatment by response"
    text = f"n = {source['patient_id'].nunique()} patients with an on-treatment scan"
    row = matching_row(models, analysis="change_per_week", term="interaction_ratio[responder/non_responder]")
    if row is None:
        return title, text + "; interaction test not run"
    return (
        title,
        f"{text}; linear mixed model, weeks x response interaction (Wald z-test): ratio of weekly "
        f"fold-changes {number(row['estimate'], 3)}, {format_p(row['p'])}",
    )


def _models(c: Cohort, name: str) -> tuple[str, str]:
    models = c.table("tables/pet_models.tsv")
    patients = matching_row(models, analysis="baseline_geomean", term="n_patients")
    lesions = matching_row(models, analysis="baseline_geomean", term="n_lesions")
    tests = models[models["term"].astype(str).str.startswith("test[")] if not models.empty else models
    listed = "; ".join(f"{row['analysis']} {format_p(row['p'])}" for _, row in tests.iterrows())
    n = (
        f"n = {int(patients['estimate'])} patients, {int(lesions['estimate'])} baseline lesions"
        if patients is not None and lesions is not None
        else "n = 0 patients"
    )
    return "CD8-PET uptake models", f"{n}; factor tests (Wald under REML / likelihood ratio under ML): {listed}"


def _lesions(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/lesions.tsv")
    return (
        "Lesion SUV table",
        f"n = {len(table)} lesion measurements in {patient_count(table)} patients ("
        + ", ".join(f"{k} {v}" for k, v in table["timepoint"].value_counts().sort_index().items())
        + ")",
    )


FACTS: dict[str, Facts] = {
    "pet_lesion_overview.png": _overview,
    "pet_suvmax_by_site.png": _factor("Baseline SUVmax by organ site", "site", "test[site]"),
    "pet_suvmax_by_dmmr.png": _factor("Baseline SUVmax by mismatch-repair status", "dmmr", "test[dmmr]"),
    "pet_suvmax_by_ihc_phenotype.png": _factor(
        "Baseline SUVmax by CD8 IHC phenotype", "ihc_phenotype", "test[ihc_phenotype_group]"
    ),
    "pet_change_per_week_by_response.png": _change,
    "pet_models.tsv": _models,
    "lesions.tsv": _lesions,
}
