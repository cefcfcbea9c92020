"""Names a stage package re-exports from its submodules, imported when first used (PEP 562).

A stage package's ``__init__`` holds its entry points, and its submodules pull in heavy
libraries: matplotlib for figures, scikit-learn for the classifier, scipy.stats,
nibabel/pydicom/scikit-image for PET. Imported eagerly, every Snakemake job paid for all
of them (the survival job imported the response classifier and its figures), and so did
the workflow's DAG building, which needs only light helpers such as
``contexture.ihc.slides.slide_files``: the no-op rerun spent 4 of its 11 profiled
seconds importing scipy.stats and matplotlib. So ``__init__`` modules import their
submodules inside the entry points, and re-export names through :func:`lazy_exports`,
which imports a submodule the first time one of its names is asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a public name
    to the submodule that defines it. Use as ``__getattr__, __dir__ = lazy_exports(__name__,
    {...})``. Submodules themselves need no entry: ``from package import submodule``
    imports them."""

    def __getattr__(name: str) -> object:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
