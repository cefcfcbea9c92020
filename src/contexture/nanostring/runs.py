"""The runs of a cohort's NanoString section: one or several RCC sets, one CodeSet each.

A cohort declares its RCC files either as one set (``nanostring: {rcc, samples, rlf}``,
one run) or as several (``nanostring: {runs: [{name, rcc, samples, rlf}, ...]}``), e.g.
baseline biopsies profiled on two custom panels and PanCancer IO 360 as in ZUMA-1
(Scholler et al., Nat Med 2022). Each run is read, QC'd and normalized within itself
(positive-control and housekeeping factors are relative to the run's own lanes; probes
of two CodeSets cannot share one reference), and each run's signature scores are
computed on the genes it carries.

Run names: the run's ``name``, else ``run<i>`` (1-based position in the list; the one set
of the single form is ``run1``). Names are known when the workflow is parsed, so they can
name the run's parsed folder and appear in every table (``run`` column) without reading
a file. Names must be unique; a sample ID in two runs is refused at validation
(:func:`contexture.nanostring.checks.check_nanostring_runs`), while one patient and
timepoint in two runs is the design (baseline on two panels) and allowed.
"""

from __future__ import annotations

from contexture.errors import ConfigError

# The keys of one run (in the single form, of the section itself).
RUN_INPUTS = ("rcc", "samples", "rlf")
# The run of a simulated cohort and of the single form without a name.
FIRST_RUN = "run1"


def default_run_name(position: int) -> str:
    """``run<position>`` (1-based), the name of a run declared without one."""
    return f"run{position}"


def nanostring_runs(section: dict | None) -> list[dict]:
    """The runs of a ``nanostring`` section, in config order: ``[{"name", "rcc", "samples"?, "rlf"?}]``.

    ``[]`` when the section declares no RCC files (a simulated cohort's options only).
    Raises :class:`~contexture.errors.ConfigError` when the section mixes the two forms
    (``runs`` and a top-level ``rcc``/``samples``/``rlf``) or names two runs alike.
    """
    section = section or {}
    if "runs" in section:
        top = [key for key in RUN_INPUTS if key in section]
        if top:
            raise ConfigError(
                f"nanostring: {', '.join(top)} given next to runs; declare every RCC set as an item of runs "
                "(its rcc, samples and rlf inside it), or one set without runs"
            )
        runs = [{key: run[key] for key in ("name", *RUN_INPUTS) if key in run} for run in section["runs"]]
    elif "rcc" in section:
        runs = [{key: section[key] for key in RUN_INPUTS if key in section}]
    else:
        return []
    for position, run in enumerate(runs, start=1):
        run.setdefault("name", default_run_name(position))
    names = [run["name"] for run in runs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        positions = {name: [i for i, n in enumerate(names) if n == name] for name in repeated}
        raise ConfigError(
            "nanostring.runs: run name(s) used twice: "
            + "; ".join(f"{name!r} (runs.{', runs.'.join(map(str, where))})" for name, where in positions.items())
            + " (a run without a name is run<i>, its position from 1); give each run a unique name"
        )
    return runs


def run_names(section: dict | None) -> list[str]:
    """The run names of a real cohort's ``nanostring`` section, or ``[run1]`` for a simulated one."""
    return [run["name"] for run in nanostring_runs(section)] or [FIRST_RUN]


__all__ = [
    "RUN_INPUTS",
    "FIRST_RUN",
    "default_run_name",
    "nanostring_runs",
    "run_names",
]
