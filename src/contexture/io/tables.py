"""Typed reading of the tables this workflow writes and reads back: no type inference.

Every table a rule writes under ``results/{cohort}/`` and a later rule (or the report)
reads has a row schema in ``src/contexture/schemas/results/``, named after its path under the
cohort folder: ``tables/patients.tsv`` is described by
``src/contexture/schemas/results/tables/patients.schema.yaml`` and read with
``read_table(path, "results/tables/patients")``. The schemas use the same JSON Schema
subset as the input tables (:mod:`contexture.io.validation`), of which reading needs
only ``properties`` (each column's ``type``) and ``additionalProperties``.

Why: pandas' inference turned patient IDs ``001`` … ``006`` into ``1`` … ``6``, made
``01`` and ``1`` one ID, and left boolean flags as ``True``/``NaN`` objects that every
stage parsed back from text its own way. Here every cell is read as the text the writer
wrote, then converted column by column:

* declared ``string``: the exact text (``object`` dtype, ``str`` values, NaN when empty);
* declared ``boolean``: ``True``/``False`` as :func:`contexture.io.write_table` writes
  them; numpy ``bool``, or pandas' nullable ``"boolean"`` when the schema allows null
  (``type: [boolean, "null"]``). Any other text is an error;
* declared ``integer``: ``int64``; ``float64`` when a cell is empty (numpy has no integer
  missing value, and pandas' nullable ``Int64`` would change arithmetic downstream);
* declared ``number``: ``float64``;
* columns not declared (e.g. the open set of patient features in ``patients.tsv``):
  identifiers are text (a name ending in ``_id``, or ``file``); a column whose every
  present cell is a number is numeric (``int64`` when all are whole and none is missing,
  else ``float64``); anything else is text. In a matrix, ``additionalProperties`` is
  instead a column spec applied to every undeclared column: the sample columns of the
  gene × sample tables are named by sample IDs and hold numbers (``{type: number}``).

Numbers are parsed by pandas' own parser (:func:`pandas.to_numeric`), which gives the
same values as ``read_csv`` did, so rewriting a table read here is byte-identical.
"""

from __future__ import annotations

__all__ = [
    "column_spec",
    "is_id_column",
    "read_result_table",
    "read_table",
    "result_schema",
    "table_schema",
    "type_column",
]

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.errors import InputError, Problem, raise_problems
from contexture.io.validation import load_schema

ID_COLUMNS = ("file",)  # besides every column whose name ends in "_id"
BOOLEAN_TEXT = {"True": True, "False": False}  # what write_table writes for bool columns


def is_id_column(name: str) -> bool:
    """Identifiers are text whatever they look like: ``*_id`` columns and ``file``."""
    return name.endswith("_id") or name in ID_COLUMNS


def table_schema(schema: str | Mapping) -> Mapping:
    """A schema given by name (``results/tables/patients``) or as a mapping."""
    return load_schema(schema) if isinstance(schema, str) else schema


def _kinds(spec: Mapping) -> tuple[str, bool]:
    declared = spec.get("type", "string")
    types = [declared] if isinstance(declared, str) else list(declared)
    kinds = [t for t in types if t != "null"]
    return (kinds[0] if kinds else "string"), "null" in types


def column_spec(schema: Mapping, column: str) -> Mapping | None:
    """The spec that types ``column``: declared, else ``additionalProperties`` (None = the rule)."""
    properties = schema.get("properties", {})
    if column in properties:
        return properties[column]
    extra = schema.get("additionalProperties", True)
    return extra if isinstance(extra, Mapping) else None


def _problems(text: pd.Series, where: np.ndarray, file: str, expected: str) -> list[Problem]:
    rows = np.flatnonzero(where) + 1
    return [Problem(file, int(row), str(text.name), text.iloc[row - 1], expected) for row in rows]


def type_column(text: pd.Series, spec: Mapping | None, file: str) -> tuple[pd.Series, list[Problem]]:
    """Convert one column read as text to its type (module docstring); problems for bad cells."""
    present = text.notna().to_numpy()
    if spec is None:
        if is_id_column(str(text.name)) or text.empty:  # no rows: nothing says it is numeric
            return text, []
        try:
            return pd.to_numeric(text), []
        except (ValueError, TypeError):
            return text, []
    kind, nullable = _kinds(spec)
    problems = [] if nullable else _problems(text, ~present, file, f"a {kind} (the cell is empty)")
    if kind == "boolean":
        values = text.map(BOOLEAN_TEXT)
        problems += _problems(text, present & values.isna().to_numpy(), file, "True or False")
        typed = values.astype("boolean" if nullable else bool) if not problems else text
    elif kind in ("number", "integer"):
        values = pd.to_numeric(text, errors="coerce")
        bad = present & values.isna().to_numpy()
        problems += _problems(text, bad, file, f"a {kind}")
        if kind == "integer":
            numbers = values.to_numpy(float)
            problems += _problems(text, present & ~bad & (numbers != np.round(numbers)), file, "an integer")
        whole = kind == "integer" and present.all()
        typed = values.astype(np.int64 if whole else float) if not problems else text
    else:
        typed = text
    return typed, problems


def read_table(path: str | os.PathLike, schema: str | Mapping) -> pd.DataFrame:
    """Read a table this workflow wrote (TSV), each column typed by ``schema``, never inferred.

    ``schema`` names a file of ``src/contexture/schemas/`` (``"results/tables/patients"``) or
    is a schema mapping. A cell that does not match its declared type raises
    :class:`InputError` listing every such cell by file, row and column (a table the
    workflow wrote always matches; a hand-edited one may not).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"table '{path}' does not exist (or is not a file).")
    schema = table_schema(schema)
    text = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    typed, problems = {}, []
    for column in text.columns:
        typed[column], found = type_column(text[column], column_spec(schema, column), str(path))
        problems += found
    raise_problems(problems, f"table '{path}'")
    return pd.DataFrame(typed, index=text.index, columns=text.columns)


def result_schema(path: str | os.PathLike) -> str:
    """The schema name of a table under ``results/{cohort}/``, from its path.

    ``results/{cohort}/tables/patients.tsv`` -> ``"results/tables/patients"``; every
    figure's ``figures/<name>.source.tsv`` shares ``"results/figures/source"``.
    """
    path = Path(path)
    if path.parent.name == "figures":
        return "results/figures/source"
    return f"results/{path.parent.name}/{path.name.removesuffix('.tsv')}"


def read_result_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table under ``results/{cohort}/`` through the schema its path names."""
    return read_table(path, result_schema(path))
