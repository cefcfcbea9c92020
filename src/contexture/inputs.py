"""Central validation of a real cohort's inputs, before any analysis runs.

The rule ``validate_inputs`` (``workflow/rules/validate.smk``) calls
:func:`validate_cohort_inputs` once per real (non-simulated) cohort, and every stage's
first rule waits for its output, so a broken input stops the run before any table is
computed. This module holds what the modalities share -- the :class:`Collector` of
problems and file records, the declared-path checks run when the workflow is parsed,
and the driver that walks :data:`contexture.modalities.MODALITIES` -- while each
modality's checks live in its stage (``contexture.<stage>.checks``, named in the table),
built on the stage's own validators (the row schemas of ``src/contexture/schemas/tables/``
through :func:`contexture.io.validation.validate_frame`,
:func:`contexture.clinical.derive_follow_up`, :func:`contexture.response.recist.check_measurements`,
:func:`contexture.nanostring.match_sample_sheet`, :func:`contexture.io.rcc.read_rcc`,
:func:`contexture.io.qupath.resolve_columns`).
Every problem of every file is collected into one :class:`InputError` naming the
file, row, column (or key), value and what was expected -- not only the first one.

Beyond the tables' own schemas, the stage checks reconcile the modalities' files:

* NanoString: sample-sheet rows naming an RCC file that does not exist and RCC files
  present but not in the sheet are both **errors** (the nanostring stage refuses them
  too: an unlisted file is either a forgotten sheet row or a stray file from another
  study, and guessing would silently change the sample set); RCC files must parse
  (truncation, non-numeric counts, duplicate probes) and share one CodeSet (``GeneRLF``)
  and one probe set; the RLF, when given, must name that CodeSet. A cohort of several
  runs (``nanostring.runs``) is checked run by run, each run one CodeSet, and a sample ID
  or an RCC file in two runs is an error (:func:`contexture.nanostring.checks.check_nanostring_runs`).
* PET: every image, mask and labels file named by the scans table exists (a NIfTI image
  with its BIDS-PET sidecar); an ``on_treatment`` scan dated before treatment start
  (``scan_day < 0``) is an error (scans table and VOI table). The images, masks and
  labels tables are parsed once, by ``pet_quantify`` (:mod:`contexture.pet.checks`).
* IHC: every QuPath export named by the slide sheet exists and its header has the
  required columns (header only: the exports can be gigabytes).
* Patients (:func:`reconcile_patients`): every patient of a PET, RECIST, IHC or
  NanoString table is in the clinical table (an error, or a warning with the cohort key
  ``on_unknown_patient: warning``); clinical patients without a modality's data are a
  warning. The IDs come from the tables the checks above already read and typed.

Size limits (cohort config section ``limits``, see :data:`LIMIT_DEFAULTS`) are checked
from the file size before any file is read into memory; ``limits.image_voxels`` from
each image or mask header, by ``pet_quantify``'s readers, before its voxels are read.

The result is ``results/{cohort}/validation/inputs.tsv``: one row per input file with
its SHA-256 (the run's record of exactly which bytes were analysed), row count and status.
Inputs are only ever opened for reading.
"""

from __future__ import annotations

__all__ = [
    "LIMIT_DEFAULTS",
    "Collector",
    "check_declared_paths",
    "declared_paths",
    "input_files",
    "input_limits",
    "missing_declared_paths",
    "reconcile_patients",
    "resolve_path",
    "sheet_files",
    "validate_cohort_inputs",
    "validation_config",
]

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from contexture.errors import InputError, Problem
from contexture.io import read_input_table, sha256_file
from contexture.modalities import MODALITIES

log = logging.getLogger(__name__)

MB = 1024**2
# Defaults of the cohort section ``limits`` (src/contexture/schemas/cohort/limits.schema.yaml).
LIMIT_DEFAULTS = {
    "rcc_mb": 16,  # an RCC file is 20-60 kB; the reader's hard ceiling is 64 MB
    "table_mb": 1024,  # clinical, sample sheets, RECIST, VOI and labels tables
    "qupath_mb": 4096,  # QuPath exports are legitimately large (millions of cells)
    "image_voxels": 2**30,  # 4 GiB as float32; a whole-body PET is ~10^7 voxels
}


