"""NanoString nCounter Reporter Code Count (RCC) files, and the RLF name check.

An RCC file is the per-lane text export of the nCounter Digital Analyzer / SPRINT
(nCounter Data Analysis Guidelines, MAN-C0011; nSolver 4.0 User Manual, MAN-C0019).
It is made of tagged sections::

    <Header>             FileVersion,1.7 / SoftwareVersion,...
    <Sample_Attributes>  ID, Owner, Comments, Date, GeneRLF (the CodeSet), SystemAPF
    <Lane_Attributes>    ID (lane 1-12), FovCount, FovCounted, ScannerID,
                         StagePosition, BindingDensity, CartridgeID, CartridgeBarcode
    <Code_Summary>       CodeClass,Name,Accession,Count then one line per probe
    <Messages>           free text (may be empty)

What this reader accepts, all giving identical counts: FileVersion 1.7 and 2.0; LF,
CRLF or CR line ends; a UTF-8 byte-order mark; ``.RCC`` / ``.rcc`` and gzipped
``.RCC.gz`` (detected by content, not by name). Attribute lines are split on the first
comma only (values such as comments may contain commas). ``ID`` appears in both
attribute sections: it is kept twice, as ``rcc_sample_id`` and ``lane_id``. Control
probe names carry their concentration (``POS_A(128)``, ``NEG_C(0)``): the name becomes
``POS_A`` and the concentration (fM) goes to a ``concentration`` column. Every other
name is kept whole, including SNV probes with ``|`` or ``(`` in their names.

PlexSet lanes (classes ``Endogenous1s`` ... ``Endogenous8s``, ``Housekeeping1s`` ... ``8s``)
hold eight samples, hybridised in rows A-H of the PlexSet plate (suffix ``1s`` = row A ...
``8s`` = row H). :func:`split_plexset` splits such a lane into its eight samples, each with its
row's probes (class suffix removed: ``Endogenous``, ``Housekeeping``) and a copy of the lane's
Positive and Negative controls, which the eight samples share (as NACHO's ``read_rcc`` does;
docs/nanostring.md). Each sample's attributes gain ``plexset_row`` (``A``-``H``) and its name is
``<file's sample name>_<1..8>``. A lane must carry all eight rows with the same probes in each;
PlexSet and single-sample files in one CodeSet are refused, naming one file of each.

Probes are identified by (CodeClass, Name, Accession), with control names stripped of their
concentration first (``POS_A(128)`` and ``POS_A`` are one probe), and files are merged by
that key, never by line position. Files from different CodeSets (``GeneRLF``) are refused,
as are files of one CodeSet with different probe sets, and duplicate lanes: two files with
the same CartridgeID and lane ID, or with identical count vectors (a copy of one file under
another name). Sample identifiers come from the caller (sample sheet or file name), so two
RCC files with the same ``ID`` attribute do not collide.

Speed: the Code_Summary of a file is parsed with one join and one split over the whole
block, and counts are converted with numpy in one call; the matrix is filled column by
column in a preallocated numpy array (no per-probe pandas operations).
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.errors import InputError

__all__ = [
    "RccMerger",
    "parse_rcc_bytes",
    "read_rcc_bytes",
    "read_rcc_set",
    "write_rcc_set",
    "REQUIRED_SECTIONS",
    "OPTIONAL_SECTIONS",
    "CODE_SUMMARY_COLUMNS",
    "POSITIVE_CONCENTRATIONS",
    "MAX_RCC_BYTES",
    "RccFile",
    "PLEXSET_ROWS",
    "plexset_classes",
    "split_plexset",
    "parse_rcc",
    "read_rcc",
    "is_rcc_name",
    "rcc_stem",
    "find_rcc_files",
    "RccSet",
    "merge_rcc",
    "take_samples",
    "read_rcc_files",
    "read_rlf_name",
    "check_rlf",
]

REQUIRED_SECTIONS = ("Header", "Sample_Attributes", "Lane_Attributes", "Code_Summary")
OPTIONAL_SECTIONS = ("Messages",)
CODE_SUMMARY_COLUMNS = ("CodeClass", "Name", "Accession", "Count")
# Standard concentrations (fM) of the ERCC positive controls (MAN-C0011), used when a
# file's control names do not carry them.
POSITIVE_CONCENTRATIONS = {"POS_A": 128.0, "POS_B": 32.0, "POS_C": 8.0, "POS_D": 2.0, "POS_E": 0.5, "POS_F": 0.125}
# PlexSet hybridisation rows, in class-suffix order: Endogenous1s is row A ... Endogenous8s row H.
PLEXSET_ROWS = ("A", "B", "C", "D", "E", "F", "G", "H")
MAX_RCC_BYTES = 64 * 1024**2  # an RCC is ~20-60 kB; refuse anything absurdly large

_TAG = re.compile(r"^[ \t]*<(/?)([A-Za-z_][A-Za-z0-9_]*)>[ \t]*$", re.MULTILINE)
_CONTROL = re.compile(r"^((?:POS|NEG)_[A-Za-z0-9]+)\(([0-9]*\.?[0-9]+)\)$")
_PLEXSET_CLASS = re.compile(r"^(Endogenous|Housekeeping)([1-8])s$")
_KNOWN_KEYS = {
    "FileVersion": "file_version",
    "SoftwareVersion": "software_version",
    "SystemType": "system_type",
    "Owner": "owner",
    "Comments": "comments",
    "Date": "date",
    "GeneRLF": "gene_rlf",
    "SystemAPF": "system_apf",
    "AssayType": "assay_type",
    "FovCount": "fov_count",
    "FovCounted": "fov_counted",
    "ScannerID": "scanner_id",
    "StagePosition": "stage_position",
    "BindingDensity": "binding_density",
    "CartridgeID": "cartridge_id",
    "CartridgeBarcode": "cartridge_barcode",
}


@dataclass
class RccFile:
    """One parsed RCC file: its attributes and its Code_Summary as parallel arrays."""

    path: str
    attributes: dict[str, str]
    code_class: list[str]
    name: list[str]
    accession: list[str]
    counts: np.ndarray
    messages: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[tuple[str, str, str]]:
        """(CodeClass, Name, Accession) per probe, control names without their concentration."""
        controls = {c for c in set(self.code_class) if c.startswith(("Positive", "Negative"))}
        names = [
            _strip_concentration(n) if c in controls else n for c, n in zip(self.code_class, self.name, strict=True)
        ]
        return list(zip(self.code_class, names, self.accession, strict=True))

    def same_probe_layout(self, other: RccFile) -> bool:
        """True if both files list the same probes in the same order (so the same keys)."""
        return self.code_class == other.code_class and self.name == other.name and self.accession == other.accession


def _strip_concentration(name: str) -> str:
    match = _CONTROL.match(name)
    return match.group(1) if match else name


def plexset_classes(rcc: RccFile) -> list[str]:
    """The PlexSet code classes (``Endogenous1s`` ... ``Housekeeping8s``) of a file, sorted."""
    return sorted(c for c in set(rcc.code_class) if _PLEXSET_CLASS.match(c))


def split_plexset(rcc: RccFile) -> list[RccFile]:
    """A PlexSet lane as its eight samples (rows A-H); any other file as itself, alone.

    Row k's sample holds the probes of classes ``Endogenous<k>s`` / ``Housekeeping<k>s``
    (renamed ``Endogenous`` / ``Housekeeping``) and a copy of the lane's ``Positive`` and
    ``Negative`` controls, shared by the eight samples; its attributes are the lane's plus
    ``plexset_row`` (``A`` for ``1s`` ... ``H`` for ``8s``). Refused, naming the file and the
    classes: a lane mixing PlexSet and plain classes, one missing a row, rows with different
    probes, or a class that belongs to no row and is not a control (nothing to assign it to).
    """
    if not plexset_classes(rcc):
        return [rcc]
    where = f"RCC file '{rcc.path}' (a PlexSet lane: eight samples, rows A-H, in one lane)"
    row_of = np.zeros(len(rcc.code_class), dtype=np.int64)  # 0: a lane control, else the row 1-8
    base: list[str] = list(rcc.code_class)
    unassigned = set()
    for i, code_class in enumerate(rcc.code_class):
        match = _PLEXSET_CLASS.match(code_class)
        if match:
            base[i], row_of[i] = match.group(1), int(match.group(2))
        elif code_class not in ("Positive", "Negative"):
            unassigned.add(code_class)
    if unassigned:
        raise InputError(
            f"{where}: code class(es) {sorted(unassigned)} belong to no row (expected Endogenous1s ... Endogenous8s, "
            "Housekeeping1s ... Housekeeping8s and the lane's Positive and Negative controls)."
        )
    kinds = {k: {b for b, r in zip(base, row_of, strict=True) if r == k} for k in range(1, 9)}
    missing = [
        f"{kind}{k}s" for kind in sorted(set().union(*kinds.values())) for k in range(1, 9) if kind not in kinds[k]
    ]
    if missing:
        raise InputError(f"{where}: code class(es) {missing} are missing; a PlexSet lane carries all eight rows.")
    controls = np.flatnonzero(row_of == 0)
    parts = []
    first_keys = None
    for k, row in enumerate(PLEXSET_ROWS, start=1):
        rows = np.concatenate([np.flatnonzero(row_of == k), controls])
        part = RccFile(
            path=rcc.path,
            attributes={**rcc.attributes, "plexset_row": row},
            code_class=[base[i] for i in rows],
            name=[rcc.name[i] for i in rows],
            accession=[rcc.accession[i] for i in rows],
            counts=rcc.counts[rows],
            messages=rcc.messages,
        )
        keys = set(part.keys)
        if first_keys is None:
            first_keys = keys
        elif keys != first_keys:
            differ = sorted(keys ^ first_keys)[:5]
            raise InputError(
                f"{where}: row {row} (classes *{k}s) has other probes than row A (classes *1s), e.g. {differ}; "
                "the eight rows of a lane carry one probe set."
            )
        parts.append(part)
    return parts


def _snake(key: str) -> str:
    if key in _KNOWN_KEYS:
        return _KNOWN_KEYS[key]
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip())
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").lower()


def _decode(raw: bytes, path: str) -> str:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(f"RCC file '{path}': gzip stream is damaged or truncated ({error}).") from error
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older Windows exports; names are ASCII anyway
    if "\r" in text:
        _check_one_line_ending(text, path)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _check_one_line_ending(text: str, path: str) -> None:
    """Refuse a file whose lines do not all end alike (CRLF, LF or CR).

    A file mixing them has a line end where none belongs: a count "40" whose last digit
    became a CR reads "4" CR LF, which a CRLF file's line end cannot be told from, so it
    would be read as 4. A file from one writer has one kind (the 66 real RCC files of the
    shared fixtures: LF throughout).
    """
    crlf = text.count("\r\n")
    kinds = {"CRLF": crlf, "LF": text.count("\n") - crlf, "CR": text.count("\r") - crlf}
    used = [kind for kind, count in kinds.items() if count]
    if len(used) < 2:
        return
    first = min(used, key=lambda kind: _first_line_end(text, kind))
    odd = next(kind for kind in used if kind != first)
    before = text[: _first_line_end(text, odd)]
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1  # each line end once
    raise InputError(
        f"RCC file '{path}' mixes line endings ({', '.join(f'{kinds[k]} {k}' for k in used)}): the first line "
        f"ends in {first}, line {line} in {odd}. A line end inside a line (a damaged count such as '40' -> '4' "
        "+ CR) cannot be told from a line's end; expected one kind throughout."
    )


def _first_line_end(text: str, kind: str) -> int:
    """Position of the first line end of ``kind`` (CRLF, LF alone, CR alone) in ``text``."""
    if kind == "CRLF":
        return text.find("\r\n")
    pattern = re.compile(r"(?<!\r)\n" if kind == "LF" else r"\r(?!\n)")
    match = pattern.search(text)
    return match.start() if match else len(text)


def _sections(text: str, path: str) -> dict[str, tuple[int, str]]:
    """Map section name -> (line number of its first content line, content text)."""
    found: dict[str, tuple[int, str]] = {}
    open_name, open_end, open_line = None, 0, 0
    line, counted_to = 1, 0
    for match in _TAG.finditer(text):
        closing, name = match.group(1) == "/", match.group(2)
        line += text.count("\n", counted_to, match.start())  # incremental: each byte counted once
        counted_to = match.start()
        if not closing:
            if open_name is not None:
                raise InputError(
                    f"RCC file '{path}', line {line}: section <{name}> opens before <{open_name}> "
                    f"(line {open_line}) is closed; the file is damaged or truncated."
                )
            open_name, open_end, open_line = name, match.end(), line
        else:
            if name != open_name:
                raise InputError(
                    f"RCC file '{path}', line {line}: </{name}> closes a section that is not open "
                    f"(open: {open_name or 'none'})."
                )
            found[name] = (open_line + 1, text[open_end + 1 : match.start()])
            open_name = None
    if open_name is not None:
        raise InputError(
            f"RCC file '{path}', line {open_line}: section <{open_name}> is never closed; "
            "the file is truncated (an incomplete copy or transfer?)."
        )
    missing = [s for s in REQUIRED_SECTIONS if s not in found]
    if missing:
        raise InputError(
            f"RCC file '{path}': missing section(s) {', '.join('<' + s + '>' for s in missing)}; "
            f"an RCC file has {', '.join('<' + s + '>' for s in REQUIRED_SECTIONS + OPTIONAL_SECTIONS)}."
        )
    return found


def _attributes(content: str) -> list[tuple[str, str]]:
    pairs = []
    for line in content.split("\n"):
        if line.strip():
            key, _, value = line.partition(",")  # split on the first comma only
            pairs.append((key.strip(), value.strip()))
    return pairs


def _bad_code_summary_line(block: str, first_line: int, path: str, width: int) -> InputError:
    """Find the first malformed probe line of a Code_Summary block (slow path, errors only)."""
    header_seen = False
    for offset, raw in enumerate(block.split("\n")):
        line = raw.strip()
        if not line:
            continue
        if not header_seen:
            header_seen = True
            continue
        fields = line.split(",")
        where = f"RCC file '{path}', line {first_line + offset}"
        if len(fields) != width:
            return InputError(
                f"{where}: expected {width} comma-separated fields (CodeClass,Name,Accession,Count), got "
                f"{len(fields)}: {line!r}"
            )
        count = fields[-1].strip()
        if not (count.isascii() and count.isdigit()):
            return InputError(f"{where}: count {count!r} is not a non-negative integer (probe {fields[1]!r}).")
    return InputError(f"RCC file '{path}': Code_Summary could not be parsed.")


def parse_rcc(text: str, path: str = "<text>") -> RccFile:
    """Parse the text of one RCC file (line ends already normalized to LF).

    Raises :class:`InputError` naming the file and line for a truncated file, a missing
    section, a malformed Code_Summary line or a non-numeric count.
    """
    sections = _sections(text, path)
    attributes: dict[str, str] = {}
    for section, id_name in (("Header", None), ("Sample_Attributes", "rcc_sample_id"), ("Lane_Attributes", "lane_id")):
        for key, value in _attributes(sections[section][1]):
            column = id_name if key == "ID" and id_name else _snake(key)
            if column in attributes and section == "Lane_Attributes":
                column = f"lane_{column}"
            attributes[column] = value
    for required in ("file_version", "gene_rlf"):
        if required not in attributes:
            raise InputError(
                f"RCC file '{path}': no {required!r} attribute ({'FileVersion' if required == 'file_version' else 'GeneRLF'})."
            )

    first_line, block = sections["Code_Summary"]
    clean = " " not in block and "\t" not in block  # the usual case: no stripping needed
    lines = block.strip("\n").split("\n") if clean and "\n\n" not in block.strip("\n") else None
    if lines is None:
        # Leading indentation and blank lines go; trailing blanks stay, because the count is
        # the last cell of a line and a digit lost beside one ("40" -> "4 ") must be refused
        # below, not stripped into another number.
        lines = [line.lstrip() for line in block.split("\n") if line.strip()]
    if not lines:
        raise InputError(f"RCC file '{path}', line {first_line}: <Code_Summary> is empty.")
    header = [c.strip() for c in lines[0].split(",")]
    if header[: len(CODE_SUMMARY_COLUMNS)] != list(CODE_SUMMARY_COLUMNS):
        raise InputError(
            f"RCC file '{path}', line {first_line}: Code_Summary header is {lines[0]!r}; expected "
            f"{','.join(CODE_SUMMARY_COLUMNS)}."
        )
    width = len(header)
    body = lines[1:]
    # Fast path: one join and one split for the whole block.
    fields = ",".join(body).split(",")
    if len(fields) != width * len(body):
        raise _bad_code_summary_line(block, first_line, path, width)
    # A count cell is digits only; whitespace in it is refused, not stripped: a digit lost
    # beside a space or tab ("12" -> "1 ") would otherwise be read as another number.
    count_text = fields[header.index("Count") :: width]
    digits = "".join(count_text)
    if not (digits.isascii() and digits.isdigit()) or "" in count_text:
        raise _bad_code_summary_line(block, first_line, path, width)
    counts = np.fromiter(map(int, count_text), dtype=np.int64, count=len(count_text))
    messages_text = sections.get("Messages", (0, ""))[1]
    return RccFile(
        path=path,
        attributes=attributes,
        code_class=fields[0::width] if clean else [c.strip() for c in fields[0::width]],
        name=fields[1::width] if clean else [n.strip() for n in fields[1::width]],
        accession=fields[2::width] if clean else [a.strip() for a in fields[2::width]],
        counts=counts,
        messages=[m for m in messages_text.split("\n") if m.strip()],
    )


def read_rcc_bytes(path: str | os.PathLike) -> bytes:
    """The raw bytes of one RCC file, refusing a missing or absurdly large one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"RCC file '{path}' does not exist (or is not a file).")
    if path.stat().st_size > MAX_RCC_BYTES:
        raise InputError(f"RCC file '{path}' is {path.stat().st_size} bytes; an RCC file is well under 1 MB.")
    return path.read_bytes()


