"""Publishing: the provenance manifest, the methods text and the citable figure bundle.

The bundle (``results/{cohort}/bundle/`` and ``{cohort}_bundle.zip``) holds every table
and figure of a cohort (with the figures' PDF and source data), a methods text generated
from the config and the run, and ``manifest.json``: the cohort's config as run, the
SHA-256 of every input file, package versions, the git commit and the date. Rebuilding
from the same inputs gives the same bundle contents: tables are byte-identical, the zip
has fixed timestamps and sorted entries, and the manifest differs only in its date.
"""

from __future__ import annotations

__all__ = [
    "build_bundle",
    "companions",
    "git_commit",
    "input_files",
    "manifest",
    "methods_text",
    "package_versions",
    "referenced_files",
]

import datetime as dt
import glob
import importlib.metadata
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from contexture.errors import InputError
from contexture.io import atomic_path, read_input_table, sha256_file
from contexture.report import publication

# Packages whose versions go into the manifest and the methods text.
PACKAGES = (
    "contexture",
    "snakemake",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "pydicom",
    "nibabel",
    "pyyaml",
    "jsonschema",
)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # earliest zip timestamp: fixed so zips are reproducible


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` when absent)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(repository: str | os.PathLike) -> str:
    """The workflow checkout's commit (with ``-dirty`` if it has local changes), or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repository), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repository), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def input_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Every file under the given paths (folders walked, globs expanded), sorted, unique.

    Sample sheets (``.tsv``/``.csv``) also contribute the files their cells name
    (resolved from the sheet's folder), so images, masks and exports are checksummed too.
    """
    found: set[Path] = set()
    for entry in paths:
        for match in map(Path, sorted(glob.glob(str(entry), recursive=True))):
            if match.is_dir():
                found.update(p for p in match.rglob("*") if p.is_file())
            elif match.is_file():
                found.add(match)
                if match.suffix in (".tsv", ".csv"):
                    found.update(referenced_files(match))
    return sorted(found)


def referenced_files(sheet: Path) -> set[Path]:
    """Files named in a sheet's cells, relative to the sheet's folder or absolute."""
    files: set[Path] = set()
    try:
        table = read_input_table(sheet)
    except InputError:
        return files
    for value in pd.unique(table.to_numpy().ravel()):
        if not isinstance(value, str) or not value or len(value) > 4096:
            continue
        candidate = sheet.parent / value
        if candidate.is_file():
            files.add(candidate)
        elif candidate.is_dir():
            files.update(p for p in candidate.rglob("*") if p.is_file())
    return files


def manifest(
    cohort: str,
    cohort_config: dict,
    inputs: Iterable[str | os.PathLike],
    repository: str | os.PathLike,
    today: dt.date | None = None,
) -> dict:
    """The provenance manifest of a cohort's run (see module docstring)."""
    files = input_files(inputs)
    return {
        "cohort": cohort,
        "date": (today or dt.date.today()).isoformat(),
        "config": cohort_config,
        "inputs": [{"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size} for path in files],
        "packages": package_versions(),
        "git_commit": git_commit(repository),
    }


def companions(path: Path) -> list[Path]:
    """A figure's PDF and source data beside its PNG (those that exist)."""
    if path.suffix != ".png":
        return []
    return [p for p in (path.with_suffix(".pdf"), path.with_name(path.stem + ".source.tsv")) if p.exists()]


def build_bundle(
    cohort_dir: Path,
    outputs: Iterable[str | os.PathLike],
    bundle_dir: Path,
    zip_path: Path,
    manifest_data: dict,
    methods: str,
) -> list[str]:
    """Copy outputs (and figure companions) into ``bundle_dir``, add the manifest, methods,
    figure legends, data dictionary and README (:mod:`contexture.report.publication`), zip it.

    Paths inside the bundle are relative to ``results/{cohort}/``. Returns the bundle's
    member names, sorted.
    """
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    bundle_dir.mkdir(parents=True)
    members: dict[str, Path] = {}
    for output in outputs:
        output = Path(output)
        for path in [output, *companions(output)]:
            members[path.relative_to(cohort_dir).as_posix()] = path
    for name, path in members.items():
        target = bundle_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest_data, indent=2, sort_keys=True) + "\n")
    (bundle_dir / "methods.md").write_text(methods)
    shipped = sorted(members)
    (bundle_dir / "LEGENDS.md").write_text(publication.legends_markdown(cohort_dir, shipped))
    (bundle_dir / "DATA_DICTIONARY.md").write_text(publication.data_dictionary_markdown(cohort_dir, shipped))
    (bundle_dir / "README.md").write_text(publication.bundle_readme(manifest_data["cohort"], manifest_data, shipped))
    names = sorted(p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file())
    with atomic_path(zip_path) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(f"{zip_path.stem}/{name}", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (bundle_dir / name).read_bytes())
    return names


def methods_text(cohort: str, cohort_config: dict, versions: dict[str, str], paragraphs: Iterable[str]) -> str:
    """The methods section of a cohort's run, as Markdown.

    ``paragraphs`` are the stage paragraphs (:mod:`contexture.report.methods`), already filled
    from the config and the run's outputs; this adds the data source and the software.
    """
    source = (
        f"Simulated cohort of {cohort_config['simulate']['patients']} patients (contexture.simulate, "
        f"seed {cohort_config['simulate']['seed']}), calibrated to the 89ZED88082A CD8-PET study "
        "(Kist de Ruijter et al., Nat Med 2022)."
        if "simulate" in cohort_config
        else "Raw data as listed, with SHA-256 checksums, in manifest.json."
    )
    software = ", ".join(f"{name} {version}" for name, version in versions.items())
    body = "\n\n".join(p.strip() for p in paragraphs if p and p.strip())
    return (
        f"# Methods: cohort {cohort}\n\n{source}\n\n{body}\n\n"
        f"## Software\n\nAnalyses were run with the contexture workflow (Snakemake) using {software}.\n"
    )
