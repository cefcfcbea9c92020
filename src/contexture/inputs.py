"""Central validation of a real cohort's inputs, before any analysis runs.

The rule ``validate_inputs`` (``workflow/rules/validate.smk``) calls
:func:`validate_cohort_inputs` once per real (non-simulated) cohort, and every stage's
first rule waits for its output, so a broken input stops the run before any table is
computed. Each modality is checked with its stage's own validators (the row schemas of
``workflow/schemas/tables/`` through :func:`contexture.io.validation.validate_frame`,
:func:`contexture.clinical.derive_follow_up`, :func:`contexture.response.recist.check_measurements`,
:func:`contexture.nanostring.match_sample_sheet`, :func:`contexture.io.rcc.read_rcc`,
:func:`contexture.pet.quantify.read_labels_table`, :func:`contexture.io.qupath.resolve_columns`),
and every problem of every file is collected into one :class:`InputError` naming the
file, row, column (or key), value and what was expected -- not only the first one.

Beyond the tables' own schemas, it reconciles the modalities' files:

* NanoString: sample-sheet rows naming an RCC file that does not exist and RCC files
  present but not in the sheet are both **errors** (the nanostring stage refuses them
  too: an unlisted file is either a forgotten sheet row or a stray file from another
  study, and guessing would silently change the sample set); RCC files must parse
  (truncation, non-numeric counts, duplicate probes) and share one CodeSet (``GeneRLF``)
  and one probe set; the RLF, when given, must name that CodeSet.
* PET: every image, mask and labels file named by the scans table exists; an
  ``on_treatment`` scan dated before treatment start (``scan_day < 0``) is an error
  (scans table and VOI table); every label in a mask is in its labels table and vice
  versa; image and mask headers are read (no voxel data) and absurd dimensions refused.
* IHC: every QuPath export named by the slide sheet exists and its header has the
  required columns (header only: the exports can be gigabytes).

Size limits (cohort config section ``limits``, see :data:`LIMIT_DEFAULTS`) are checked
from the file size or the image header before any file is read into memory.

The result is ``results/{cohort}/validation/inputs.tsv``: one row per input file with
its SHA-256 (the run's record of exactly which bytes were analysed), row count and status.
Inputs are only ever opened for reading.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from contexture.errors import InputError, Problem
from contexture.io import read_input_table, sha256_file

log = logging.getLogger(__name__)

MB = 1024**2
# Defaults of the cohort section ``limits`` (workflow/schemas/cohort/limits.schema.yaml).
LIMIT_DEFAULTS = {
    "rcc_mb": 16,  # an RCC file is 20-60 kB; the reader's hard ceiling is 64 MB
    "table_mb": 1024,  # clinical, sample sheets, RECIST, VOI and labels tables
    "qupath_mb": 4096,  # QuPath exports are legitimately large (millions of cells)
    "image_voxels": 2**30,  # 4 GiB as float32; a whole-body PET is ~10^7 voxels
}


class Collector:
    """Problems (as readable text) and the rows of ``inputs.tsv``, gathered across modalities."""

    def __init__(self, limits: dict | None = None) -> None:
        self.limits = {**LIMIT_DEFAULTS, **(limits or {})}
        self.problems: list[str] = []
        self.files: dict[str, dict] = {}

    def add(self, problem: Problem | str) -> None:
        self.problems.append(str(problem))

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Record an :class:`InputError` raised inside the block as a problem, and go on."""
        try:
            yield
        except InputError as error:
            self.add(str(error))

    def record(self, path: str | os.PathLike, modality: str, kind: str, rows: int | None = None) -> None:
        key = str(path)
        entry = self.files.setdefault(key, {"file": key, "modality": modality, "kind": kind, "rows": None})
        if rows is not None:
            entry["rows"] = rows

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

    def table(self, path: str | os.PathLike, schema: str, what: str, modality: str) -> tuple[pd.DataFrame | None, bool]:
        """Read and schema-check a table: (typed table or None if unreadable, whether it is clean)."""
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
        except InputError as error:
            self.add(str(error))
            return None, False
        self.record(path, modality, what, len(text))
        typed, problems = validate_frame(text, load_schema(schema), str(path))
        for problem in problems:
            self.add(problem)
        return typed, not problems


def _resolve(base: Path, value: object) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else base / path


