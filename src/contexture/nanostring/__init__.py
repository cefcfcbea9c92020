"""NanoString stage: RCC files to QC'd lanes and log2 normalized expression, and its QC figures.

Entry points (what ``workflow/scripts/nanostring*.py`` call):

* :func:`process_cohort` -- read the RCC files (with the sample sheet and RLF when
  given), QC every lane and normalize (rule ``nanostring``);
* :func:`qc_figures` -- the stage's QC figures (rule ``nanostring_figures``).

Science: :mod:`contexture.nanostring.normalization` (nSolver QC and normalization,
RUVg); figures: :mod:`contexture.nanostring.figures`; file formats:
:mod:`contexture.io.rcc`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from contexture.io.rcc import (
    POSITIVE_CONCENTRATIONS,
    check_rlf,
    find_rcc_files,
    read_rcc_files,
    read_rcc_set,
)
from contexture.nanostring.normalization import (
    QCThresholds,
    assign_samples,
    log2_raw_counts,
    process,
    samples_table,
)


class Processed(NamedTuple):
    """The tables of rule ``nanostring``."""

    raw_counts: pd.DataFrame
    lanes: pd.DataFrame
    normalized: pd.DataFrame
    samples: pd.DataFrame


def process_cohort(
    rcc: list[str | os.PathLike],
    sheet: pd.DataFrame | None = None,
    *,
    sheet_path: str = "",
    rlf: str | os.PathLike | None = None,
    parsed: str | os.PathLike | None = None,
    qc: dict | None = None,
    exclude_failed: bool = True,
    method: str = "nsolver",
    housekeeping: list[str] | None = None,
    background: str = "none",
    background_mode: str = "subtract",
    ruv_k: int = 1,
) -> Processed:
    """Raw counts, lanes (QC, factors), normalized matrix and sample table of a cohort's RCC files.

    ``rcc`` is one folder (its RCC files, :func:`contexture.io.rcc.find_rcc_files`) or
    the files themselves (sorted). ``sheet`` (validated, read from ``sheet_path``) maps
    files to samples, patients and timepoints; without it sample ids are the file
    names. With ``rlf`` the files' CodeSet must be the RLF's. ``parsed`` instead of
    ``rcc``: the folder rule ``validate_inputs`` wrote (:func:`contexture.io.rcc.write_rcc_set`),
    the files already parsed and checked (RLF included), so none is read again; the
    result is identical. The rest are the ``nanostring`` config options of
    :func:`contexture.nanostring.normalization.process`.
    """
    if parsed is not None:
        by_path = read_rcc_set(parsed)
    else:
        rcc = list(rcc)
        files = find_rcc_files(rcc[0]) if len(rcc) == 1 and Path(rcc[0]).is_dir() else sorted(Path(p) for p in rcc)
        by_path = read_rcc_files(files, [str(f) for f in files])
        if rlf is not None:
            check_rlf(rlf, by_path)
    # Files to samples (a PlexSet lane is eight): the sheet's IDs, or the file names.
    rccs, samples = assign_samples(by_path, sheet, sheet_path)
    result = process(
        rccs.probes,
        rccs.counts,
        rccs.lanes,
        thresholds=QCThresholds.from_config(qc),
        exclude_failed=exclude_failed,
        method=method,
        housekeeping=housekeeping,
        background=background,
        background_mode=background_mode,
        ruv_k=ruv_k,
    )
    return Processed(result.raw_counts, result.lanes, result.normalized, samples_table(samples, result.lanes))


def qc_figures(
    lanes: pd.DataFrame, raw_counts: pd.DataFrame, normalized: pd.DataFrame, *, qc: dict | None, method: str
):
    """``{name: (figure, source)}`` of the QC figures: binding density, imaging, linearity, factors, RLE.

    Tables as the ``nanostring`` rule writes them; ``qc`` the thresholds drawn
    (:class:`~contexture.nanostring.normalization.QCThresholds`), ``method`` the
    normalization named in the RLE panel. RLE compares the log2 raw counts of the
    normalized samples (:func:`~contexture.nanostring.normalization.log2_raw_counts`)
    with the normalized values.
    """
    from contexture.nanostring import figures  # matplotlib: not for validation's import of this package

    t = QCThresholds.from_config(qc)
    before = log2_raw_counts(raw_counts, list(normalized.columns[1:]))
    return {
        "binding_density": figures.binding_density_figure(lanes, t.binding_density_min),
        "imaging": figures.imaging_figure(lanes, t.imaging_min_fov_ratio),
        "linearity": figures.positive_linearity_figure(raw_counts, lanes, POSITIVE_CONCENTRATIONS),
        "factors": figures.factors_figure(lanes, t.positive_factor_range, t.housekeeping_factor_range),
        "rle": figures.rle_figure(before, normalized, method),
    }


__all__ = ["Processed", "process_cohort", "qc_figures"]
