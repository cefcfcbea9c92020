"""The one table of the workflow's stages and modalities.

``STAGES`` lists the stage packages in the order of the analysis (and of the methods
text). Every place that needs "each stage" (methods text, report captions, input
checks) iterates over it instead of keeping its own list.

``MODALITIES`` lists the kinds of raw data a cohort can have, one :class:`Modality` per
kind: where a cohort's config declares its input files, which columns of those tables
name further files, which stage table says who has it at which timepoint, and which
function checks its raw inputs. Everything that needs "each modality" derives from it:
``contexture.config.INPUT_KEYS`` and ``declared_inputs``, the declared-path and input-file
lists and the check dispatch of ``contexture.inputs``, the data-availability table
(``contexture.report.availability``) and the inputs of ``data_availability`` and the
bundle manifest (``workflow/rules/report.smk``). Adding a modality is one stage package
(with its ``checks.py``), one ``.smk``, one cohort schema and one entry here.

Nothing here imports pandas or a stage package: ``contexture.config`` reads this table
while the workflow is parsed, and each check is imported only when it runs.
"""

from __future__ import annotations

__all__ = ["BY_NAME", "Input", "MODALITIES", "Modality", "NAMES", "STAGES", "Timepoints"]

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace

# Stage packages under contexture/, in the order of the analysis: raw data first, then
# the analyses that combine them. Each is a package with the shared shape (DESIGN.md).
STAGES = ("clinical", "nanostring", "signatures", "pet", "ihc", "response", "toxicity", "survival")


def _function(dotted: str) -> Callable:
    """The function named ``"package.module:function"``, imported on first use."""
    module, name = dotted.split(":")
    return getattr(importlib.import_module(module), name)


def _lookup(section: dict, key: str) -> object:
    """The value at a dotted key (``immunoscore.reference``) of a config section, or None."""
    value: object = section
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class Input:
    """One input a cohort declares for a modality.

    ``key`` is its dotted key inside the modality's config section, or ``""`` when the
    modality's config key holds the path itself (``clinical: clinical.tsv``).
    ``declares``: whether declaring this input alone gives the cohort the modality (an RLF
    or a sample sheet without RCC files does not). ``path_columns``: the columns of this
    table whose cells name further input files, relative to the table's folder.
    ``files``: for a folder or glob rather than one file, the function
    (``"module:function"``) that lists its files and raises ``InputError`` if there are none.
    """

    key: str = ""
    declares: bool = True
    path_columns: tuple[str, ...] = ()
    files: str | None = None

    def list_files(self, value: str) -> list:
        """The files a folder-or-glob input names (raises ``InputError`` if none)."""
        return list(_function(self.files)(value))


@dataclass(frozen=True)
class Timepoints:
    """How a modality's stage table counts items (scans, samples, slides) per timepoint.

    ``items``: the columns that identify one item (duplicates dropped); empty = every row.
    ``day_column``: the timepoint comes from this day column, day <= 0 being ``baseline``
    and later days ``follow_up``. ``included_column``: count only rows whose flag is true
    (when the table has it). ``timepoint``: every item is at this one timepoint.
    """

    items: tuple[str, ...] = ()
    day_column: str | None = None
    included_column: str | None = None
    timepoint: str | None = None


