"""Report captions of the PET stage: lesion overview, uptake models and the lesion table."""

from __future__ import annotations

__all__ = ["FACTS", "test_text"]

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


def test_text(row) -> str:
    """How a ``test[...]`` row of ``tables/pet_models.tsv`` tested, with its p."""
    method = str(row["method"])
    if method.startswith("Satterthwaite F") and "F(" in method:
        numerator = method.split("F(")[1].split(",")[0]
        described = f"Satterthwaite F test, F({numerator}, {number(row['df'], 1)}) = {number(row['estimate'])}"
    elif method.startswith("likelihood-ratio"):
        described = "likelihood-ratio test under ML"
    else:
        described = method.split(",")[0]
    return f"{described}: {format_p(row['p'])}"


def _factor(title: str, analysis: str, term: str) -> Facts:
    def facts(c: Cohort, name: str) -> tuple[str, str]:
        source = c.source(name)
        row = matching_row(c.table("tables/pet_models.tsv"), analysis=analysis, term=term)
        text = f"n = {source['patient_id'].nunique()} patients, {int(source['lesions'].sum())} lesions"
        if row is None:
            return title, text + "; test not run (too few patients or levels)"
        return title, f"{text}; linear mixed model, {test_text(row)}"

    return facts


def _phenotype(c: Cohort, name: str) -> tuple[str, str]:
    models = c.table("tables/pet_models.tsv")
    source = c.source(name)
    projected = matching_row(models, analysis="ihc_phenotype_patient_projected", term="n_measurements") is not None
    analysis = "ihc_phenotype_patient_projected" if projected else "ihc_phenotype"
    row = matching_row(models, analysis=analysis, term="test[ihc_phenotype_group]")
    if projected:
        title = "Baseline SUVmax by CD8 IHC phenotype (patient phenotype projected onto all lesions)"
        text = f"n = {source['patient_id'].nunique()} patients, {int(source['lesions'].sum())} baseline lesions"
    else:
        title = "SUVmax of biopsied lesions by their CD8 IHC phenotype"
        lesions = source.drop_duplicates(["patient_id", "lesion_id"]).shape[0]
        text = (
            f"n = {lesions} biopsied lesions of {source['patient_id'].nunique()} patients, "
            f"{len(source)} lesion measurements (baseline and on treatment)"
        )
    if row is None:
        return title, text + "; test not run (too few lesions or phenotypes)"
    ratio = matching_row(models, analysis=analysis, term="ratio[stromal_or_inflamed/desert]")
    if ratio is not None:
        text += (
            f"; ratio stromal or inflamed / desert {number(ratio['estimate'], 3)} (95% CI "
            f"{number(ratio['ci_low'], 3)}-{number(ratio['ci_high'], 3)}, Satterthwaite t)"
        )
    return title, f"{text}; linear mixed model, {test_text(row)}"


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
        f"{text}; linear mixed model, weeks x response interaction (t-test, Satterthwaite df): ratio of weekly "
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
    return "CD8-PET uptake models", (
        f"{n}; t intervals and tests with Satterthwaite df (REML); factor tests (F with Satterthwaite df for 3+ "
        f"levels / likelihood ratio under ML for 2 levels): {listed}"
    )


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
    "pet_suvmax_by_ihc_phenotype.png": _phenotype,
    "pet_change_per_week_by_response.png": _change,
    "pet_models.tsv": _models,
    "lesions.tsv": _lesions,
}
