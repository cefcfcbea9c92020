"""NanoString stage: RCC files to QC'd lanes and log2 normalized expression, and its QC figures.

Entry points (what ``workflow/scripts/nanostring*.py`` call):

* :func:`process_runs` -- each run of the cohort (:mod:`contexture.nanostring.runs`)
  through :func:`process_cohort`, the tables joined with a ``run`` column (rule ``nanostring``);
* :func:`process_cohort` -- read one run's RCC files (with the sample sheet and RLF when
  given), QC every lane and normalize;
* :func:`qc_figures` -- the stage's QC figures (rule ``nanostring_figures``).

Science: :mod:`contexture.nanostring.normalization` (nSolver QC and normalization,
RUVg); figures: :mod:`contexture.nanostring.figures`; file formats:
:mod:`contexture.io.rcc`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from contexture.errors import InputError
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
from contexture.nanostring.runs import FIRST_RUN

log = logging.getLogger(__name__)
RUN_COLUMN = "run"
PROBE_KEY = ["code_class", "name", "accession"]


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


def parsed_run_folder(parsed: str | os.PathLike, run: str) -> Path:
    """Where rule ``validate_inputs`` leaves a run's parsed RCC set: ``<parsed>/nanostring/<run>``."""
    return Path(parsed) / "nanostring" / run


class RunInput(NamedTuple):
    """One run for :func:`process_runs`: its name and :func:`process_cohort`'s inputs."""

    name: str
    rcc: list = []
    sheet: pd.DataFrame | None = None
    sheet_path: str = ""
    rlf: str | os.PathLike | None = None
    parsed: str | os.PathLike | None = None


def _union(frames: list[pd.DataFrame], key: list[str]) -> pd.DataFrame:
    """Probes (rows, matched on ``key``) x samples of several runs, empty where a run lacks a probe.

    Rows in order of first appearance (the first run's, then each later run's new ones);
    the samples of each run in run order. A run's block is its table unchanged.
    """
    labels = [frame[key].astype(str).agg("\x1f".join, axis=1) if len(key) > 1 else frame[key[0]].astype(str)
              for frame in frames]  # fmt: skip
    order = list(dict.fromkeys(label for run in labels for label in run))
    first = {}
    for frame, run in zip(frames, labels, strict=True):
        for label, row in zip(run, frame[key].itertuples(index=False), strict=True):
            first.setdefault(label, row)
    table = pd.DataFrame([first[label] for label in order], columns=key)
    for frame, run in zip(frames, labels, strict=True):
        values = frame.drop(columns=key).set_axis(run.to_numpy(), axis=0).reindex(order)
        for column in values.columns:
            table[column] = values[column].to_numpy()
    return table


def process_runs(runs: list[RunInput], **options) -> Processed:
    """Each run QC'd and normalized within itself (:func:`process_cohort`), the tables joined.

    ``options`` are :func:`process_cohort`'s QC and normalization options, the same for
    every run. ``lanes`` and ``samples`` gain a ``run`` column (after ``sample_id``), run
    after run. With one run, ``raw_counts`` and ``normalized`` are that run's; with several
    they are the union of the runs' probes (raw counts matched on code class, name and
    accession; normalized genes on ``name``), each run's samples holding exactly the values
    that run gives alone and empty cells for probes their CodeSet lacks
    (:func:`contexture.signatures.expression.split_runs` takes a run's block back out).
    A sample ID in two runs is an :class:`~contexture.errors.InputError`.
    """
    if not runs:
        raise InputError("no NanoString run to process")
    results = []
    for run in runs:
        result = process_cohort(
            run.rcc, run.sheet, sheet_path=run.sheet_path, rlf=run.rlf, parsed=run.parsed, **options
        )
        if len(runs) > 1:
            log.info(
                "run %s: %d lane(s), %d included, %d gene(s) normalized",
                run.name,
                len(result.lanes),
                int(result.lanes["included"].sum()),
                len(result.normalized),
            )
        results.append(result)
    seen: dict[str, str] = {}
    for run, result in zip(runs, results, strict=True):
        for sample in result.samples["sample_id"]:
            if seen.setdefault(sample, run.name) != run.name:
                raise InputError(
                    f"sample ID {sample!r} is in run {seen[sample]!r} and in run {run.name!r}: expected each sample "
                    "ID in one run only"
                )

    def with_run(table: pd.DataFrame, name: str) -> pd.DataFrame:
        table = table.copy()
        table.insert(1, RUN_COLUMN, name)
        return table

    lanes = pd.concat([with_run(r.lanes, run.name) for run, r in zip(runs, results, strict=True)], ignore_index=True)
    samples = pd.concat(
        [with_run(r.samples, run.name) for run, r in zip(runs, results, strict=True)], ignore_index=True
    )
    if len(runs) == 1:
        return Processed(results[0].raw_counts, lanes, results[0].normalized, samples)
    raw_counts = _union([r.raw_counts for r in results], PROBE_KEY)
    counts = raw_counts.columns[len(PROBE_KEY) :]
    raw_counts[counts] = raw_counts[counts].astype("Int64")  # empty where a CodeSet lacks the probe
    normalized = _union([r.normalized for r in results], ["name"])
    return Processed(raw_counts, lanes, normalized, samples)


