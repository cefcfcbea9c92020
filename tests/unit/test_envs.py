"""The per-stage conda environments (envs/*.yaml) would work: pins, no pip, every import covered.

No conda runs here (nor in CI), so this is a static check, stated as such in README.md:

* every dependency is a conda-forge name pinned to exactly the version of
  requirements.lock (the versions the tests run with), and python is pinned;
* no ``pip:`` section: Snakemake copies an env file under ``.snakemake/conda/`` before
  creating it, so a relative ``-e ..`` would not point at this repository, and pip would
  pull unpinned dependencies. The package itself is imported from the workflow's own
  ``src/`` (workflow/Snakefile puts it on the jobs' PYTHONPATH under conda);
* every third-party module a rule's script imports, directly or through the
  ``contexture`` modules it imports (followed transitively by their ``import``
  statements), is provided by that rule's environment.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
# conda-forge name of each import name whose distribution is named otherwise
CONDA_NAME = {"yaml": "pyyaml", "sklearn": "scikit-learn", "skimage": "scikit-image", "isal": "python-isal"}
# PyPI name (requirements.lock) of each conda-forge package named otherwise
LOCK_NAME = {"python-isal": "isal"}
# distributions pulled in by another pinned one, or the interpreter's own
PROVIDED = {"snakemake"}  # the preamble of a Snakemake script job imports it from the host


def lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def env_dependencies(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    deps = {}
    for entry in env["dependencies"]:
        assert isinstance(entry, str), f"{path.name}: {entry!r} (a pip section cannot work, see module docstring)"
        name, _, version = entry.partition("=")
        deps[name] = version
    return deps


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_match_requirements_lock(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge" and "nodefaults" in env["channels"]
    deps = env_dependencies(path)
    pins = lock()
    assert deps.pop("python") == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert deps, path.name
    for name, version in deps.items():
        locked = LOCK_NAME.get(name, name)
        assert locked in pins, f"{path.name}: {name} is not in requirements.lock"
        assert version == pins[locked], f"{path.name}: {name}={version}, requirements.lock has {pins[locked]}"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_file(name: str) -> Path | None:
    base = REPO / "src" / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules reachable from ``script`` through contexture's imports."""
    seen: set[Path] = set()
    todo = [script]
    found: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "contexture":
                # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
                parts = name.split(".")
                for depth in range(1, len(parts) + 1):
                    module = _module_file(".".join(parts[:depth]))
                    if module is not None:
                        todo.append(module)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return found


def rule_envs() -> list[tuple[str, str, Path]]:
    """(rule, env file, script) of every rule with a conda env and a script."""
    rules = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":")[0].strip()
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/([\w.]+)"', block)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', block)
            if env and script:
                rules.append((name, env.group(1), REPO / "workflow" / "scripts" / script.group(1)))
    return rules


def test_every_rule_with_a_script_has_an_env():
    names = {rule for rule, _, _ in rule_envs()}
    assert len(names) >= 20 and "survival" in names and "pet_quantify" in names


@pytest.mark.parametrize("rule,env,script", rule_envs(), ids=lambda v: v if isinstance(v, str) else "")
def test_env_provides_every_import_of_its_rule(rule, env, script):
    deps = set(env_dependencies(REPO / "envs" / env)) | PROVIDED
    missing = {CONDA_NAME.get(top, top) for top in third_party_imports(script)} - deps
    assert not missing, f"rule {rule}: envs/{env} lacks {sorted(missing)}"