def input_limits(limits: dict | None) -> dict:
    """A cohort's ``limits`` section with :data:`LIMIT_DEFAULTS` for the keys it leaves out
    (what validation and ``pet_quantify`` both apply)."""
    return {**LIMIT_DEFAULTS, **(limits or {})}


class Collector:
    """Problems (as readable text) and the rows of ``inputs.tsv``, gathered across modalities."""

    def __init__(self, limits: dict | None = None, cohort: dict | None = None) -> None:
        self.limits = input_limits(limits)
        # The cohort's config, for checks whose rules are options (e.g. response.units).
        self.cohort = cohort or {}
        self.problems: list[str] = []
        self.files: dict[str, dict] = {}
        # (modality, what, file) -> {patient_id: first data row}, from the checked tables.
        self.patients: dict[tuple[str, str, str], dict[str, int]] = {}
        # What a stage needs from its raw files, parsed here once (modality -> object),
        # e.g. nanostring's merged RCC set; rule validate_inputs writes it for the stage.
        self.parsed: dict[str, object] = {}

    def add(self, problem: Problem | str) -> None:
        self.problems.append(str(problem))

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Record an :class:`InputError` raised inside the block as a problem, and go on."""
        try:
            yield
        except InputError as error:
            self.add(str(error))

    def record(
        self, path: str | os.PathLike, modality: str, kind: str, rows: int | None = None, sha256: str | None = None
    ) -> None:
        """Note an input file for ``inputs.tsv``; ``sha256`` when the check already read its bytes."""
        key = str(path)
        entry = self.files.setdefault(
            key, {"file": key, "modality": modality, "kind": kind, "rows": None, "sha256": None}
        )
        if rows is not None:
            entry["rows"] = rows
        if sha256 is not None:
            entry["sha256"] = sha256

    def too_big(self, path: Path, limit_key: str, what: str) -> bool:
        """Report and return True if ``path`` is larger than the configured limit (in MB)."""
        size = path.stat().st_size
        limit = self.limits[limit_key] * MB
        if size > limit:
            self.add(
                f"{what} '{path}' is {size} bytes, above the limit of {self.limits[limit_key]} MB "
                f"(config limits.{limit_key}); refusing to read it (damaged, or not a {what}?)"
            )
            return True
        return False

    def table(
        self, path: str | os.PathLike, schema: str, what: str, modality: str, prepare: Callable | None = None
    ) -> tuple[pd.DataFrame | None, bool]:
        """Read and schema-check a table: (typed table or None if unreadable, whether it is clean).

        ``prepare(text_table, schema) -> (text_table, problems)`` runs between reading and
        the schema check (the RECIST unit check, the VOI table's header mapping
        ``pet.columns``); its problems, or an InputError it raises, stop there.
        """
        from contexture.io.validation import load_schema, validate_frame

        path = Path(path)
        self.record(path, modality, what)
        if not path.is_file():
            self.add(f"{what} '{path}' does not exist (or is not a file)")
            return None, False
        if self.too_big(path, "table_mb", what):
            return None, False
        try:
            text = read_input_table(path, what=what)
            problems = []
            if prepare is not None:
                text, problems = prepare(text, load_schema(schema))
        except InputError as error:
            self.add(str(error))
            return None, False
        self.record(path, modality, what, len(text))
        for problem in problems:
            self.add(problem)
        if problems:
            return None, False
        typed, problems = validate_frame(text, load_schema(schema), str(path))
        for problem in problems:
            self.add(problem)
        self.note_patients(modality, what, path, typed)
        return typed, not problems

    def note_patients(self, modality: str, what: str, path: str | os.PathLike, table: pd.DataFrame | None) -> None:
        """Remember the patient IDs a checked table names, for :func:`reconcile_patients`."""
        if table is None or "patient_id" not in table.columns:
            return
        ids = self.patients.setdefault((modality, what, str(path)), {})
        for row, value in enumerate(table["patient_id"].tolist(), start=1):
            if isinstance(value, str) and value:
                ids.setdefault(value, row)


def resolve_path(base: Path, value: object) -> Path:
    """A path named in a sheet's cell: absolute, or relative to the sheet's folder ``base``."""
    path = Path(str(value))
    return path if path.is_absolute() else base / path


# --- declared paths (checked when the workflow is parsed) ---------------------------------
def declared_paths(cohort: dict) -> list[tuple[str, str]]:
    """(config key, path) of every input a real cohort declares, in the modalities' order."""
    return [
        (modality.config_key(entry), path) for modality in MODALITIES for entry, path in modality.declared_paths(cohort)
    ]