def parse_rcc_bytes(raw: bytes, path: str = "<bytes>") -> RccFile:
    """Parse one RCC file's bytes (plain or gzipped; any line ends; optional BOM)."""
    return parse_rcc(_decode(raw, path), path)


def read_rcc(path: str | os.PathLike) -> RccFile:
    """Read one RCC file (plain or gzipped; any line ends; optional BOM)."""
    return parse_rcc_bytes(read_rcc_bytes(path), str(path))


def is_rcc_name(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(".rcc") or lowered.endswith(".rcc.gz")


def rcc_stem(name: str) -> str:
    """File name without ``.RCC`` / ``.rcc.gz``: the default sample name."""
    base = os.path.basename(name)
    lowered = base.lower()
    for suffix in (".rcc.gz", ".rcc"):
        if lowered.endswith(suffix):
            return base[: -len(suffix)]
    return base


def find_rcc_files(spec: str | os.PathLike) -> list[Path]:
    """RCC files named by a folder (its ``*.RCC``/``*.rcc``/``*.RCC.gz``) or a glob pattern."""
    spec = str(spec)
    if os.path.isdir(spec):
        files = [Path(spec) / n for n in os.listdir(spec) if is_rcc_name(n) and (Path(spec) / n).is_file()]
    else:
        files = [Path(p) for p in glob.glob(spec) if Path(p).is_file()]
    if not files:
        raise InputError(f"no RCC files found at '{spec}' (a folder of .RCC/.rcc/.RCC.gz files, or a glob pattern).")
    return sorted(files)


def _class_rank(code_class: str) -> int:
    for rank, prefix in enumerate(("Endogenous", "Housekeeping", "Positive", "Negative")):
        if code_class.startswith(prefix):
            return rank
    return 4


@dataclass
class RccSet:
    """Files merged by probe key: probe table, count matrix (probes x samples), lanes."""

    probes: pd.DataFrame  # code_class, name, accession, concentration
    counts: np.ndarray  # int64, probes x samples
    samples: list[str]
    lanes: pd.DataFrame  # one row per sample: sample_id, file, attributes

    def count_table(self) -> pd.DataFrame:
        """``code_class, name, accession`` then one integer column per sample."""
        table = self.probes[["code_class", "name", "accession"]].copy()
        return pd.concat([table, pd.DataFrame(self.counts, columns=self.samples, index=table.index)], axis=1)


def _clean_names(code_class: np.ndarray, name: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names = name.astype(object).copy()
    concentration = np.full(len(names), np.nan)
    for i in np.flatnonzero([c.startswith(("Positive", "Negative")) for c in code_class]):
        match = _CONTROL.match(names[i])
        if match:
            names[i], concentration[i] = match.group(1), float(match.group(2))
        elif names[i] in POSITIVE_CONCENTRATIONS:
            concentration[i] = POSITIVE_CONCENTRATIONS[names[i]]
    return names, concentration


class RccMerger:
    """Merge parsed RCC files one at a time (:func:`merge_rcc`'s engine).

    :meth:`add` reduces each file to its count column(s) (in the first file's probe order;
    a PlexSet lane gives eight, :func:`split_plexset`) and its attributes and refuses what
    :func:`merge_rcc` refuses, as the file arrives; :meth:`finish` names the files' samples
    and returns the :class:`RccSet`. Validation (:mod:`contexture.nanostring.checks`) feeds
    it the files it parses anyway, so the stage never parses them again.
    """

    def __init__(self) -> None:
        self.first: RccFile | None = None
        self.position: dict[tuple[str, str, str], int] = {}
        self.columns: list[np.ndarray] = []  # one per sample (a PlexSet lane has eight)
        self.attributes: list[dict[str, str]] = []  # one per sample
        self.paths: list[str] = []  # one per file
        self.samples_per_file: list[int] = []
        self.kind: dict[bool, str] = {}  # PlexSet or not -> first file of that kind
        self.seen_lanes: dict[tuple[str, str], str] = {}
        self.seen_counts: dict[bytes, str] = {}

    def add(self, f: RccFile) -> None:
        parts = split_plexset(f)
        plexset = "plexset_row" in parts[0].attributes
        self.kind.setdefault(plexset, f.path)
        if (not plexset) in self.kind:
            _raise_mixed_plexset(self.kind[True], self.kind[False], f.path)
        columns = []
        for part in parts:
            first = self.first
            if first is None:
                keys = part.keys
                position = {key: i for i, key in enumerate(keys)}
                if len(position) != len(keys):
                    _raise_duplicate_keys(part)
                column = part.counts
                # Keep the first file's probe columns only: counts live in self.columns.
                self.first = RccFile(
                    part.path, part.attributes, part.code_class, part.name, part.accession, part.counts[:0]
                )
                self.position = position
            else:
                if part.attributes["gene_rlf"] != first.attributes["gene_rlf"]:
                    _raise_codesets(first, part, self.attributes, self._sample_paths())
                column = part.counts if part.same_probe_layout(first) else _reorder(part, first, self.position)
            columns.append(column)
        # One lane, one check: a PlexSet lane's rows share their controls (and empty wells may
        # share all-zero rows), so copies are judged on the whole lane.
        _refuse_duplicate_lane(f, np.concatenate(columns), self.seen_lanes, self.seen_counts)
        self.columns.extend(columns)
        self.attributes.extend(part.attributes for part in parts)
        self.paths.append(f.path)
        self.samples_per_file.append(len(parts))

    def _sample_paths(self) -> list[str]:
        return [p for p, n in zip(self.paths, self.samples_per_file, strict=True) for _ in range(n)]

    def finish(self, samples: list[str]) -> RccSet:
        """The merged set; ``samples[i]`` names the i-th file added (its PlexSet rows ``<name>_1`` ... ``_8``)."""
        first = self.first
        if first is None:
            raise InputError("no RCC files to read.")
        if len(self.paths) != len(samples):
            raise ValueError("one sample name per file")
        names = []
        for name, n in zip(samples, self.samples_per_file, strict=True):
            names.extend([name] if n == 1 else [f"{name}_{k}" for k in range(1, n + 1)])
        _refuse_duplicate_samples(names)
        counts = np.column_stack(self.columns)
        code_class = np.array(first.code_class, dtype=object)
        names_clean, concentration = _clean_names(code_class, np.array(first.name, dtype=object))
        probes = pd.DataFrame(
            {
                "code_class": code_class,
                "name": names_clean,
                "accession": np.array(first.accession, dtype=object),
                "concentration": concentration,
            }
        )
        if probes.duplicated(["code_class", "name", "accession"]).any():
            _raise_duplicate_keys(first, cleaned=True)
        order = sorted(
            range(len(probes)),
            key=lambda i: (_class_rank(code_class[i]), code_class[i], names_clean[i], probes["accession"].iat[i]),
        )
        probes = probes.iloc[order].reset_index(drop=True)
        counts = counts[order]
        lanes = pd.DataFrame(self.attributes)
        lanes.insert(0, "file", [os.path.basename(p) for p in self._sample_paths()])
        lanes.insert(0, "sample_id", names)
        return _sorted_by_sample(RccSet(probes, counts, names, lanes))


def _sorted_by_sample(rccs: RccSet) -> RccSet:
    """Lanes and count columns in sample-name order (the order every table is written in)."""
    order = np.argsort(np.array(rccs.samples, dtype=object), kind="stable")
    lanes = rccs.lanes.iloc[order].reset_index(drop=True)
    return RccSet(rccs.probes, np.ascontiguousarray(rccs.counts[:, order]), [rccs.samples[i] for i in order], lanes)


def merge_rcc(files: Iterable[RccFile], samples: list[str]) -> RccSet:
    """Merge parsed RCC files into one probe x sample matrix, by (CodeClass, Name, Accession).

    ``samples[i]`` names the i-th file; a PlexSet lane's eight samples are
    ``samples[i]_1`` ... ``_8`` (rows A-H, :func:`split_plexset`). ``files`` may be a
    generator: each file is reduced to its count columns and attributes as it arrives, so
    10,000 files never sit in memory at once. Refuses files from different CodeSets
    (GeneRLF), duplicate probe keys within a file, files whose probe sets differ, PlexSet
    lanes mixed with single-sample ones, and duplicate lanes (same CartridgeID and lane ID,
    or identical count vectors with at least one count), naming both files.
    """
    samples = list(samples)
    _refuse_duplicate_samples(samples)
    merger = RccMerger()
    for f in files:
        merger.add(f)
    return merger.finish(samples)


def _refuse_duplicate_samples(samples: list[str]) -> None:
    if len(set(samples)) != len(samples):
        dupes = sorted(name for name, n in Counter(samples).items() if n > 1)
        raise InputError(f"sample names are not unique: {dupes[:10]}; name the samples in a sample sheet.")


def take_samples(rccs: RccSet, positions: list[int], names: list[str]) -> RccSet:
    """The samples of ``rccs`` at ``positions`` (in its order), named ``names``, re-sorted by name.

    How the stage applies a sample sheet that leaves some PlexSet rows out (empty wells).
    """
    _refuse_duplicate_samples(list(names))
    lanes = rccs.lanes.iloc[list(positions)].reset_index(drop=True)
    lanes["sample_id"] = list(names)
    counts = rccs.counts[:, list(positions)]
    return _sorted_by_sample(RccSet(rccs.probes, counts, list(names), lanes))


def rename_samples(rccs: RccSet, names: dict[str, str]) -> RccSet:
    """``rccs`` with each sample renamed by ``names`` (old -> new), re-sorted by the new names.

    Validation merges the files under their paths (the sample sheet is matched later);
    the stage renames them to the sheet's sample IDs, giving exactly what
    :func:`merge_rcc` gives when called with those IDs.
    """
    samples = [names[s] for s in rccs.samples]
    _refuse_duplicate_samples(samples)
    lanes = rccs.lanes.copy()
    lanes["sample_id"] = samples
    return _sorted_by_sample(RccSet(rccs.probes, rccs.counts, samples, lanes))


def _raise_mixed_plexset(plexset_path: str, single_path: str, path: str) -> None:
    raise InputError(
        f"RCC files '{plexset_path}' (a PlexSet lane: eight samples, rows A-H) and '{single_path}' (one sample per "
        f"lane) are mixed in one CodeSet (noticed at '{path}'): PlexSet and single-sample lanes are different assays "
        "(other controls, other normalization); analyse each as its own cohort."
    )


def _refuse_duplicate_lane(
    f: RccFile, column: np.ndarray, seen_lanes: dict[tuple[str, str], str], seen_counts: dict[bytes, str]
) -> None:
    """Refuse a second file of one physical lane (CartridgeID + lane ID) or a copy of another file's counts."""
    cartridge, lane = f.attributes.get("cartridge_id", ""), f.attributes.get("lane_id", "")
    if cartridge and lane:
        other = seen_lanes.setdefault((cartridge, lane), f.path)
        if other != f.path:
            raise InputError(
                f"RCC files '{other}' and '{f.path}' are the same lane (CartridgeID {cartridge!r}, lane {lane}): "
                "one lane is one sample; remove the duplicate file (or correct its Lane_Attributes)."
            )
    if column.any():  # all-zero lanes (failed scans) may legitimately coincide
        other = seen_counts.setdefault(np.ascontiguousarray(column).tobytes(), f.path)
        if other != f.path:
            raise InputError(
                f"RCC files '{other}' and '{f.path}' have identical counts for every probe: one is a copy of the "
                "other (two real lanes never agree on every probe); remove the copy."
            )


def _reorder(f: RccFile, first: RccFile, position: dict) -> np.ndarray:
    """Counts of ``f`` in the probe order of ``first`` (merge by key), or an error."""
    keys = f.keys
    if len(set(keys)) != len(keys):
        _raise_duplicate_keys(f)
    if set(keys) != position.keys():
        missing = sorted(position.keys() - set(keys))[:5]
        extra = sorted(set(keys) - position.keys())[:5]
        raise InputError(
            f"RCC file '{f.path}' has a different probe set from '{first.path}' although both are CodeSet "
            f"{f.attributes['gene_rlf']!r}: missing {missing}, extra {extra}."
        )
    column = np.empty(len(keys), dtype=np.int64)
    column[np.fromiter((position[k] for k in keys), dtype=np.int64, count=len(keys))] = f.counts
    return column


def _raise_codesets(first: RccFile, other: RccFile, attributes: list[dict], paths: list[str]) -> None:
    codesets: dict[str, list[str]] = {}
    for a, p in zip([*attributes, other.attributes], [*paths, other.path], strict=True):
        codesets.setdefault(a["gene_rlf"], []).append(p)
    parts = [f"{name!r} ({len(found)} file(s), e.g. '{found[0]}')" for name, found in sorted(codesets.items())]
    raise InputError(
        "RCC files come from different CodeSets (GeneRLF): "
        + "; ".join(parts)
        + f" (first difference: '{other.path}' vs '{first.path}'). Probes of different CodeSets cannot be merged; "
        "analyse each CodeSet as its own cohort."
    )


def _raise_duplicate_keys(f: RccFile, cleaned: bool = False) -> None:
    keys = f.keys
    seen, duplicated = set(), []
    for key in keys:
        if key in seen:
            duplicated.append(key)
        seen.add(key)
    what = "after removing control concentrations" if cleaned else ""
    raise InputError(
        f"RCC file '{f.path}': probe key (CodeClass, Name, Accession) repeated {what}: {duplicated[:5] or 'controls'}."
    )


def read_rcc_files(paths: list[str | os.PathLike], samples: list[str] | None = None) -> RccSet:
    """Read and merge RCC files; samples default to the file names without extension."""
    paths = [Path(p) for p in paths]
    if samples is None:
        samples = [rcc_stem(p.name) for p in paths]
    if len(samples) != len(paths):
        raise ValueError("one sample name per file")
    return merge_rcc((read_rcc(p) for p in paths), list(samples))


def read_rlf_name(path: str | os.PathLike) -> str:
    """The CodeSet name of an RLF file, for checking RCCs: ``Name=`` in its ``[Header]``, else the file stem.

    RLFs written by NanoString's RLFMergeTool / rlf_generator (e.g. ``3D_SolidTumor_Sig.rlf``)
    have no ``Name=`` line; the instrument then names the CodeSet after the file, which is
    what the RCCs' ``GeneRLF`` carries. Only the name is used: the probe annotation this
    workflow needs is in the RCC files.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"RLF file '{path}' does not exist.")
    text = _decode(path.read_bytes(), str(path))
    in_header = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("["):
            in_header = stripped.lower() == "[header]"
            continue
        key, _, value = stripped.partition("=")
        if in_header and key.strip().lower() == "name":
            return value.strip()
    if not any(line.strip().lower() == "[header]" for line in text.split("\n")):
        raise InputError(f"RLF file '{path}': no [Header] section; is it an RLF file?")
    stem = path.name
    for suffix in (".gz", ".rlf"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem


def check_rlf(path: str | os.PathLike, rccs: RccSet) -> None:
    """Refuse RCC files whose CodeSet (GeneRLF) is not the RLF's ``Name``."""
    name = read_rlf_name(path)
    codesets = sorted(set(rccs.lanes["gene_rlf"]))
    if codesets != [name]:
        raise InputError(
            f"RLF file '{path}' describes CodeSet {name!r} but the RCC files are from {codesets} (their GeneRLF): "
            "the RLF and the RCC files must belong to one CodeSet."
        )


# --------------------------------------------------------------------------- parsed RCC set
# What validation writes for the nanostring stage (rule validate_inputs, folder
# results/{cohort}/validation/parsed/): the merged files under their paths, so the stage
# never parses an RCC file a second time. Parquet keeps the types (int64 counts, text
# attributes with missing values), and the reader refuses a folder of another layout.
PARSED_PROBES = "nanostring_probes.parquet"
PARSED_COUNTS = "nanostring_counts.parquet"
PARSED_LANES = "nanostring_lanes.parquet"
_PROBE_COLUMNS = ["code_class", "name", "accession", "concentration"]


def write_rcc_set(rccs: RccSet, folder: str | os.PathLike) -> None:
    """Write a merged set as three Parquet tables: probes, counts (probe x sample, long), lanes.

    ``nanostring_counts.parquet`` has one row per (sample, probe), sample-major in the
    set's sample order, with the probe's row in ``nanostring_probes.parquet``; lanes
    keep every attribute as text (missing ones as null).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from contexture.io import atomic_path

    folder = Path(folder)
    n_probes, n_samples = rccs.counts.shape
    probes = pa.table(
        {
            "code_class": pa.array(rccs.probes["code_class"].tolist(), pa.string()),
            "name": pa.array(rccs.probes["name"].tolist(), pa.string()),
            "accession": pa.array(rccs.probes["accession"].tolist(), pa.string()),
            "concentration": pa.array(rccs.probes["concentration"].to_numpy(float), pa.float64()),
        }
    )
    sample_index = np.repeat(np.arange(n_samples, dtype=np.int32), n_probes)
    counts = pa.table(
        {
            "sample_id": pa.DictionaryArray.from_arrays(sample_index, pa.array(rccs.samples, pa.string())),
            "probe": pa.array(np.tile(np.arange(n_probes, dtype=np.int32), n_samples)),
            "count": pa.array(np.ascontiguousarray(rccs.counts.T).ravel().astype(np.int64)),
        }
    )
    lanes = pa.table(
        {
            column: pa.array([None if pd.isna(v) else str(v) for v in rccs.lanes[column]], pa.string())
            for column in rccs.lanes.columns
        }
    )
    for table, name in ((probes, PARSED_PROBES), (counts, PARSED_COUNTS), (lanes, PARSED_LANES)):
        with atomic_path(folder / name) as temporary:
            pq.write_table(table, temporary)


def read_rcc_set(folder: str | os.PathLike) -> RccSet:
    """The set :func:`write_rcc_set` wrote, identical to the one it was given."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    missing = [name for name in (PARSED_PROBES, PARSED_COUNTS, PARSED_LANES) if not (folder / name).is_file()]
    if missing:
        raise InputError(f"parsed RCC folder '{folder}': missing {missing}; rerun rule validate_inputs.")

    def parquet(name: str):
        with pq.ParquetFile(folder / name) as handle:
            return handle.read()

    probes = parquet(PARSED_PROBES).to_pandas()
    lanes = parquet(PARSED_LANES).to_pandas()
    counts = parquet(PARSED_COUNTS)
    n_probes, n_samples = len(probes), len(lanes)
    samples = lanes["sample_id"].tolist() if "sample_id" in lanes.columns else []
    layout = (
        list(probes.columns) == _PROBE_COLUMNS
        and list(lanes.columns[:2]) == ["sample_id", "file"]
        and counts.column_names == ["sample_id", "probe", "count"]
        and counts.num_rows == n_probes * n_samples
    )
    if layout:
        sample_column = counts.column("sample_id").combine_chunks()
        layout = (
            sample_column.dictionary.to_pylist() == samples
            and np.array_equal(
                sample_column.indices.to_numpy(), np.repeat(np.arange(n_samples, dtype=np.int32), n_probes)
            )
            and np.array_equal(counts.column("probe").to_numpy(), np.tile(np.arange(n_probes), n_samples))
        )
    if not layout:
        raise InputError(
            f"parsed RCC folder '{folder}' is not in the layout write_rcc_set writes; rerun validate_inputs."
        )
    matrix = counts.column("count").to_numpy().astype(np.int64).reshape(n_samples, n_probes).T
    for column in ("code_class", "name", "accession"):
        probes[column] = probes[column].astype(object)
    # Missing attributes come back as None; the merged set holds NaN (pandas' missing text).
    lanes = lanes.astype(object).where(lanes.notna(), np.nan)
    return RccSet(probes, np.ascontiguousarray(matrix), samples, lanes)