# --- declared paths (checked when the workflow is parsed) ---------------------------------
def declared_paths(cohort: dict) -> list[tuple[str, str]]:
    """(config key, path) of every input a real cohort declares."""
    pairs = []
    for key in ("clinical", "recist"):
        if isinstance(cohort.get(key), str):
            pairs.append((key, cohort[key]))
    for section, keys in (
        ("nanostring", ("rcc", "samples", "rlf")),
        ("pet", ("scans", "voi_table")),
        ("ihc", ("slides", "densities")),
    ):
        for key in keys:
            value = (cohort.get(section) or {}).get(key)
            if isinstance(value, str):
                pairs.append((f"{section}.{key}", value))
    reference = ((cohort.get("ihc") or {}).get("immunoscore") or {}).get("reference")
    if isinstance(reference, str):
        pairs.append(("ihc.immunoscore.reference", reference))
    return pairs


def missing_declared_paths(name: str, cohort: dict) -> list[str]:
    """Problems for declared input paths that do not exist (an RCC glob must match a file)."""
    from contexture.io.rcc import find_rcc_files

    problems = []
    for key, value in declared_paths(cohort):
        if key == "nanostring.rcc":
            try:
                find_rcc_files(value)
            except InputError as error:
                problems.append(f"cohorts.{name}.{key}: {error}")
        elif not os.path.exists(value):
            problems.append(
                f"cohorts.{name}.{key}: '{value}' does not exist (relative paths start from the run folder)"
            )
    return problems


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


def _sheet_files(sheet: Path, columns: tuple[str, ...]) -> list[str]:
    """Existing files named in ``columns`` of a sheet (paths relative to its folder); never raises."""
    try:
        table = read_input_table(sheet)
    except InputError:  # reported in full by the validation rule
        return []
    files = []
    for column in columns:
        if column in table.columns:
            for value in table[column].dropna():
                path = _resolve(sheet.parent, value)
                if path.is_file():
                    files.append(str(path))
                elif path.is_dir():  # a DICOM series folder
                    files.append(str(path))
    return files


def input_files(cohort: dict) -> list[str]:
    """Every existing input file of a real cohort (the validation rule's inputs); never raises."""
    from contexture.io.rcc import find_rcc_files

    files = []
    for key, value in declared_paths(cohort):
        if key == "nanostring.rcc":
            try:
                files += [str(p) for p in find_rcc_files(value)]
            except InputError:
                pass
        elif os.path.isfile(value):
            files.append(value)
            if key == "pet.scans":
                files += _sheet_files(Path(value), ("image", "mask", "labels"))
            elif key == "ihc.slides":
                files += _sheet_files(Path(value), ("cells", "annotations"))
    return sorted(set(files))


# --- per modality -----------------------------------------------------------------------
def check_clinical(path: str, found: Collector) -> None:
    from contexture.clinical.follow_up import derive_follow_up

    typed, clean = found.table(path, "tables/clinical", "clinical table", "clinical")
    if clean:
        with found.capture():
            derive_follow_up(typed, file=str(path))


def check_recist(path: str, found: Collector) -> None:
    from contexture.response.recist import check_measurements

    typed, clean = found.table(path, "tables/recist", "RECIST table", "recist")
    if clean:
        for problem in check_measurements(typed, str(path)):
            found.add(problem)


def check_nanostring(section: dict, found: Collector) -> None:
    from contexture.io.rcc import find_rcc_files, read_rcc, read_rlf_name
    from contexture.nanostring.normalization import match_sample_sheet

    try:
        files = find_rcc_files(section["rcc"])
    except InputError as error:
        found.add(f"nanostring.rcc: {error}")
        return
    if "samples" in section:
        sheet, clean = found.table(
            section["samples"], "tables/nanostring_samples", "NanoString sample sheet", "nanostring"
        )
        if clean:
            with found.capture():
                match_sample_sheet([str(f) for f in files], sheet, str(section["samples"]))
    codesets: dict[str, list[str]] = {}
    probe_sets: dict[int, list[str]] = {}
    for path in files:
        found.record(path, "nanostring", "RCC file")
        if found.too_big(path, "rcc_mb", "RCC file"):
            continue
        try:
            rcc = read_rcc(path)
        except InputError as error:
            found.add(str(error))
            continue
        found.record(path, "nanostring", "RCC file", len(rcc.counts))
        keys = rcc.keys
        repeated = [key for key, n in Counter(keys).items() if n > 1]
        if repeated:
            found.add(
                f"RCC file '{path}', <Code_Summary>: probe key (CodeClass, Name, Accession) repeated: {repeated[:5]}; "
                "expected each probe once"
            )
        codesets.setdefault(rcc.attributes["gene_rlf"], []).append(str(path))
        probe_sets.setdefault(hash(frozenset(keys)), []).append(str(path))
    if len(codesets) > 1:
        usual = max(codesets, key=lambda name: len(codesets[name]))
        for name, paths in sorted(codesets.items()):
            if name != usual:
                for path in paths:
                    found.add(
                        f"RCC file '{path}', <Sample_Attributes> GeneRLF: got {name!r}; expected the CodeSet of the "
                        f"other {len(codesets[usual])} file(s), {usual!r} (e.g. '{codesets[usual][0]}'). Probes of "
                        "different CodeSets cannot be merged: analyse each CodeSet as its own cohort"
                    )
    elif len(probe_sets) > 1:
        usual = max(probe_sets, key=lambda key: len(probe_sets[key]))
        for key, paths in probe_sets.items():
            if key != usual:
                for path in paths:
                    found.add(
                        f"RCC file '{path}', <Code_Summary>: its probes (CodeClass, Name, Accession) differ from those "
                        f"of the other file(s) of CodeSet {next(iter(codesets))!r} (e.g. '{probe_sets[usual][0]}')"
                    )
    if "rlf" in section and codesets:
        with found.capture():
            found.record(section["rlf"], "nanostring", "RLF file")
            name = read_rlf_name(section["rlf"])
            if sorted(codesets) != [name]:
                found.add(
                    f"RLF file '{section['rlf']}', Name: got {name!r}; the RCC files' GeneRLF is {sorted(codesets)}: "
                    "the RLF and the RCC files must belong to one CodeSet"
                )


