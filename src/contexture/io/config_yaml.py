"""Strict reading of the workflow's config files: no duplicate keys, no aliases, bounded.

PyYAML's ``safe_load`` lets the last of two equal keys win silently (the YAML 1.2 spec,
§3.2.1.1, says mapping keys are unique, but PyYAML does not enforce it), and expands
aliases lazily, so a "billion laughs" file of nine nested anchors is small on disk and
exponential to walk. A config file is short, hand-written science: it needs neither.
This loader works on PyYAML's composer (the node graph, before any Python object is
built) and refuses, naming the file, the line and the dotted key:

* a key that appears twice in one mapping (both lines are named);
* any anchor (``&name``) or alias (``*name``): refused at the first one, so nothing is
  ever expanded;
* nesting deeper than ``max_depth`` keys (the config schema's own depth), checked before
  the nested node is composed, so deep input cannot exhaust Python's recursion limit;
* a file larger than ``max_bytes``, before it is read.

The pure-Python ``SafeLoader`` is used on purpose: libyaml's C composer cannot be
subclassed, and config files are small.
"""

from __future__ import annotations

__all__ = ["MAX_CONFIG_BYTES", "read_config_yaml"]

import os
from pathlib import Path

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from contexture.errors import ConfigError

# A config of a hundred cohorts is a few tens of kilobytes; 1 MiB is far beyond any
# hand-written config and small enough to read and validate in well under a second.
MAX_CONFIG_BYTES = 1024**2


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, duplicate keys and deep nesting."""

    def __init__(self, stream: str, source: str, max_depth: int) -> None:
        super().__init__(stream)
        self._source = source
        self._max_depth = max_depth
        self._keys: list[str] = []  # dotted path of the node being composed
        self.duplicates: list[str] = []  # every duplicated key, reported together

    def _where(self, mark, keys: list[str]) -> str:
        key = ".".join(keys).replace(".[", "[") or "(top level)"
        return f"config file '{self._source}', line {mark.line + 1}, key '{key}'"

    def compose_node(self, parent, index):
        # ``index`` is the key node for a mapping value, the position for a sequence
        # item, and None for the root and for mapping keys (which add no path level).
        if isinstance(parent, MappingNode) and isinstance(index, ScalarNode):
            label = str(index.value)
        elif isinstance(parent, SequenceNode):
            label = f"[{index}]"
        else:
            label = None
        keys = self._keys + [label] if label is not None else self._keys
        event = self.peek_event()
        if isinstance(event, AliasEvent) or event.anchor is not None:
            raise ConfigError(
                f"{self._where(event.start_mark, keys)}: YAML anchors and aliases "
                f"('&{event.anchor}', '*{event.anchor}') are not allowed in a config; "
                "write the value out in full"
            )
        if label is not None and len(keys) > self._max_depth:
            raise ConfigError(
                f"{self._where(event.start_mark, keys)}: nested {len(keys)} levels deep; "
                f"the config schema allows at most {self._max_depth}"
            )
        if label is None:
            return super().compose_node(parent, index)
        self._keys.append(label)
        try:
            return super().compose_node(parent, index)
        finally:
            self._keys.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_line: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    path = ".".join([*self._keys, str(key_node.value)]).replace(".[", "[")
                    self.duplicates.append(f"key '{path}' is given twice (lines {first_line[key]} and {line})")
                else:
                    first_line[key] = line
        return node


def read_config_yaml(path: str | os.PathLike, *, max_depth: int, max_bytes: int = MAX_CONFIG_BYTES) -> object:
    """Read one config file (YAML, or JSON, which YAML reads) strictly; see the module doc.

    Raises :class:`ConfigError` naming the file (and the line and key where there is one).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist (or is not a file).")
    size = path.stat().st_size
    if size > max_bytes:
        raise ConfigError(
            f"config file '{path}' is {size} bytes; a config is refused over {max_bytes} bytes "
            "(it lists cohorts and options, not data)"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file '{path}' could not be read as UTF-8 text: {error}") from None
    loader = _StrictLoader(text, str(path), max_depth)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        raise ConfigError(f"config file '{path}' is not valid YAML: {error}") from None
    finally:
        loader.dispose()
    if loader.duplicates:
        lines = "\n".join(f"  - {problem}" for problem in loader.duplicates)
        raise ConfigError(
            f"config file '{path}' gives {len(loader.duplicates)} key(s) twice; YAML would silently "
            f"keep only the last of each, so keep one:\n{lines}"
        )
    return data
