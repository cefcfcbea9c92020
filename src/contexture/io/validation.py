"""Validation of input tables against their schemas, reporting every problem at once.

Table schemas live in ``src/contexture/schemas/tables/`` as JSON Schema (draft 2020-12)
documents describing *one row*. Checking 100,000 rows one dict at a time with
``jsonschema`` is slow and reports only per-row paths, so this module interprets the
subset of keywords the schemas use, column-wise and vectorized (written by hand: no
library among our dependencies validates DataFrames against JSON Schema):

* ``required``, ``properties``, ``additionalProperties`` (false: unknown columns are errors)
* per column: ``type`` (``string``, ``number``, ``integer``, ``boolean``; or a list of
  them with ``null``), ``enum``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
  ``pattern``, ``format: date`` (ISO 8601 ``YYYY-MM-DD``)
* extensions: ``x-unique`` (columns whose combination must be unique; optional columns
  absent from the table are left out of the combination),
  ``x-required-together`` (groups of columns that must all be present or all absent) and
  ``x-allow-empty`` (true: a header without data rows is a valid table; by default it is
  refused, since a declared input with no rows leaves nothing to analyse).

Every problem names the file, the 1-based data row (and file line), the column, the
value and what was expected (:class:`contexture.errors.Problem`).
"""

from __future__ import annotations

__all__ = ["SCHEMA_DIR", "load_schema", "read_validated_table", "validate_frame"]

import os
from functools import cache

import numpy as np
import pandas as pd

from contexture.errors import Problem, raise_problems
from contexture.io import read_input_table, read_yaml
from contexture.package_data import package_path

SCHEMA_DIR = package_path("schemas")

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


@cache
def load_schema(name: str) -> dict:
    """Load ``src/contexture/schemas/<name>.schema.yaml`` (e.g. ``tables/clinical``)."""
    return read_yaml(SCHEMA_DIR / f"{name}.schema.yaml")


def _types(spec: dict) -> list[str]:
    declared = spec.get("type", "string")
    return [declared] if isinstance(declared, str) else list(declared)


def _describe(spec: dict) -> str:
    kinds = [t for t in _types(spec) if t != "null"]
    text = " or ".join(kinds) or "a value"
    if spec.get("format") == "date":
        text = "a date as YYYY-MM-DD"
    if "enum" in spec:
        text = "one of " + ", ".join(repr(v) for v in spec["enum"])
    return text


def _coerce(column: pd.Series, spec: dict) -> tuple[pd.Series, pd.Series, str]:
    """Return (typed values, mask of present values that failed to parse, expectation)."""
    present = column.notna()
    kinds = [t for t in _types(spec) if t != "null"]
    kind = kinds[0] if kinds else "string"
    if spec.get("format") == "date":
        typed = pd.to_datetime(column, format="%Y-%m-%d", errors="coerce")
        return typed, present & typed.isna(), "a date as YYYY-MM-DD"
    if kind in ("number", "integer"):
        # Python's float() is correctly rounded (pandas' fast parser is not, for long
        # mantissas); the regex admits only plain decimal literals, so "inf", "nan",
        # "1_000" and "2,8" are rejected rather than silently read.
        literal = column.str.fullmatch(_NUMBER, na=False)
        typed = pd.Series(np.nan, index=column.index, dtype=float)
        typed[literal] = [float(text) for text in column[literal]]
        bad = present & ~np.isfinite(typed)
        typed = typed.where(~bad)
        if kind == "integer":
            # Integers must be whole and exactly representable (|n| < 2**53).
            whole = np.isfinite(typed) & (typed == np.round(typed)) & (typed.abs() < 2.0**53)
            bad |= present & ~whole
            typed = typed.where(~bad)
            return typed.astype("Int64"), bad, "an integer"
        return typed, bad, "a number"
    if kind == "boolean":
        lowered = column.str.lower()
        typed = pd.Series(pd.NA, index=column.index, dtype="boolean")
        typed[lowered.isin(_TRUE)] = True
        typed[lowered.isin(_FALSE)] = False
        bad = present & typed.isna()
        return typed, bad, "a boolean (true/false, yes/no or 1/0)"
    return column.astype("string"), pd.Series(False, index=column.index), "a string"