@dataclass(frozen=True)
class Modality:
    """One kind of raw data: its name, stage, declared inputs, availability and checks.

    ``name`` is also its key in a cohort's config and in ``simulate.modalities``.
    ``stage`` is the stage package that reads it (RECIST belongs to ``response``).
    ``availability`` is the stage table (under ``results/{cohort}/``) that says which
    patient has the modality at which timepoint, counted by ``timepoints``.
    ``check`` (``"module:function"``) checks the raw inputs: it is called with the
    cohort's value of ``name`` (a path or a section) and a :class:`contexture.inputs.Collector`.
    ``check_options``: the keys of the modality's section, besides its inputs, that the
    check reads (``ihc.columns``); the check sees the inputs and these keys only
    (:func:`contexture.inputs.validation_config`), so editing any other option never
    reruns the validation.
    ``runs``: the key of a list of sections in the modality's section, each declaring the
    inputs of one run (``nanostring.runs``: several RCC sets, one CodeSet each); the
    section then declares no input itself. Each run's inputs are found under
    ``<runs>.<i>.<key>`` (0-based, as the config validation names list items).
    """

    name: str
    stage: str
    inputs: tuple[Input, ...]
    availability: str
    timepoints: Timepoints
    check: str
    check_options: tuple[str, ...] = ()
    runs: str | None = None

    @property
    def availability_schema(self) -> str:
        """The schema name of the availability table, for :func:`contexture.io.read_table`."""
        return "results/" + self.availability.removesuffix(".tsv")

    @property
    def path_valued(self) -> bool:
        """Whether the config key holds a path (``clinical: x.tsv``) rather than a section."""
        return [i.key for i in self.inputs] == [""]

    @property
    def declaring_keys(self) -> tuple[str, ...]:
        """Keys of the section whose presence declares the modality."""
        return tuple(i.key for i in self.inputs if i.declares)

    def config_key(self, entry: Input) -> str:
        """The dotted cohort key of one input (``pet.scans``; ``clinical``)."""
        return f"{self.name}.{entry.key}" if entry.key else self.name

    def run_sections(self, section: object) -> list[tuple[str, dict]]:
        """(key prefix, section) of each run a modality section declares: its ``runs``
        items (prefix ``runs.<i>.``), or the section itself as one run (prefix ``""``)."""
        if not isinstance(section, dict):
            return []
        runs = section.get(self.runs) if self.runs else None
        if isinstance(runs, list):
            return [(f"{self.runs}.{i}.", run) for i, run in enumerate(runs) if isinstance(run, dict)]
        return [("", section)]

    def is_declared(self, cohort: dict) -> bool:
        """Whether a (real) cohort declares this modality's input files."""
        value = cohort.get(self.name)
        if self.path_valued:
            return isinstance(value, str)
        return any(key in run for _, run in self.run_sections(value) for key in self.declaring_keys)

    def declared_paths(self, cohort: dict) -> list[tuple[Input, str]]:
        """(input, path) of every input of this modality a cohort declares.

        An input of a run is returned with its key inside the section (``runs.1.rcc``),
        so :meth:`config_key` names it exactly."""
        value = cohort.get(self.name)
        if self.path_valued:
            return [(self.inputs[0], value)] if isinstance(value, str) else []
        pairs = []
        for prefix, section in self.run_sections(value):
            for entry in self.inputs:
                path = _lookup(section, entry.key)
                if isinstance(path, str):
                    pairs.append((replace(entry, key=prefix + entry.key) if prefix else entry, path))
        return pairs

    def path_columns(self, key: str) -> tuple[str, ...]:
        """The file-naming columns of the input table at ``key`` (``scans``)."""
        return next(entry.path_columns for entry in self.inputs if entry.key == key)

    def check_section(self, cohort: dict) -> object:
        """The part of the cohort's value of ``name`` that the check reads: the declared
        inputs and ``check_options`` (a path-valued modality's path as it is)."""
        value = cohort.get(self.name)
        if self.path_valued or not isinstance(value, dict):
            return value

        def pick(source: dict, keys) -> dict:
            section: dict = {}
            for key in keys:
                found = _lookup(source, key)
                if found is None:
                    continue
                *parents, last = key.split(".")
                target = section
                for part in parents:
                    target = target.setdefault(part, {})
                target[last] = found
            return section

        inputs = [entry.key for entry in self.inputs]
        section = pick(value, [*inputs, *self.check_options])
        if self.runs and isinstance(value.get(self.runs), list):
            # A run's name names its parsed set and its messages: the check reads it.
            section[self.runs] = [pick(run, ["name", *inputs]) for _, run in self.run_sections(value)]
        return section

    def check_inputs(self, value: object, found) -> None:
        """Run this modality's raw-input check on the cohort's ``value`` of ``name``."""
        _function(self.check)(value, found)


# The modalities, in the order the data-availability table and overview figure show them:
# the patient record, response assessments, then imaging and tissue.
MODALITIES = (
    Modality(
        "clinical",
        stage="clinical",
        inputs=(Input(),),
        availability="clinical/clinical.tsv",
        timepoints=Timepoints(timepoint="baseline"),
        check="contexture.clinical.checks:check_clinical_inputs",
    ),
    Modality(
        "recist",
        stage="response",
        inputs=(Input(),),
        availability="tables/recist_timepoints.tsv",
        timepoints=Timepoints(items=("patient_id", "assessment_day"), day_column="assessment_day"),
        check="contexture.response.checks:check_recist_inputs",
    ),
    Modality(
        "pet",
        stage="pet",
        inputs=(Input("scans", path_columns=("image", "mask", "labels")), Input("voi_table")),
        availability="tables/lesions.tsv",
        timepoints=Timepoints(items=("patient_id", "timepoint", "scan_day")),
        check="contexture.pet.checks:check_pet_inputs",
        check_options=("columns",),
    ),
    Modality(
        "nanostring",
        stage="nanostring",
        inputs=(
            Input("rcc", files="contexture.io.rcc:find_rcc_files"),
            Input("samples", declares=False),
            Input("rlf", declares=False),
        ),
        availability="nanostring/samples.tsv",
        timepoints=Timepoints(included_column="included"),
        check="contexture.nanostring.checks:check_nanostring_runs",
        runs="runs",
    ),
    Modality(
        "ihc",
        stage="ihc",
        inputs=(
            Input("slides", path_columns=("cells", "annotations")),
            Input("densities"),
            Input("immunoscore.reference", declares=False),
        ),
        availability="tables/ihc_slides.tsv",
        timepoints=Timepoints(),
        check="contexture.ihc.checks:check_ihc_inputs",
        check_options=("columns", "pixel_size_um"),
    ),
)

NAMES = tuple(modality.name for modality in MODALITIES)
BY_NAME = {modality.name: modality for modality in MODALITIES}
