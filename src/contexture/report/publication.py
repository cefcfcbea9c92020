"""The bundle as a submission package: figure legends, a data dictionary and a README.

* ``LEGENDS.md``: one legend per figure, from the same caption facts as the Snakemake
  report (:mod:`contexture.report.captions`), so the legend's n, test and p are the run's.
* ``DATA_DICTIONARY.md``: every column of every table in the bundle, with its type (as
  :func:`contexture.io.read_table` reads it through the table's schema), its unit (from the
  column name's suffix, :data:`UNIT_SUFFIXES`), its meaning where the schema states one,
  and the table's source (the schema's description).
* ``README.md``: what is inside, how it was made, the licence and how to cite.
"""

from __future__ import annotations

__all__ = ["bundle_readme", "column_unit", "data_dictionary_markdown", "legends_markdown"]

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from contexture.io.tables import read_table, result_schema, table_schema
from contexture.io.validation import SCHEMA_DIR

# Units read off a column name, most specific first: the workflow names every quantity
# with its unit (outputs contract: *_days, *_months, volume_ml, ...).
UNIT_SUFFIXES = (
    ("_days", "days"),
    ("_day", "days"),
    ("_months", "months (days / 30.4375)"),
    ("_ml", "mL"),
    ("_mm", "mm"),
    ("_um", "µm"),
    ("_mm2", "mm²"),
    ("_kg", "kg"),
    ("_mg", "mg"),
    ("_cm", "cm"),
    ("_pct", "%"),
    ("_s", "s"),
)
UNIT_PREFIXES = (("pct_", "%"), ("suv", "g/mL (SUV, body weight)"), ("sul", "g/mL (SUV, lean body mass)"))
UNIT_CONTAINS = (("density", "cells/mm²"), ("pct_change", "%"))


# Meanings of the columns that recur across tables, where no schema states one.
COMMON_MEANINGS = {
    "patient_id": "Study patient identifier, exactly as in the input tables.",
    "lesion_id": "Lesion identifier within its patient (a lesion is patient_id + lesion_id).",
    "sample_id": "NanoString sample (lane) identifier.",
    "slide_id": "IHC slide identifier.",
    "timepoint": "Timepoint of the scan, sample or slide (baseline, on_treatment, ...).",
    "scan_day": "Day of the scan relative to the start of treatment.",
    "assessment_day": "Day of the RECIST assessment relative to the start of treatment.",
    "treatment_start_date": "Start of treatment (ISO date).",
    "progression_date": "Date of progression (ISO date); empty = no progression.",
    "death_date": "Date of death (ISO date); empty = alive at last follow-up.",
    "last_followup_date": "Last date the patient's status was known (ISO date).",
    "treatment_end_day": "Day of the last dose relative to the start of treatment.",
    "pfs_days": "Progression-free survival time.",
    "pfs_event": "1 = progression or death, 0 = censored.",
    "pfs_months": "Progression-free survival time.",
    "os_days": "Overall survival time.",
    "os_event": "1 = death, 0 = censored.",
    "os_months": "Overall survival time.",
    "age": "Age at the start of treatment, years.",
    "sex": "Sex as recorded.",
    "tumor_type": "Tumour type as recorded.",
    "tumor_burden": "Baseline tumour burden as recorded in the clinical table.",
    "irae_grade_max": "Highest immune-related adverse event grade (CTCAE).",
    "site": "Organ site of the lesion.",
    "suvmax": "Maximum voxel SUV in the lesion.",
    "suvmean": "Mean SUV over the lesion's voxels.",
    "suvpeak": "Highest mean SUV in a sphere placed in the lesion (PERCIST 1.0).",
    "volume_ml": "Lesion volume.",
    "bor": "Best overall response (RECIST 1.1).",
    "best_pct_change": "Best % change of the target-lesion sum from baseline.",
    "endpoint": "Survival endpoint (pfs, os).",
    "stratifier": "Grouping variable of the estimate ('all' = whole cohort).",
    "group": "Level of the stratifier.",
    "n": "Number of patients (or items) in the estimate.",
    "events": "Number of events.",
    "median_months": "Kaplan-Meier median survival.",
    "hr": "Hazard ratio.",
    "ci_low": "Lower confidence limit.",
    "ci_high": "Upper confidence limit.",
    "p": "Two-sided p-value.",
    "q": "Benjamini-Hochberg adjusted p-value.",
    "estimate": "Point estimate.",
    "method": "The test or estimator used.",
    "term": "Model term or contrast.",
    "analysis": "Analysis the row belongs to.",
    "score": "Signature score.",
    "signature": "Gene signature.",
}


