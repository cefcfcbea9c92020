"""Methods paragraph of the nanostring stage: RCC reading, lane QC and normalization.

The QC thresholds are the run's (``nanostring.qc`` through
:meth:`~contexture.nanostring.normalization.QCThresholds.from_config`, as the
``nanostring`` rule builds them); lane counts come from ``nanostring/lanes.tsv``.
"""

from __future__ import annotations

from pathlib import Path

from contexture.io import read_result_table
from contexture.nanostring.normalization import LOD_PROBE, QCThresholds


def methods_paragraph(cohort_dir: Path, cohort_config: dict) -> str:
    """RCC reading, lane QC and normalization (``""`` when ``nanostring/lanes.tsv`` is absent)."""
    path = Path(cohort_dir) / "nanostring" / "lanes.tsv"
    if not path.is_file():
        return ""
    lanes = read_result_table(path)
    options = cohort_config["nanostring"]
    qc = QCThresholds.from_config(options["qc"])
    method = options["normalization"]["method"]
    failed = lanes.loc[~lanes["qc_pass"], "sample_id"].tolist()
    excluded = lanes.loc[~lanes["included"], "sample_id"].tolist()
    runs = list(dict.fromkeys(lanes["run"].astype(str))) if "run" in lanes.columns else []
    several = (
        f"The lanes came from {len(runs)} runs ("
        + ", ".join(
            f"{run}: {int((lanes['run'].astype(str) == run).sum())} lanes, CodeSet "
            + "/".join(sorted(set(lanes.loc[lanes["run"].astype(str) == run, "gene_rlf"].dropna().astype(str))))
            for run in runs
        )
        + "), each QC'd and normalized within itself (its own reference lanes and housekeeping genes). "
        if len(runs) > 1
        else ""
    )
    return (
        "## Gene expression (NanoString nCounter)\n\n"
        + several
        + f"{len(lanes)} RCC files were read (probes matched by code class, name and accession) and checked "
        "lane by lane against the nCounter QC rules (NanoString MAN-C0011; nSolver 4.0 User Manual): "
        f"imaging (FOV counted/FOV count ≥ {qc.imaging_min_fov_ratio:g}), binding density, positive-control "
        f"linearity (R² ≥ {qc.positive_linearity_min_r2:g}), limit of detection ({LOD_PROBE} above the mean + "
        f"{qc.lod_sd_multiplier:g} SD of negative controls), "
        "housekeeping geometric mean, and positive and housekeeping scaling factors. "
        f"{len(failed)} lane(s) failed QC"
        + (f" ({', '.join(map(str, failed))})" if failed else "")
        + f" and {len(excluded)} were excluded from analysis. Counts were normalized with the "
        + (
            "nSolver method (positive-control then housekeeping geometric-mean scaling, counts < 1 floored to 1; "
            "the reference means taken over the lanes that passed the lane-level checks) "
            if method == "nsolver"
            else f"{method} method "
        )
        + "and log2-transformed."
    )


__all__ = [
    "methods_paragraph",
]
