"""Files shipped inside the package: schemas, signatures, gene lists and the demo panel.

They live under ``src/contexture/schemas/`` and ``src/contexture/resources/`` and are
found through :func:`importlib.resources.files`, so an installed wheel holds them and
finds them exactly as a checkout does; the Snakemake workflow reads the same files
through this module (one copy, never a second one under ``workflow/``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from contexture.errors import ContextureError

__all__ = ["package_path"]


def package_path(*parts: str) -> Path:
    """The file-system path of ``parts`` inside the installed ``contexture`` package.

    ``package_path("schemas", "tables", "clinical.schema.yaml")``. The workflow passes
    these paths to Snakemake and to readers that need a real file, so a package that
    :mod:`importlib.resources` can only reach inside an archive (a zip import) is refused
    by name rather than read through a temporary copy that a rule input would outlive.
    """
    root = files("contexture")
    if not isinstance(root, Path):
        raise ContextureError(
            f"contexture's package data is not on the file system ({root!r}); "
            "install contexture unpacked (pip install, not a zip import)"
        )
    return root.joinpath(*parts)