def validate_frame(table: pd.DataFrame, schema: dict, file: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Check a text table (as read by :func:`read_input_table`) against a row schema.

    Returns the table with columns converted to their declared types, and the list of
    every problem found (empty when the table is valid).
    """
    problems: list[Problem] = []
    properties: dict = schema.get("properties", {})
    rows = pd.Series(np.arange(1, len(table) + 1), index=table.index)

    if table.empty and not schema.get("x-allow-empty", False):
        problems.append(Problem(file, None, None, None, "data rows: the table has a header but no data rows"))
    for column in schema.get("required", []):
        if column not in table.columns:
            problems.append(
                Problem(
                    file,
                    None,
                    column,
                    None,
                    f"a column named '{column}' (required); found columns {list(table.columns)}",
                )
            )
    if schema.get("additionalProperties", True) is False:
        for column in table.columns:
            if column not in properties:
                problems.append(Problem(file, None, column, None, f"only known columns {sorted(properties)}"))
    for group in schema.get("x-required-together", []):
        present = [c for c in group if c in table.columns]
        if present and len(present) != len(group):
            missing = [c for c in group if c not in table.columns]
            problems.append(Problem(file, None, missing[0], None, f"columns {group} together (found only {present})"))

    typed = table.copy()
    for column, spec in properties.items():
        if column not in table.columns:
            continue
        raw = table[column]
        values, bad, expectation = _coerce(raw, spec)
        for index in raw.index[bad]:
            problems.append(Problem(file, int(rows[index]), column, raw[index], expectation))
        nullable = "null" in _types(spec) or column not in schema.get("required", [])
        missing = raw.isna()
        if not nullable:
            for index in raw.index[missing]:
                problems.append(
                    Problem(file, int(rows[index]), column, None, f"a value ({_describe(spec)}); the cell is empty")
                )
        ok = ~bad & ~missing
        if "enum" in spec:
            allowed = {str(v) for v in spec["enum"]}
            outside = ok & ~values.astype(str).isin(allowed)
            for index in raw.index[outside]:
                problems.append(Problem(file, int(rows[index]), column, raw[index], _describe(spec)))
        if "pattern" in spec:
            mismatch = ok & ~raw.fillna("").str.fullmatch(spec["pattern"])
            for index in raw.index[mismatch]:
                problems.append(Problem(file, int(rows[index]), column, raw[index], f"text matching {spec['pattern']}"))
        for keyword, test, words in (
            ("minimum", lambda v, b: v < b, "≥"),
            ("exclusiveMinimum", lambda v, b: v <= b, ">"),
            ("maximum", lambda v, b: v > b, "≤"),
        ):
            if keyword in spec:
                out = ok & test(values.astype(float), spec[keyword]).fillna(False)
                for index in raw.index[out]:
                    problems.append(
                        Problem(file, int(rows[index]), column, raw[index], f"a value {words} {spec[keyword]}")
                    )
        typed[column] = values

    # Optional (not required) key columns absent from the table are left out of the key.
    required = set(schema.get("required", []))
    unique = [c for c in schema.get("x-unique", []) if c in table.columns or c in required]
    if unique and all(c in table.columns for c in unique):
        duplicated = table.duplicated(subset=unique, keep="first")
        for index in table.index[duplicated]:
            value = tuple(table.loc[index, unique]) if len(unique) > 1 else table.loc[index, unique[0]]
            problems.append(
                Problem(
                    file,
                    int(rows[index]),
                    ",".join(unique),
                    value,
                    f"unique values of {unique} (this one repeats an earlier row)",
                )
            )
    return typed, problems


def read_validated_table(path: str | os.PathLike, schema_name: str, *, what: str | None = None) -> pd.DataFrame:
    """Read an input table and validate it against ``src/contexture/schemas/<schema_name>``.

    Raises :class:`contexture.errors.InputError` listing every problem at once.
    """
    what = what or schema_name.split("/")[-1].replace("_", " ") + " table"
    table = read_input_table(path, what=what)
    typed, problems = validate_frame(table, load_schema(schema_name), str(path))
    raise_problems(problems, f"{what} '{path}'")
    return typed