def _missing_paths(name: str, cohort: dict) -> list[tuple[str, str]]:
    """(config key, problem) for declared input paths that do not exist."""
    problems = []
    for modality in MODALITIES:
        for entry, value in modality.declared_paths(cohort):
            key = modality.config_key(entry)
            if entry.files:
                try:
                    entry.list_files(value)
                except InputError as error:
                    problems.append((key, f"cohorts.{name}.{key}: {error}"))
            elif not os.path.exists(value):
                problems.append(
                    (
                        key,
                        f"cohorts.{name}.{key}: '{value}' does not exist (relative paths start from the run folder)",
                    )
                )
    return problems


def missing_declared_paths(name: str, cohort: dict) -> list[str]:
    """Problems for declared input paths that do not exist (an RCC glob must match a file)."""
    return [problem for _, problem in _missing_paths(name, cohort)]


def check_declared_paths(cohorts: dict) -> None:
    """Raise one :class:`InputError` listing every declared input path that does not exist."""
    problems = []
    for name, cohort in sorted(cohorts.items()):
        if "simulate" not in cohort:
            problems += missing_declared_paths(name, cohort)
    if problems:
        raise InputError(
            f"{len(problems)} input path(s) of the config do not exist:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def sheet_files(sheet: str | os.PathLike, columns: tuple[str, ...]) -> list[str]:
    """Existing files (or DICOM series folders) named in ``columns`` of a sheet, relative
    to its folder; sorted, and never raises (the validation rule reports a bad sheet)."""
    sheet = Path(sheet)
    try:
        table = read_input_table(sheet)
    except InputError:  # reported in full by the validation rule
        return []
    files = []
    for column in columns:
        if column in table.columns:
            for value in table[column].dropna():
                path = resolve_path(sheet.parent, value)
                if path.is_file() or path.is_dir():  # a folder is a DICOM series
                    files.append(str(path))
    return sorted(set(files))


def input_files(cohort: dict) -> list[str]:
    """Every existing input file of a real cohort (the validation rule's inputs); never raises."""
    files = []
    for modality in MODALITIES:
        for entry, value in modality.declared_paths(cohort):
            if entry.files:
                try:
                    files += [str(p) for p in entry.list_files(value)]
                except InputError:
                    pass
            elif os.path.isfile(value):
                files.append(value)
                if entry.path_columns:
                    files += sheet_files(value, entry.path_columns)
    return sorted(set(files))


# --- patients across modalities ------------------------------------------------------------
def _shown(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def reconcile_patients(found: Collector, on_unknown: str = "error") -> list[str]:
    """Patients of every modality against the clinical table, from the tables already checked.

    A patient in a PET, RECIST, IHC or NanoString table but not in the clinical table is
    a problem (``on_unknown="error"``, the cohort key ``on_unknown_patient``) naming the
    file, the column and the first row of each such patient, or a logged warning
    (``"warning"``). A clinical patient with no data in a declared modality is a warning:
    missing data is normal, but a patient missing everywhere may be a mistyped ID.
    Returns the warnings logged. Nothing is checked without a readable clinical table.
    """
    clinical = [key for key in found.patients if key[0] == "clinical"]
    if not clinical:
        return []
    clinical_file = clinical[0][2]
    known = set(found.patients[clinical[0]])
    warnings = []
    present: dict[str, set[str]] = {}
    for (modality, what, path), ids in found.patients.items():
        if modality == "clinical":
            continue
        present.setdefault(modality, set()).update(ids)
        unknown = sorted(set(ids) - known)
        if not unknown:
            continue
        message = (
            f"{what} '{path}', column 'patient_id': {len(unknown)} patient(s) not in the clinical table "
            f"'{clinical_file}': " + _shown([f"{i} (row {ids[i]})" for i in unknown])
        )
        if on_unknown == "error":
            found.add(message + "; expected every patient in the clinical table (or set on_unknown_patient: warning)")
        else:
            warnings.append(message)
    for modality in (m.name for m in MODALITIES if m.name in present):
        absent = sorted(known - present[modality])
        if absent:
            warnings.append(f"{len(absent)} clinical patient(s) have no {modality} data: {_shown(absent)}")
    for warning in warnings:
        log.warning(warning)
    return warnings


# --- the step ----------------------------------------------------------------------------
# Cohort keys outside the modalities' sections that the validation reads.
VALIDATION_KEYS = ("limits", "on_unknown_patient")


# Options of the `response` section that the RECIST input check reads (units, target selection).
RECIST_CHECK_OPTIONS = ("units", "strict_selection")


def validation_config(cohort: dict) -> dict:
    """The part of a cohort's config that input validation reads, and nothing else.

    Each declared modality's inputs and its ``check_options``
    (:meth:`contexture.modalities.Modality.check_section`), plus :data:`VALIDATION_KEYS`.
    The rule ``validate_inputs`` takes this as its params, so editing an analysis option
    (``survival.conf_level``, ``description``) neither reruns the validation nor, through
    its output, every stage after it.
    """
    subset = {key: cohort[key] for key in VALIDATION_KEYS if key in cohort}
    for modality in MODALITIES:
        if modality.name in cohort:
            subset[modality.name] = modality.check_section(cohort)
    # The RECIST table is a path, so the two options its check reads live in `response`.
    if "recist" in cohort:
        response = cohort.get("response") or {}
        subset["response"] = {key: response[key] for key in RECIST_CHECK_OPTIONS if key in response}
    return subset


def validate_cohort_inputs(name: str, cohort: dict, parsed: dict | None = None) -> pd.DataFrame:
    """Check every input of a real cohort; return the ``inputs.tsv`` table or raise.

    ``parsed``, when given, receives what the checks parsed for the stages
    (:attr:`Collector.parsed`: modality -> object), for the caller to write.

    Each declared modality whose declared paths all exist is checked by its stage's
    check (:attr:`contexture.modalities.Modality.check`), in the table's order. Raises
    one :class:`InputError` listing every problem of every modality. The table has
    one row per input file: ``file, modality, kind, rows, sha256, status``. Only the keys
    of :func:`validation_config` are read.
    """
    cohort = validation_config(cohort)
    found = Collector(cohort.get("limits"), cohort)
    missing = _missing_paths(name, cohort)
    for _, problem in missing:
        found.add(problem)
    missing_keys = {key for key, _ in missing}
    for modality in MODALITIES:
        keys = {modality.config_key(entry) for entry, _ in modality.declared_paths(cohort)}
        if modality.is_declared(cohort) and not keys & missing_keys:
            modality.check_inputs(cohort[modality.name], found)
    reconcile_patients(found, cohort.get("on_unknown_patient", "error"))
    if found.problems:
        lines = [f"  - {p}".replace("\n", "\n    ") for p in found.problems[:200]]
        if len(found.problems) > 200:
            lines.append(f"  ... and {len(found.problems) - 200} more")
        raise InputError(
            f"{len(found.problems)} problem(s) in the inputs of cohort '{name}' (nothing was analysed; "
            "fix them all and rerun):\n" + "\n".join(lines)
        )
    table = pd.DataFrame(sorted(found.files.values(), key=lambda e: (e["modality"], e["file"])))
    table["rows"] = table["rows"].astype("Int64")
    # Files a check read whole (RCC) carry their digest already: never read twice.
    table["sha256"] = [digest or sha256_file(path) for path, digest in zip(table["file"], table["sha256"], strict=True)]
    table["status"] = "ok"
    log.info("cohort %s: %d input file(s) checked", name, len(table))
    if parsed is not None:
        parsed.update(found.parsed)
    return table[["file", "modality", "kind", "rows", "sha256", "status"]]
