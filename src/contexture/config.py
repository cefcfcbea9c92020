"""Validation of the workflow configuration (config/config.yaml).

The schema is JSON Schema draft 2020-12 with ``additionalProperties: false`` at every
level, so a typo such as ``nanostrng:`` stops the run naming the key. It is assembled
from ``src/contexture/schemas/config.schema.yaml`` (top level and cohort basics) and one file
per cohort section in ``src/contexture/schemas/cohort/<section>.schema.yaml`` (each stage
owns the file describing its inputs and options). Defaults declared in the schema are
filled in, nested objects included (``default: {}`` on an object lets its children's
defaults apply), following the jsonschema documentation's "extend with default" recipe.
"""

from __future__ import annotations

__all__ = [
    "INPUT_KEYS",
    "check_results_folder",
    "cohort_modalities",
    "config_schema",
    "declared_inputs",
    "read_config_files",
    "schema_depth",
    "schema_markdown",
    "tables_markdown",
    "validate_config",
]

import copy
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from jsonschema import Draft202012Validator, validators

from contexture.errors import ConfigError, ContextureError
from contexture.io import read_yaml
from contexture.io.config_yaml import read_config_yaml
from contexture.io.validation import SCHEMA_DIR
from contexture.modalities import MODALITIES


def config_schema(schema_dir: Path = SCHEMA_DIR) -> dict:
    """Return the full config schema, cohort sections stitched in from their own files."""
    schema = copy.deepcopy(read_yaml(schema_dir / "config.schema.yaml"))
    cohort = schema["$defs"]["cohort"]
    for path in sorted((schema_dir / "cohort").glob("*.schema.yaml")):
        section = path.name.removesuffix(".schema.yaml")
        if section in cohort["properties"]:
            raise ConfigError(f"cohort section '{section}' is defined twice ({path})")
        cohort["properties"][section] = read_yaml(path)
    return schema


def schema_depth(schema: dict, root: dict | None = None, refs: tuple[str, ...] = ()) -> float:
    """The longest key path (keys and list positions) an instance valid under ``schema`` can have.

    Follows ``properties``, ``additionalProperties``, ``patternProperties``, ``items``,
    the combinators and local ``$ref`` (``#/...``). An object without
    ``additionalProperties: false`` or an array without ``items`` admits any nesting and
    gives ``inf``; so does a recursive ``$ref``.
    """
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return 0
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in refs:
            return math.inf
        target = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return schema_depth(target, root, (*refs, ref))
    depth = 0.0
    for keyword in ("allOf", "anyOf", "oneOf"):
        for alternative in schema.get(keyword, []):
            depth = max(depth, schema_depth(alternative, root, refs))
    for keyword in ("then", "else"):
        if keyword in schema:
            depth = max(depth, schema_depth(schema[keyword], root, refs))
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    children = [*schema.get("properties", {}).values(), *schema.get("patternProperties", {}).values()]
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        children.append(extra)
    elif extra is None and "object" in types:
        return math.inf
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    elif "items" not in schema and "array" in types:
        return math.inf
    for child in children:
        depth = max(depth, 1 + schema_depth(child, root, refs))
    return depth


def read_config_files(paths: Iterable[str | os.PathLike], schema_dir: Path = SCHEMA_DIR) -> None:
    """Re-read every config file Snakemake was given, strictly (:mod:`contexture.io.config_yaml`).

    Snakemake's own loader lets a repeated key win silently and expands aliases; this
    refuses both, files over the size limit, and nesting deeper than the schema allows,
    before :func:`validate_config` walks the merged config. Raises :class:`ConfigError`.
    """
    # The schema is closed at every level (a unit test checks it is finite); the cap
    # only guards against a schema edit that opens one.
    depth = int(min(schema_depth(config_schema(schema_dir)), 64))
    for path in paths:
        read_config_yaml(path, max_depth=depth)


def check_results_folder(folder: str | os.PathLike, cohorts: Iterable[str]) -> None:
    """Refuse a results folder this run cannot write, naming it, before any job starts.

    Checks ``folder``, each ``folder/<cohort>`` and their stage subfolders where they
    exist, and the nearest existing parent where they do not (``os.access``, so a
    read-only mount is refused as well as missing permissions).
    """
    folder = Path(folder)
    existing = [folder] if folder.exists() else []
    for cohort in cohorts:
        path = folder / cohort
        if path.exists():
            existing.append(path)
        if path.is_dir():
            existing += [Path(entry.path) for entry in os.scandir(path) if entry.is_dir()]
    if not folder.exists():
        parent = next(p for p in folder.absolute().parents if p.exists())
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ContextureError(f"cannot create the results folder '{folder}': '{parent}' is not writable")
    for path in existing:
        if not path.is_dir():
            raise ContextureError(f"the results folder '{path}' is a file, not a folder: move it away")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ContextureError(f"the results folder '{path}' is not writable: fix its permissions")


def _extend_with_default(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema) -> Iterator:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_FillingValidator = _extend_with_default(Draft202012Validator)


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _message(error) -> str:
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(known))
        return f"{_path(error)}: unknown key(s) {unexpected}; allowed keys here are {known}"
    return f"{_path(error)}: {error.message}"