def run_blocks(table: pd.DataFrame, lanes: pd.DataFrame, key: list[str]) -> dict[str, pd.DataFrame]:
    """Each run's block of a ``raw_counts``/``normalized`` table: its samples, the probes it has.

    ``lanes`` (or ``samples``) gives each sample's run (all one run without a ``run``
    column). A probe is the run's when any of its samples has a value; the block is then
    the run's table as :func:`process_cohort` gave it (integers for counts).
    """
    runs = lanes[RUN_COLUMN].astype(str) if RUN_COLUMN in lanes.columns else pd.Series(FIRST_RUN, index=lanes.index)
    blocks = {}
    for run in dict.fromkeys(runs):
        columns = [s for s in lanes.loc[runs == run, "sample_id"].astype(str) if s in table.columns]
        values = table[columns]
        keep = values.notna().any(axis=1).to_numpy() if columns else np.zeros(len(table), dtype=bool)
        block = table.loc[keep, [*key, *columns]].reset_index(drop=True)
        if "code_class" in key and columns:
            block[columns] = block[columns].astype(np.int64)
        blocks[run] = block
    return blocks


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
    if RUN_COLUMN in lanes.columns and lanes[RUN_COLUMN].nunique() > 1:
        # Several runs: relative log expression is within each run (a gene's median over the
        # run's samples), so each run's genes are rows of their own, named <run>:<gene>.
        raw_blocks, normalized_blocks = (
            run_blocks(raw_counts, lanes, PROBE_KEY),
            run_blocks(normalized, lanes, ["name"]),
        )
        before = pd.concat(
            [
                log2_raw_counts(block, [c for c in normalized_blocks[run].columns[1:]]).assign(
                    name=lambda frame, run=run: run + ":" + frame["name"].astype(str)
                )
                for run, block in raw_blocks.items()
            ],
            ignore_index=True,
        )
        normalized = pd.concat(
            [block.assign(name=run + ":" + block["name"].astype(str)) for run, block in normalized_blocks.items()],
            ignore_index=True,
        )
        before = before[["name", *normalized.columns[1:]]]
    else:
        before = log2_raw_counts(raw_counts, list(normalized.columns[1:]))
    return {
        "binding_density": figures.binding_density_figure(lanes, t.binding_density_min),
        "imaging": figures.imaging_figure(lanes, t.imaging_min_fov_ratio),
        "linearity": figures.positive_linearity_figure(raw_counts, lanes, POSITIVE_CONCENTRATIONS),
        "factors": figures.factors_figure(lanes, t.positive_factor_range, t.housekeeping_factor_range),
        "rle": figures.rle_figure(before, normalized, method),
    }


__all__ = ["Processed", "RunInput", "parsed_run_folder", "process_cohort", "process_runs", "qc_figures", "run_blocks"]