def column_unit(column: str) -> str:
    """The unit of a column, from its name (empty when it has none: IDs, labels, counts, ratios)."""
    name = column.lower()
    for part, unit in UNIT_CONTAINS:
        if part in name:
            return unit
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    for prefix, unit in UNIT_PREFIXES:
        if name.startswith(prefix):
            return unit
    return ""


def _type_name(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "text"


def _first_sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def legends_markdown(cohort_dir: str | Path, members: Iterable[str]) -> str:
    """One legend per figure of the bundle (PNG members), in the bundle's order."""
    from contexture.report.captions import FACTS, result_labels

    lines = ["# Figure legends", ""]
    figures = [m for m in members if m.startswith("figures/") and m.endswith(".png")]
    for number, member in enumerate(figures, start=1):
        name = Path(member).name
        if name in FACTS:
            labels = result_labels(cohort_dir, name)
            title, summary = labels["result"], labels["summary"]
        else:  # a figure without caption facts is a bug the captions test catches; say so here too
            title, summary = Path(member).stem.replace("_", " "), "no caption facts registered"
        lines += [
            f"## Figure {number}: {title}",
            "",
            f"`{member}` (PDF and source data beside it). {summary}.",
            "",
        ]
    return "\n".join(lines)


def data_dictionary_markdown(cohort_dir: str | Path, members: Iterable[str]) -> str:
    """Every column of every TSV table of the bundle: type, unit, meaning, source."""
    cohort_dir = Path(cohort_dir)
    lines = [
        "# Data dictionary",
        "",
        "Every table is tab-separated with one header row; empty cells are missing values. "
        "Types are as the workflow reads the table back through its schema "
        "(`src/contexture/schemas/results/`): text, integer, number, boolean (`True`/`False`). "
        "Units come from the column name's suffix; a column without a unit is an ID, a label, "
        "a count or a ratio.",
        "",
    ]
    tables = sorted(m for m in members if m.endswith(".tsv"))
    for member in tables:
        path = cohort_dir / member
        name = result_schema(path)
        # Tables no rule reads back have no schema: their columns follow the reading rule alone.
        schema = table_schema(name) if (SCHEMA_DIR / f"{name}.schema.yaml").is_file() else {}
        table = read_table(path, schema)
        declared = schema.get("properties", {})
        source = _first_sentence(schema.get("description", ""))
        lines += [f"## `{member}`", "", f"{len(table)} rows. {source}".strip(), ""]
        lines += ["| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
        for column in table.columns:
            meaning = " ".join(str(declared.get(column, {}).get("description", "")).split())
            meaning = meaning or COMMON_MEANINGS.get(column, "")
            lines.append(
                f"| `{column}` | {_type_name(table[column])} | {column_unit(column)} | {meaning.replace('|', '/')} |"
            )
        lines.append("")
    return "\n".join(lines)


def bundle_readme(cohort: str, manifest_data: dict, members: Iterable[str]) -> str:
    """The bundle's README: contents, provenance, licence and citation."""
    members = list(members)
    figures = sum(1 for m in members if m.startswith("figures/") and m.endswith(".png"))
    tables = sum(1 for m in members if m.endswith(".tsv") and not m.endswith(".source.tsv"))
    version = manifest_data.get("packages", {}).get("contexture", "unknown")
    return "\n".join(
        [
            f"# contexture results: cohort {cohort}",
            "",
            "## What is inside",
            "",
            f"- `figures/`: {figures} figures, each as PNG and PDF with its source data (`<name>.source.tsv`).",
            f"- `tables/` and the stage folders: {tables} result tables; `DATA_DICTIONARY.md` describes every column.",
            "- `LEGENDS.md`: one legend per figure, with n, test and p of this run.",
            "- `methods.md`: the methods text, built from this run's config and tables.",
            "- `manifest.json`: the config as run, the SHA-256 of every input file, package versions, "
            "the git commit and the date.",
            "",
            "## How it was made",
            "",
            f"With the contexture workflow (version {version}, git commit "
            f"{manifest_data.get('git_commit', 'unknown')}) on {manifest_data.get('date', 'unknown')}: "
            "`snakemake --cores N --configfile <config>`. The same inputs and config give "
            "byte-identical tables.",
            "",
            "## Licence",
            "",
            "The code that made these files is MIT-licensed (the workflow's LICENSE). The results "
            "derive from the study's data: their use is governed by the data owner's terms.",
            "",
            "## How to cite",
            "",
            "Cite the study these results come from, and the contexture workflow as in its "
            "CITATION.cff, with the methods' own references (methods.md).",
            "",
        ]
    )