def image_shape(path: Path) -> tuple[int, ...]:
    """Voxel dimensions of a NIfTI file or a DICOM series folder, from headers only."""
    from contexture.io.pet_images import dicom_series_shape, nifti_shape

    return dicom_series_shape(path) if path.is_dir() else nifti_shape(path)


def _check_image_header(path: Path, what: str, found: Collector, column: str, problem_at: tuple) -> bool:
    """Header dimensions within the voxel limit; returns whether the file may be read."""
    from contexture.io.pet_images import check_image_shape

    try:
        shape = image_shape(path)
        check_image_shape(shape, str(path), what, found.limits["image_voxels"])
    except InputError as error:
        found.add(
            f"{error} (config limits.image_voxels; scans table {problem_at[0]}, row {problem_at[1]}, column '{column}')"
        )
        return False
    return True


def check_pet(section: dict, found: Collector) -> None:
    from contexture.io.pet_images import read_label_map, sidecar_path
    from contexture.pet.quantify import present_labels, read_labels_table

    if "voi_table" in section:
        voi, _ = found.table(section["voi_table"], "tables/pet_voi", "PET VOI table", "pet")
        if voi is not None:
            _check_scan_days(voi, section["voi_table"], found)
        return
    scans_path = Path(section["scans"])
    scans, _ = found.table(scans_path, "tables/pet_scans", "PET scans table", "pet")
    if scans is None:
        return
    _check_scan_days(scans, scans_path, found)
    labels_cache: dict[str, pd.DataFrame | None] = {}
    for row, record in enumerate(scans.to_dict("records"), start=1):
        paths = {}
        for column in ("image", "mask", "labels"):
            value = record.get(column)
            if value is None or pd.isna(value):
                continue  # an empty required cell is already a schema problem
            path = _resolve(scans_path.parent, value)
            if not path.exists():
                found.add(
                    Problem(
                        str(scans_path),
                        row,
                        column,
                        value,
                        "an existing file or folder (relative paths resolve "
                        f"from the scans table's folder; looked for '{path}')",
                    )
                )
                continue
            paths[column] = path
        if "image" in paths:
            image = paths["image"]
            if image.is_dir():
                for file in sorted(p for p in image.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    found.record(file, "pet", "PET DICOM file")
            else:
                found.record(image, "pet", "PET image")
                if image.name.lower().endswith((".nii", ".nii.gz")) and not sidecar_path(image).is_file():
                    found.add(
                        f"PET image '{image}' has no BIDS-PET sidecar: expected '{sidecar_path(image)}' with "
                        f"InjectedRadioactivity, InjectionStart, ... (scans table '{scans_path}', row {row}, column 'image')"
                    )
                elif sidecar_path(image).is_file():
                    found.record(sidecar_path(image), "pet", "BIDS-PET sidecar")
            _check_image_header(image, "PET image", found, "image", (scans_path, row))
        labels = None
        if "labels" in paths:
            key = str(paths["labels"])
            found.record(key, "pet", "PET labels table")
            if key not in labels_cache:
                labels_cache[key] = None
                with found.capture():
                    labels_cache[key] = read_labels_table(key)
                    found.record(key, "pet", "PET labels table", len(labels_cache[key]))
            labels = labels_cache[key]
        if "mask" in paths:
            mask_path = paths["mask"]
            found.record(mask_path, "pet", "label mask")
            if _check_image_header(mask_path, "label mask", found, "mask", (scans_path, row)) and labels is not None:
                with found.capture():
                    present = set(present_labels(read_label_map(mask_path).labels).tolist())
                    listed = set(labels["label"].astype(int))
                    if present - listed:
                        found.add(
                            f"label mask '{mask_path}' holds label(s) {sorted(present - listed)[:20]} that are not in "
                            f"the labels table '{paths['labels']}' (column 'label'); expected every mask label described"
                        )
                    if listed - present:
                        found.add(
                            f"labels table '{paths['labels']}' lists label(s) {sorted(listed - present)[:20]} (column "
                            f"'label') that do not occur in mask '{mask_path}'"
                        )


def _check_scan_days(table: pd.DataFrame, path: str | os.PathLike, found: Collector) -> None:
    """An on-treatment scan must not be dated before treatment start (scan_day < 0)."""
    if not {"timepoint", "scan_day"} <= set(table.columns):
        return
    early = (table["timepoint"] == "on_treatment") & (table["scan_day"].astype(float) < 0)
    for index in table.index[early.fillna(False).to_numpy(bool)]:
        found.add(
            Problem(
                str(path),
                int(index) + 1,
                "scan_day",
                float(table.at[index, "scan_day"]),
                "scan_day >= 0 for an on_treatment scan (a scan before treatment start is a baseline scan; "
                "scan_day counts days from treatment start)",
            )
        )


def check_ihc(section: dict, found: Collector) -> None:
    from contexture.io import qupath

    if "densities" in section:
        found.table(section["densities"], "tables/ihc_densities", "IHC density table", "ihc")
    reference = (section.get("immunoscore") or {}).get("reference")
    if reference:
        found.table(reference, "tables/ihc_immunoscore_reference", "Immunoscore reference table", "ihc")
    if "slides" not in section:
        return
    sheet_path = Path(section["slides"])
    sheet, _ = found.table(sheet_path, "tables/ihc_slides", "IHC slide sheet", "ihc")
    if sheet is None:
        return
    aliases = section.get("columns") or None
    exports = (
        ("cells", "QuPath detection export", qupath.DETECTION_COLUMNS, ("image",)),
        ("annotations", "QuPath annotation export", qupath.ANNOTATION_COLUMNS, ("name",)),
    )
    for row, record in enumerate(sheet.to_dict("records"), start=1):
        for column, what, required, optional in exports:
            value = record.get(column)
            if value is None or pd.isna(value):
                continue
            path = _resolve(sheet_path.parent, value)
            if not path.is_file():
                found.add(
                    Problem(
                        str(sheet_path),
                        row,
                        column,
                        value,
                        f"an existing {what} (relative paths resolve from the sheet's folder; looked for '{path}')",
                    )
                )
                continue
            found.record(path, "ihc", what)
            if found.too_big(path, "qupath_mb", what):
                continue
            with found.capture():
                header = qupath.read_header(path, what=what)
                qupath.resolve_columns(header, required, optional, aliases, file=str(path), what=what)


# --- the step ----------------------------------------------------------------------------
def validate_cohort_inputs(name: str, cohort: dict) -> pd.DataFrame:
    """Check every input of a real cohort; return the ``inputs.tsv`` table or raise.

    Raises one :class:`InputError` listing every problem of every modality. The table has
    one row per input file: ``file, modality, kind, rows, sha256, status``.
    """
    found = Collector(cohort.get("limits"))
    missing = missing_declared_paths(name, cohort)
    for problem in missing:
        found.add(problem)
    missing_keys = {problem.split(":")[0].removeprefix(f"cohorts.{name}.") for problem in missing}
    if "clinical" in cohort and "clinical" not in missing_keys:
        check_clinical(cohort["clinical"], found)
    if "recist" in cohort and "recist" not in missing_keys:
        check_recist(cohort["recist"], found)
    nanostring = cohort.get("nanostring") or {}
    if "rcc" in nanostring and not missing_keys & {"nanostring.rcc", "nanostring.samples", "nanostring.rlf"}:
        check_nanostring(nanostring, found)
    pet = cohort.get("pet") or {}
    if ("scans" in pet or "voi_table" in pet) and not missing_keys & {"pet.scans", "pet.voi_table"}:
        check_pet(pet, found)
    ihc = cohort.get("ihc") or {}
    if ("slides" in ihc or "densities" in ihc) and not any(k.startswith("ihc.") for k in missing_keys):
        check_ihc(ihc, found)
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
    table["sha256"] = [sha256_file(path) for path in table["file"]]
    table["status"] = "ok"
    log.info("cohort %s: %d input file(s) checked", name, len(table))
    return table[["file", "modality", "kind", "rows", "sha256", "status"]]
