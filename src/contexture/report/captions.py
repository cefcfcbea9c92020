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

Each stage owns the facts of its own result files, in ``contexture.<stage>.captions``
(a ``FACTS`` dict of file name -> function of (cohort, name) returning title and
summary; shared helpers in :mod:`contexture.captioning`). This module only collects
them, for every stage of ``contexture.modalities.STAGES`` that has a captions module,
plus the report's own results (cohort overview, data availability, the patient table).

Every summary states n; figures and tables that carry a test state the test and its p,
formatted by :func:`format_p`. Nothing here computes statistics: the numbers are those
the stages wrote.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from contexture.captioning import Cohort, Facts, format_p, patient_count
from contexture.modalities import STAGES

__all__ = ["FACTS", "collect_facts", "format_p", "result_labels", "stage_facts"]


# --- the report's own results -------------------------------------------------------------


def _cohort_overview(c: Cohort, name: str) -> tuple[str, str]:
    source = c.source(name)
    counts = [f"{column} {int((source[column] > 0).sum())}" for column in source.columns if column != "patient_id"]
    return "Data availability per patient", f"n = {len(source)} patients; patients with data: " + ", ".join(counts)


def _data_availability(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/data_availability.tsv")
    modalities = table.groupby("modality")["patient_id"].nunique() if not table.empty else pd.Series(dtype=int)
    listed = ", ".join(f"{m} {n}" for m, n in modalities.items())
    return "Data availability table", f"n = {patient_count(table)} patients; patients per modality: {listed}"


def _patients_table(c: Cohort, name: str) -> tuple[str, str]:
    table = c.table("tables/patients.tsv")
    return "Patient table", f"n = {len(table)} patients, {max(len(table.columns) - 1, 0)} patient-level columns"


REPORT_FACTS: dict[str, Facts] = {
    "cohort_overview.png": _cohort_overview,
    "data_availability.tsv": _data_availability,
    "patients.tsv": _patients_table,
}


# --- collecting ---------------------------------------------------------------------------


def stage_facts(stages: Iterable[str] = STAGES) -> list[tuple[str, Mapping[str, Facts]]]:
    """``(stage, FACTS)`` of every stage in ``stages`` that has a ``captions`` module."""
    found = []
    for stage in stages:
        module = f"contexture.{stage}.captions"
        if importlib.util.find_spec(module) is not None:
            found.append((stage, importlib.import_module(module).FACTS))
    return found


def collect_facts(owners: Iterable[tuple[str, Mapping[str, Facts]]]) -> dict[str, Facts]:
    """One table of caption facts from ``(owner, FACTS)`` pairs; a file name claimed by two
    owners is an error (its caption would depend on the order of the stages)."""
    facts: dict[str, Facts] = {}
    owner_of: dict[str, str] = {}
    for owner, entries in owners:
        for name, function in entries.items():
            if name in owner_of:
                raise ValueError(
                    f"caption facts for {name!r} are defined by both {owner_of[name]!r} and {owner!r}; "
                    "a result file belongs to one stage"
                )
            owner_of[name] = owner
            facts[name] = function
    return facts


FACTS: dict[str, Facts] = collect_facts([("report", REPORT_FACTS), *stage_facts()])


def result_labels(cohort_dir: str | Path, name: str) -> dict[str, str]:
    """Report labels of the result file ``name`` of the cohort in ``cohort_dir``.

    Returns ``{"result": <what it shows>, "summary": <n; test and p>}``. Braces are
    replaced because Snakemake applies wildcards to label strings.
    """
    if name not in FACTS:
        raise KeyError(
            f"no caption facts for {name!r}; add it to FACTS in contexture.<stage>.captions "
            "of the stage that writes it (collected into contexture.report.captions.FACTS)"
        )
    title, summary = FACTS[name](Cohort(cohort_dir), name)
    clean = {"result": title, "summary": summary}
    return {key: value.replace("{", "(").replace("}", ")") for key, value in clean.items()}
