"""Every module of the package lists its public names in ``__all__``, and they exist.

Public names are what other modules, the workflow's scripts and rules, and docs/api.md
import from a module, plus the functions and classes it defines without a leading
underscore (docs/decisions.md, issue 20).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import pytest

import contexture
from tests.conftest import REPO

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(contexture.__path__, prefix="contexture.") if info.name != "__main__"
)


def _imports_from_contexture() -> dict[str, set[str]]:
    """``{module: names}`` that src/, workflow/ and docs/api.md import with ``from module import ...``."""
    found: dict[str, set[str]] = {}
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "workflow" / "scripts").glob("*.py")]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("contexture"):
                found.setdefault(node.module, set()).update(alias.name for alias in node.names)
    texts = [*(REPO / "workflow").rglob("*.smk"), REPO / "docs" / "api.md"]
    for text in texts:
        for match in re.finditer(r"^\s*from (contexture[\w.]*) import ([\w, ]+)$", text.read_text(), re.MULTILINE):
            found.setdefault(match.group(1), set()).update(n.strip() for n in match.group(2).split(","))
    return found


def test_module_list_is_the_package():
    assert len(MODULES) > 80 and "contexture.stats.survival" in MODULES and "contexture.package_data" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_has_all_and_every_name_is_defined(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list), f"{name}: __all__ is not a list"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}: __all__ lists a name twice"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == [], f"{name}: __all__ names what it does not define: {missing}"


def test_every_name_imported_from_a_module_is_in_its_all():
    """A name src/, workflow/ or docs/api.md imports from a module is public there."""
    problems = []
    for name, imported in sorted(_imports_from_contexture().items()):
        module = importlib.import_module(name)
        if not hasattr(module, "__all__"):
            continue  # the test above fails a module without __all__
        for symbol in sorted(imported):
            submodule = f"{name}.{symbol}" in MODULES
            if not symbol.startswith("_") and not submodule and symbol not in module.__all__:
                problems.append(f"{name}.{symbol}")
    assert problems == [], f"imported but not in __all__: {problems}"
