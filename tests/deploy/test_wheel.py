"""The package works installed: a wheel built from this checkout, installed into a fresh
virtual environment, finds its schemas and signatures and runs a stage, with the
checkout's ``src/`` nowhere on its path.

The build is offline (``--no-build-isolation --no-index``): it uses the setuptools of the
environment running the tests, pinned in requirements.lock. The fresh environment gets the
wheel only; its third-party dependencies (pandas, lifelines, ...) come from this
interpreter's own directories, listed in a ``.pth`` file, minus every directory that holds
a ``contexture`` package (the checkout's ``src/``, an editable install's path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.deploy

PACKAGE = REPO / "src" / "contexture"
DATA_DIRS = ("schemas", "resources")
MINIMUM_SETUPTOOLS = 77  # PEP 639 licence string (pyproject: license = "MIT")

# Runs inside the fresh environment, from an empty folder; prints one JSON object.
PROBE = r"""
import json, sys
from importlib.resources import files
from pathlib import Path

import pandas as pd

import contexture
from contexture.clinical.follow_up import derive_follow_up
from contexture.config import validate_config
from contexture.io.validation import read_validated_table
from contexture.signatures.scores import read_signature, score_signature, signature_path
from contexture.survival import analyse_cohort

repo = Path(sys.argv[1]).resolve()
root = files("contexture")
shipped = sorted(
    str(path.relative_to(root)) for folder in ("schemas", "resources") for path in (root / folder).rglob("*")
    if path.is_file()
)

# One clinical table (months x 30.4375 days: exact in binary), read through its schema.
months, events = [2, 3, 3, 5, 8, 12], [1, 1, 0, 1, 0, 1]
dmmr = ["true", "true", "false", "true", "false", "false"]
rows = "".join(f"P{i}\t{m * 30.4375}\t{e}\t{d}\n" for i, (m, e, d) in enumerate(zip(months, events, dmmr), 1))
Path("clinical.tsv").write_text("patient_id\tos_days\tos_event\tdmmr\n" + rows)
config = validate_config({"cohorts": {"trial": {"clinical": "clinical.tsv"}}})  # defaults from the schemas
patients = derive_follow_up(read_validated_table("clinical.tsv", "tables/clinical"))
tables = analyse_cohort(patients, {**config["cohorts"]["trial"]["survival"], "endpoints": ["os"]})
km = tables["km"].set_index(["stratifier", "group"])
logrank = tables["logrank"].set_index("stratifier")

cyt = read_signature(signature_path("cyt"))
expression = pd.DataFrame({"S1": [4.0, 2.0, 9.0], "S2": [6.0, 8.0, 1.0]}, index=["GZMA", "PRF1", "CD8A"])
scores, coverage = score_signature(expression, cyt)

print(json.dumps({
    "module": str(Path(contexture.__file__).resolve()),
    "checkout_on_path": [p for p in sys.path if Path(p or ".").resolve() in (repo, repo / "src")],
    "files_type": type(root).__name__,
    "shipped": shipped,
    "survival_defaults": sorted(config["cohorts"]["trial"]["survival"]),
    "median_all": float(km.loc[("all", "all"), "median_months"]),
    "surv_6m_all": float(km.loc[("all", "all"), "surv_6m"]),
    "n_all": int(km.loc[("all", "all"), "n"]),
    "logrank_dmmr": float(logrank.loc["dmmr", "statistic"]),
    "cyt_genes": list(cyt.genes),
    "cyt_scores": scores.round(12).to_dict(),
}))
"""


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except PackageNotFoundError:
        return 0


def _dependency_dirs() -> list[str]:
    """This interpreter's import directories, minus any holding a ``contexture`` package."""
    stdlib = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")}
    kept = []
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if not path.is_dir() or path == REPO or path in stdlib or (path / "contexture").exists():
            continue
        kept.append(str(path))
    return kept


def _shipped_in_checkout() -> set[str]:
    return {
        str(path.relative_to(PACKAGE))
        for folder in DATA_DIRS
        for path in (PACKAGE / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built offline from a copy of the checkout (the build writes build/ and egg-info)."""
    if _setuptools_major() < MINIMUM_SETUPTOOLS:
        pytest.skip(
            f"the offline wheel build needs setuptools>={MINIMUM_SETUPTOOLS} in this environment "
            f"(requirements.lock pins it; found {version('setuptools') if _setuptools_major() else 'none'}): run make"
        )
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run([*command, "-w", str(root / "dist"), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = (root / "dist").glob("contexture-*.whl")
    return built


def test_wheel_holds_every_module_schema_and_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {
        name.removeprefix("contexture/")
        for name in names
        if name.startswith(("contexture/schemas/", "contexture/resources/"))
    }
    assert data == _shipped_in_checkout()
    assert len([n for n in data if n.startswith("schemas/")]) == len(list((PACKAGE / "schemas").rglob("*.schema.yaml")))
    modules = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)


def test_installed_wheel_finds_its_data_and_runs_a_stage(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    result = subprocess.run(install, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    purelib = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "contexture_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    work = tmp_path / "run"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    environment["MPLBACKEND"] = "Agg"
    run = subprocess.run(
        [str(python), "-I", "-c", PROBE, str(REPO)], capture_output=True, text=True, cwd=work, env=environment
    )
    assert run.returncode == 0, run.stderr[-4000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])

    # The installed copy ran, not the checkout.
    assert Path(found["module"]).is_relative_to(Path(purelib).resolve()), found["module"]
    assert found["checkout_on_path"] == []
    # importlib.resources finds every schema and resource file in the installed package.
    assert found["files_type"] == "PosixPath"
    assert set(found["shipped"]) == _shipped_in_checkout()
    assert "conf_level" in found["survival_defaults"]  # config defaults filled from cohort/survival.schema.yaml
    # KM by hand: S(2) = 5/6, S(3) = 5/6 * 4/5 = 2/3, S(5) = 2/3 * 2/3 = 4/9 (held at 6 months), median 5.
    assert found["n_all"] == 6
    assert found["median_all"] == 5.0
    assert found["surv_6m_all"] == pytest.approx(4 / 9, abs=1e-12)
    # Log-rank dMMR (P1, P2, P4: deaths at 2, 3, 5) vs pMMR (censored 3, 8; death 12), by hand:
    # O - E = 3 - (3/6 + 2/5 + 1/3) = 53/30; V = 9/36 + 24/100 + 4/18 = 641/900; chi2 = 2809/641.
    assert found["logrank_dmmr"] == pytest.approx(2809 / 641, rel=1e-9)
    # The shipped signature is the YAML's gene list; CYT = mean of log2 GZMA and PRF1.
    assert (
        found["cyt_genes"] == yaml.safe_load((PACKAGE / "resources" / "signatures" / "cyt.yaml").read_text())["genes"]
    )
    assert found["cyt_scores"] == {"S1": 3.0, "S2": 7.0}