def validate_config(config: dict, schema_dir: Path = SCHEMA_DIR) -> dict:
    """Validate ``config`` in place, fill schema defaults, and return it.

    Raises :class:`ConfigError` listing every problem, each with its dotted key path.
    """
    if not isinstance(config, dict):
        raise ConfigError("the config must be a mapping with a 'cohorts' key")
    schema = config_schema(schema_dir)
    validator = _FillingValidator(schema)
    # Fill defaults first (jsonschema fills as it walks), then collect every error.
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = "\n".join(f"  - {_message(e)}" for e in errors)
        raise ConfigError(f"config is invalid ({len(errors)} problem(s)):\n{lines}")
    for name, cohort in config["cohorts"].items():
        declared = declared_inputs(cohort)
        if "simulate" in cohort and declared:
            raise ConfigError(
                f"cohorts.{name}: declare either 'simulate' or input files, not both (found inputs for {sorted(declared)})"
            )
        if "simulate" not in cohort and not declared:
            raise ConfigError(
                f"cohorts.{name}: no inputs; declare 'simulate' or at least one of {', '.join(INPUT_KEYS)}"
            )
        from contexture.survival.analysis import post_baseline_problems

        problems = post_baseline_problems(cohort.get("survival", {}))
        if problems:
            raise ConfigError(f"cohorts.{name}: " + "\n  ".join(problems))
    return config


# Where each modality's input files are declared in a cohort: a path-valued cohort key
# (None) or the keys of its section whose presence declares it; every other key is an
# option. Derived from the one table of modalities (contexture.modalities).
INPUT_KEYS: dict[str, tuple[str, ...] | None] = {
    modality.name: None if modality.path_valued else modality.declaring_keys for modality in MODALITIES
}


def declared_inputs(cohort: dict) -> set[str]:
    """The modalities whose input files a (real) cohort declares."""
    return {modality.name for modality in MODALITIES if modality.is_declared(cohort)}


def cohort_modalities(cohort: dict) -> set[str]:
    """The modalities a cohort has: declared inputs, or what its simulator writes."""
    if "simulate" in cohort:
        return set(cohort["simulate"]["modalities"])
    return declared_inputs(cohort)


def _kind(sub: dict) -> str:
    """A key's type as config/README.md shows it (enum values, list item types, alternatives)."""
    if "oneOf" in sub or "anyOf" in sub:
        return " or ".join(_kind(option) for option in sub.get("oneOf", sub.get("anyOf")))
    if "enum" in sub:
        return " \\| ".join(str(v) for v in sub["enum"])
    if sub.get("type") == "array" and "items" in sub:
        items = sub["items"]
        return "list of " + (
            " \\| ".join(map(str, items["enum"])) if "enum" in items else str(items.get("type", "items"))
        )
    kind = sub.get("type", "")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _rows(schema: dict, prefix: str) -> list[tuple[str, str, str, str]]:
    """Flatten a schema into (key, type, default, description) rows, depth first."""
    rows = []
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        kind = _kind(sub)
        default = sub.get("default", "")
        default = "" if default == {} and sub.get("type") == "object" else f"`{default}`" if default != "" else ""
        description = " ".join(str(sub.get("description", "")).split())
        if sub.get("type") == "object" and "properties" in sub:
            rows.append((key, "section", "", description))
            rows.extend(_rows(sub, key))
        else:
            rows.append((key, str(kind), default, description))
    return rows


def schema_markdown(schema_dir: Path = SCHEMA_DIR) -> str:
    """Markdown tables of every cohort key (from the schemas), for config/README.md."""
    cohort = config_schema(schema_dir)["$defs"]["cohort"]
    parts = []
    for section, sub in cohort["properties"].items():
        parts.append(f"### `{section}`\n")
        description = " ".join(str(sub.get("description", "")).split())
        if description:
            parts.append(description + "\n")
        default = f"`{sub['default']}`" if "default" in sub else ""
        rows = _rows(sub, section) if "properties" in sub else [(section, _kind(sub), default, description)]
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        parts.extend(f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in rows)
        parts.append("")
    return "\n".join(parts)


def _column_type(spec: dict) -> str:
    """A column's type as config/README.md shows it: the enum's values, else the JSON type."""
    values = [v for v in spec.get("enum", []) if v is not None]
    if values:
        return " \\| ".join(f"`{v}`" for v in values)
    types = [t for t in ([spec["type"]] if isinstance(spec.get("type"), str) else spec.get("type", ["string"]))]
    return " or ".join(t for t in types if t != "null")


def _column_required(name: str, schema: dict) -> str:
    if name in schema.get("required", []):
        return "yes"
    for group in schema.get("x-required-together", []):
        if name in group:
            return "with " + ", ".join(f"`{c}`" for c in group if c != name)
    return "no"


def tables_markdown(schema_dir: Path = SCHEMA_DIR) -> str:
    """Markdown tables of every input table's columns (``src/contexture/schemas/tables/``), for config/README.md."""
    parts = []
    for path in sorted((schema_dir / "tables").glob("*.schema.yaml")):
        schema = read_yaml(path)
        name = path.name.removesuffix(".schema.yaml")
        parts.append(f"### {schema.get('title', name)} (`tables/{name}`)\n")
        description = " ".join(str(schema.get("description", "")).split())
        if description:
            parts.append(description + "\n")
        parts.append("| column | type | required | meaning |\n|---|---|---|---|")
        for column, spec in schema.get("properties", {}).items():
            meaning = " ".join(str(spec.get("description", "")).split())
            parts.append(f"| `{column}` | {_column_type(spec)} | {_column_required(column, schema)} | {meaning} |")
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    import sys

    print(tables_markdown() if sys.argv[1:] == ["tables"] else schema_markdown(), end="")
