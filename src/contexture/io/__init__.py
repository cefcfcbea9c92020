"""Reading and writing files: the only package that knows file formats.

This module holds the tables, YAML and atomic writers; each modality's own formats live
in a submodule (``contexture.io.rcc``, ``contexture.io.pet_images``, ``contexture.io.qupath``).
Users' input tables are read as text and validated (:mod:`contexture.io.validation`); the
tables the workflow writes and reads back are read through their schemas by
:func:`read_table` (:mod:`contexture.io.tables`): IDs stay text, flags are booleans.

Tables are TSV with one header row and empty cells for missing values (DESIGN.md,
outputs contract). Writers are atomic: they write to a temporary file beside the target
and ``os.replace`` it into place, so a failed job never leaves a complete-looking table.
Floats are written with a fixed format so the same inputs give byte-identical tables.
"""

from __future__ import annotations

__all__ = [
    "MAX_TABLE_BYTES",
    "atomic_path",
    "read_input_table",
    "read_result_table",
    "read_table",
    "read_yaml",
    "sha256_file",
    "write_table",
    "write_yaml",
]

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from contexture.errors import InputError

# 10 significant digits: far beyond any clinical precision (and R's print default of 7),
# short enough to be readable, and fixed so reruns are byte-identical.
FLOAT_FORMAT = "%.10g"

# Refuse tables larger than this before reading them into memory (issue: hostile input).
MAX_TABLE_BYTES = 4 * 1024**3


def _separator(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def read_input_table(path: str | os.PathLike, *, what: str = "table") -> pd.DataFrame:
    """Read a user's input table (TSV, or CSV by extension; optionally gzipped) as text.

    Every column is read as a string, so validation (:mod:`contexture.io.validation`) can
    report the exact offending value. Header names and cells are stripped of surrounding
    whitespace, and empty or whitespace-only cells are missing values. Two columns with
    the same name (after stripping) are refused, naming the file and the column: pandas
    would rename the second ``age`` to ``age.1`` and one of them would be analysed
    silently. A header-only table is returned as an empty table; whether that is an
    error is the table schema's to say (:func:`contexture.io.validation.validate_frame`).
    The file is opened read-only and never written.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist (or is not a file).")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise InputError(
            f"{what} '{path}' is {path.stat().st_size} bytes; refusing to read a table over {MAX_TABLE_BYTES} bytes."
        )
    options = {"sep": _separator(path), "dtype": str, "keep_default_na": False, "encoding": "utf-8-sig"}
    try:
        # encoding utf-8-sig: tolerate the BOM spreadsheet programs add.
        table = pd.read_csv(path, na_values=[""], skip_blank_lines=True, **options)
        # pandas (>= 2.0, no more mangle_dupe_cols) renames repeated names to 'x.1',
        # 'x.2': read the header row as data to see the names as written.
        header = pd.read_csv(path, header=None, nrows=1, **options).iloc[0]
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as error:
        raise InputError(
            f"{what} '{path}' could not be read as a {'CSV' if _separator(path) == ',' else 'TSV'} table: {error}"
        ) from error
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{what} '{path}' is empty: expected a header row and data rows.") from error
    names = [str(name).strip() for name in header]
    repeated = {}
    for name in dict.fromkeys(names):
        positions = [position for position, other in enumerate(names, start=1) if other == name]
        if name and len(positions) > 1:  # empty names (trailing tabs) are pandas' 'Unnamed: n'
            repeated[name] = positions
    if repeated:
        listed = "; ".join(
            f"column '{name}' appears as columns {' and '.join(map(str, positions))}"
            for name, positions in repeated.items()
        )
        raise InputError(
            f"{what} '{path}' has {len(repeated)} repeated column name(s) in its header: {listed}; "
            "expected each column name once (which one holds the data?)"
        )
    # Cells stripped, and whitespace-only ones missing, one column at a time as plain
    # lists: pandas' .str methods cost ~0.25 ms a column in overhead, which is most of the
    # time of the many small tables (PET reads one labels table per scan).
    columns = {}
    for position in range(table.shape[1]):
        cells = table.iloc[:, position].tolist()
        stripped = [cell.strip() if isinstance(cell, str) else cell for cell in cells]
        columns[position] = pd.Series(
            [cell if cell != "" else np.nan for cell in stripped], index=table.index, dtype=object
        )
    cleaned = pd.DataFrame(columns, index=table.index)
    cleaned.columns = [str(c).strip() for c in table.columns]
    return cleaned


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_table(table: pd.DataFrame, path: str | os.PathLike, *, index: bool = False) -> None:
    """Write ``table`` as TSV atomically, with fixed float formatting and empty missing cells."""
    with atomic_path(path) as temporary:
        table.to_csv(temporary, sep="\t", index=index, na_rep="", float_format=FLOAT_FORMAT, lineterminator="\n")


def write_yaml(data: object, path: str | os.PathLike) -> None:
    """Write ``data`` as YAML atomically, keys in insertion order."""
    with atomic_path(path) as temporary:
        temporary.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | os.PathLike) -> object:
    """Read a YAML file (config, signature, truth)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"YAML file '{path}' does not exist.")
    try:
        # libyaml's C loader, same safe subset as yaml.safe_load, ten times faster: the
        # workflow reads ~20 schema files at every start (a no-op rerun included).
        return yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise InputError(f"YAML file '{path}' is not valid YAML: {error}") from error


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file, streamed (for provenance manifests and no-data-loss checks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


# Typed reading needs the schema loader, which needs this module's readers: import last.
from contexture.io.tables import read_result_table, read_table  # noqa: E402
