"""NanoString nCounter: lane QC, nSolver normalization, RUVg, relative log expression.

Inputs are the merged raw counts of :mod:`contexture.io.rcc` (a probe table with
``code_class``, ``name``, ``accession``, ``concentration`` and an integer matrix probes x
samples) and the lane attributes. Everything here is vectorized over lanes.

Lane QC (per lane; defaults from the nCounter Data Analysis Guidelines MAN-C0011 and the
nSolver 4.0 User Manual MAN-C0019, "QC settings"; each is a config key):

* imaging: FovCounted / FovCount < 0.75 fails; FovCount <= 0, FovCounted > FovCount or
  either missing fails as ``flag_imaging_invalid``. A cohort mixing FovCount values (scan
  resolutions 280 and 555) is warned about and the lanes off the most common value are
  ``flag_fov_count_mixed`` (reported, not failed; NanoStringQCPro refuses such a set);
* binding density (spots per square micron): < 0.1 or > 2.25 fails on nCounter MAX/FLEX,
  > 1.8 on SPRINT. The instrument is read from ScannerID (SPRINT serials start with
  ``P``) unless configured;
* positive-control linearity: R^2 of log2(count) on log2(concentration) over POS_A-E
  (POS_F, 0.125 fM, sits at background and is excluded as in nSolver) < 0.95 fails;
  counts below 1 are floored to 1 before the log;
* limit of detection: POS_E (0.5 fM) <= mean + 2 SD of the negative controls fails
  (SD with n - 1, R's ``sd``);
* housekeeping genes: raw geometric mean < 32 fails, < 100 is flagged borderline
  (borderline lanes are kept). These two levels are this project's defaults, not a
  published NanoString rule: we could not find them in MAN-C0011 or MAN-C0019, where
  nSolver flags the housekeeping (content) factor outside 0.1-10 instead (below);
* positive normalization factor outside 0.3-3 and housekeeping factor outside 0.1-10
  fail (the ranges nSolver flags).

nSolver normalization (MAN-C0019, "Normalization"): geometric means use counts floored
to 1 (``max(count, 1)``). For lane j with positive-control geometric mean p_j over
POS_A-F, ``pos_factor_j = mean_k(p_k) / p_j`` (arithmetic mean over lanes of the lane
geometric means). Housekeeping: h_j = geometric mean of the housekeeping genes after
positive scaling, ``hk_factor_j = mean_k(h_k) / h_j``. Normalized counts are
``counts * pos_factor * hk_factor``, reported as log2 with values < 1 floored to 1.
The reference (the mean over lanes) is taken over the lanes that pass every QC check
not itself judged against the reference (imaging, binding density, linearity, limit of
detection, housekeeping level; ``in_reference`` in lanes.tsv), as nSolver users exclude
failed lanes from the experiment before normalizing (MAN-C0019: nSolver computes the
factors over the lanes of the experiment); a failed lane, kept or excluded, gets a factor
against that reference but does not move the good lanes' factors. The factor ranges are
then judged against it. Optional background correction per lane from
its negative controls (mean, mean + 2 SD, or max), subtracted (floored at 0) or used
as a threshold (raised to the background), is applied to the counts before scaling;
factors are always those of the raw counts, so the QC table does not depend on it.

RUVg (Risso et al. 2014, Nat Biotechnol 32:896; applied to nCounter data by
Bhattacharya et al. 2021, Brief Bioinform 22:bbaa163): with Y the samples x genes
matrix of log2 positive-scaled counts (floored to 1) and Y_c its housekeeping columns
centred per gene, W = the first k left singular vectors of Y_c (numpy SVD); every gene
is regressed on W, ``alpha = (W'W)^-1 W'Y``, and ``Y - W alpha`` is the corrected
log2 expression. As W's columns have mean zero, gene means are kept. This is
RUVSeq::RUVg(isLog = TRUE) on the same Y.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.errors import ConfigError, InputError
from contexture.io.rcc import PLEXSET_ROWS

log = logging.getLogger(__name__)

POSITIVE_QC_NAMES = ("POS_A", "POS_B", "POS_C", "POS_D", "POS_E")  # linearity: POS_F excluded
LOD_PROBE = "POS_E"
# Flags that fail a lane (qc_pass is False when any is set), in lanes.tsv order.
FAIL_FLAGS = (
    "flag_imaging_invalid",
    "flag_imaging",
    "flag_binding_density",
    "flag_positive_linearity",
    "flag_limit_of_detection",
    "flag_housekeeping_low",
    "flag_positive_factor",
    "flag_housekeeping_factor",
)
# What lanes.tsv's qc_not_applicable says for a PlexSet sample.
PLEXSET_NOT_APPLICABLE = (
    "positive_linearity;limit_of_detection: not applicable to PlexSet (POS_1-8 are one ERCC at one concentration)"
)
# Failures judged against the reference lanes; the others decide which lanes are the reference.
REFERENCE_DEPENDENT_FLAGS = ("flag_positive_factor", "flag_housekeeping_factor")


@dataclass(frozen=True)
class QCThresholds:
    """Lane QC thresholds; defaults as published by NanoString (see module docstring)."""

    # MAN-C0011 "Imaging QC": >= 75% of fields of view counted.
    imaging_min_fov_ratio: float = 0.75
    # MAN-C0011 "Binding density QC": 0.1-2.25 spots/um^2 (MAX/FLEX), 0.1-1.8 (SPRINT).
    binding_density_min: float = 0.1
    binding_density_max_max_flex: float = 2.25
    binding_density_max_sprint: float = 1.8
    # auto: from ScannerID; or force max_flex / sprint.
    instrument: str = "auto"
    # MAN-C0011 "Positive control linearity": R^2 of log2 counts vs log2 concentration >= 0.95.
    positive_linearity_min_r2: float = 0.95
    # MAN-C0011 "Limit of detection": POS_E > mean + 2 SD of negative controls.
    lod_sd_multiplier: float = 2.0
    # Housekeeping level: geometric mean < 32 fail, < 100 borderline. Project defaults, not found in
    # MAN-C0011/MAN-C0019 (nSolver's housekeeping rule is the factor range below); kept as a guard
    # against lanes with almost no RNA, configurable.
    housekeeping_geomean_fail: float = 32.0
    housekeeping_geomean_borderline: float = 100.0
    # nSolver 4.0 (MAN-C0019) normalization flags: positive factor 0.3-3, content factor 0.1-10.
    positive_factor_range: tuple[float, float] = (0.3, 3.0)
    housekeeping_factor_range: tuple[float, float] = (0.1, 10.0)

    @classmethod
    def from_config(cls, qc: dict | None) -> QCThresholds:
        qc = dict(qc or {})
        for key in ("positive_factor_range", "housekeeping_factor_range"):
            if key in qc:
                qc[key] = tuple(qc[key])
        return cls(**qc)


@dataclass
class NanostringResult:
    """What :func:`process` returns: tables for the outputs contract."""

    raw_counts: pd.DataFrame
    lanes: pd.DataFrame
    normalized: pd.DataFrame
    housekeeping: list[str]
    warnings: list[str] = field(default_factory=list)


def _class_mask(probes: pd.DataFrame, prefix: str) -> np.ndarray:
    return probes["code_class"].astype(str).str.startswith(prefix).to_numpy()


def geometric_mean_floored(counts: np.ndarray, axis: int = 0) -> np.ndarray:
    """Geometric mean with counts < 1 floored to 1 (nSolver), along ``axis``."""
    values = np.maximum(np.asarray(counts, dtype=float), 1.0)
    return np.exp(np.log(values).mean(axis=axis))


def scaling_factors(
    lane_geomeans: np.ndarray, reference: np.ndarray | None = None, lanes: np.ndarray | None = None
) -> np.ndarray:
    """nSolver factor per lane: arithmetic mean of the reference lanes' geometric means / this lane's.

    Two lanes with geometric means p and 2p get 1.5p/p = 1.5 and 1.5p/2p = 0.75.
    ``reference`` (boolean per lane; default every lane) chooses the lanes whose mean is
    the reference; every lane gets a factor. ``lanes`` (one label per sample, e.g. the RCC
    file): samples sharing a label are one lane, counted once in the mean (the eight
    samples of a PlexSet lane share its positive controls, so its geometric mean).
    """
    lane_geomeans = np.asarray(lane_geomeans, dtype=float)
    if reference is None:
        reference = np.ones(len(lane_geomeans), dtype=bool)
    chosen = np.asarray(reference, dtype=bool).copy()
    if lanes is not None:
        labels = np.asarray(lanes, dtype=object)
        _, first = np.unique(labels[chosen], return_index=True)
        keep = np.zeros(len(lane_geomeans), dtype=bool)
        keep[np.flatnonzero(chosen)[first]] = True
        chosen = keep
    return lane_geomeans[chosen].mean() / lane_geomeans


def positive_control_factors(
    probes: pd.DataFrame, counts: np.ndarray, reference: np.ndarray | None = None, lanes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lane geometric means of the positive controls, positive normalization factors against ``reference`` lanes).

    The controls are POS_A-F, or a PlexSet lane's POS_1-8; ``lanes`` as in :func:`scaling_factors`.
    """
    positive = _class_mask(probes, "Positive")
    if not positive.any():
        raise InputError("no Positive-class probes in the RCC files: positive-control normalization is impossible.")
    geomeans = geometric_mean_floored(counts[positive], axis=0)
    return geomeans, scaling_factors(geomeans, reference, lanes)


def housekeeping_factors(
    counts: np.ndarray, housekeeping_rows: np.ndarray, pos_factor: np.ndarray, reference: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lane geometric means of housekeeping genes after positive scaling, factors against ``reference`` lanes)."""
    if not housekeeping_rows.any():
        ones = np.ones(counts.shape[1])
        return np.full(counts.shape[1], np.nan), ones
    scaled = counts[housekeeping_rows] * pos_factor[np.newaxis, :]
    geomeans = geometric_mean_floored(scaled, axis=0)
    return geomeans, scaling_factors(geomeans, reference)


def positive_linearity_r2(log2_concentration: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """R^2 of the least-squares line log2(max(count,1)) ~ log2(concentration), per lane."""
    x = np.asarray(log2_concentration, dtype=float)
    y = np.log2(np.maximum(np.asarray(counts, dtype=float), 1.0))
    xc = x - x.mean()
    yc = y - y.mean(axis=0)
    sxy = xc @ yc
    syy = (yc**2).sum(axis=0)
    sxx = (xc**2).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = sxy**2 / (sxx * syy)
    return np.where(syy == 0, 0.0, r2)


def instrument_from_scanner(scanner_ids: pd.Series) -> np.ndarray:
    """``sprint`` where the ScannerID starts with ``P`` (SPRINT serials), else ``max_flex``."""
    ids = scanner_ids.fillna("").astype(str).str.strip().str.upper()
    return np.where(ids.str.startswith("P"), "sprint", "max_flex")


def housekeeping_rows(probes: pd.DataFrame, names: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Rows of the housekeeping genes: the Housekeeping CodeClass, or the configured names.

    Configured names are looked up among non-control probes; unknown names are a
    :class:`ConfigError`. Returns (row mask, names used).
    """
    if names:
        control = _class_mask(probes, "Positive") | _class_mask(probes, "Negative")
        available = probes["name"].to_numpy()
        unknown = sorted(set(names) - set(available[~control]))
        if unknown:
            raise ConfigError(f"nanostring.housekeeping: gene(s) {unknown} are not in the RCC files' CodeSet.")
        mask = np.isin(available, list(names)) & ~control
    else:
        mask = _class_mask(probes, "Housekeeping")
    return mask, sorted(probes.loc[mask, "name"].astype(str).unique())


def lane_qc(
    probes: pd.DataFrame,
    counts: np.ndarray,
    lanes: pd.DataFrame,
    thresholds: QCThresholds = QCThresholds(),
    housekeeping: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every QC metric and flag per lane, with the positive and housekeeping factors.

    ``lanes`` holds one row per sample (columns of the RCC attributes, in the order of
    ``counts`` columns). Returns ``lanes`` with metric, flag (True = failed), ``qc_pass``
    and ``qc_failures`` columns. The ``flag_housekeeping_borderline`` flag is reported
    but does not fail a lane.
    """
    t = thresholds
    out = lanes.copy().reset_index(drop=True)
    if housekeeping is None:
        housekeeping = _class_mask(probes, "Housekeeping")
    names = probes["name"].astype(str).to_numpy()
    positive = _class_mask(probes, "Positive")
    negative = _class_mask(probes, "Negative")

    fov_count = pd.to_numeric(out.get("fov_count"), errors="coerce").to_numpy(dtype=float)
    fov_counted = pd.to_numeric(out.get("fov_counted"), errors="coerce").to_numpy(dtype=float)
    # FovCount <= 0 (278/0 would be an infinite ratio that passes), FovCounted above FovCount or
    # either missing: the imaging record is impossible, its own failure.
    valid_fov = (fov_count > 0) & (fov_counted >= 0) & (fov_counted <= fov_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["fov_ratio"] = np.where(valid_fov, fov_counted / fov_count, np.nan)
    out["flag_imaging_invalid"] = ~valid_fov
    out["flag_imaging"] = valid_fov & ~(out["fov_ratio"] >= t.imaging_min_fov_ratio)
    out["flag_fov_count_mixed"] = _fov_count_mixed(fov_count)

    density = pd.to_numeric(out.get("binding_density"), errors="coerce").astype(float)
    out["binding_density"] = density
    if t.instrument == "auto":
        instrument = instrument_from_scanner(out.get("scanner_id", pd.Series("", index=out.index)))
    else:
        instrument = np.full(len(out), t.instrument)
    out["instrument"] = instrument
    out["binding_density_max"] = np.where(
        instrument == "sprint", t.binding_density_max_sprint, t.binding_density_max_max_flex
    )
    out["flag_binding_density"] = ~((density >= t.binding_density_min) & (density <= out["binding_density_max"]))

    qc_rows = np.flatnonzero(positive & np.isin(names, POSITIVE_QC_NAMES))
    concentration = probes["concentration"].to_numpy(dtype=float)
    if len(qc_rows) >= 2:
        out["positive_linearity_r2"] = positive_linearity_r2(np.log2(concentration[qc_rows]), counts[qc_rows])
    else:
        out["positive_linearity_r2"] = np.nan
    out["flag_positive_linearity"] = ~(out["positive_linearity_r2"] >= t.positive_linearity_min_r2)

    # PlexSet lanes' POS_1-8 are one ERCC at one concentration: no series to fit, no POS_E.
    # Both checks are not applicable (NA, with the reason), not passed (NACHO, too, draws
    # neither for PlexSet); see docs/nanostring.md.
    plexset = plexset_samples(out)
    lod_row = np.flatnonzero(positive & (names == LOD_PROBE))
    negatives = counts[negative].astype(float)
    out["pos_e_count"] = counts[lod_row[0]] if len(lod_row) else np.nan
    if negatives.shape[0] >= 2:
        out["negative_mean"] = negatives.mean(axis=0)
        out["negative_sd"] = negatives.std(axis=0, ddof=1)
    else:
        out["negative_mean"] = np.nan
        out["negative_sd"] = np.nan
    out["lod_threshold"] = out["negative_mean"] + t.lod_sd_multiplier * out["negative_sd"]
    out["flag_limit_of_detection"] = ~(out["pos_e_count"] > out["lod_threshold"])
    if plexset.any():
        for column in ("positive_linearity_r2", "pos_e_count"):
            out[column] = np.where(plexset, np.nan, out[column].to_numpy(dtype=float))
        for flag in ("flag_positive_linearity", "flag_limit_of_detection"):
            values = pd.array(out[flag].to_numpy(dtype=bool), dtype="boolean")
            values[plexset] = pd.NA
            out[flag] = values
        out["qc_not_applicable"] = np.where(plexset, PLEXSET_NOT_APPLICABLE, "")

    raw_hk = geometric_mean_floored(counts[housekeeping], axis=0) if housekeeping.any() else np.full(len(out), np.nan)
    out["housekeeping_geomean"] = raw_hk
    out["flag_housekeeping_low"] = raw_hk < t.housekeeping_geomean_fail
    out["flag_housekeeping_borderline"] = (raw_hk >= t.housekeeping_geomean_fail) & (
        raw_hk < t.housekeeping_geomean_borderline
    )

    # The reference of the factors: lanes passing every check that does not depend on the
    # reference itself (all but the two factor ranges), as nSolver users leave failed lanes out
    # of the experiment they normalize. Every lane gets a factor against it.
    intrinsic = _judged(out, [f for f in FAIL_FLAGS if f not in REFERENCE_DEPENDENT_FLAGS])
    reference = ~intrinsic.any(axis=1)
    if not reference.any():
        reference = np.ones(len(out), dtype=bool)  # nothing passes: every lane fails anyway
    out["in_reference"] = reference
    # A PlexSet lane's samples share its positive controls: the lane enters the mean once.
    lane_labels = out["file"].astype(str).to_numpy() if plexset.any() and "file" in out else None
    pos_geomean, pos_factor = positive_control_factors(probes, counts, reference, lane_labels)
    hk_geomean, hk_factor = housekeeping_factors(counts, housekeeping, pos_factor, reference)
    out["positive_geomean"] = pos_geomean
    out["pos_factor"] = pos_factor
    low, high = t.positive_factor_range
    out["flag_positive_factor"] = ~((pos_factor >= low) & (pos_factor <= high))
    out["housekeeping_geomean_scaled"] = hk_geomean
    out["hk_factor"] = hk_factor
    low, high = t.housekeeping_factor_range
    out["flag_housekeeping_factor"] = ~((hk_factor >= low) & (hk_factor <= high))

    failed = _judged(out, list(FAIL_FLAGS))
    out["qc_pass"] = ~failed.any(axis=1)
    labels = np.array([f.removeprefix("flag_") for f in FAIL_FLAGS])
    out["qc_failures"] = [";".join(labels[row]) for row in failed]
    return out


def _judged(out: pd.DataFrame, flags: list[str]) -> np.ndarray:
    """Flags as a boolean matrix, a not-applicable check (NA) counting as not failed."""
    return out[flags].astype("boolean").fillna(False).to_numpy(dtype=bool)


def plexset_samples(lanes: pd.DataFrame) -> np.ndarray:
    """True for samples that are a row of a PlexSet lane (``plexset_row`` set, :func:`contexture.io.rcc.split_plexset`)."""
    if "plexset_row" not in lanes.columns:
        return np.zeros(len(lanes), dtype=bool)
    rows = lanes["plexset_row"]
    return (rows.notna() & (rows.astype(str).str.strip() != "")).to_numpy(dtype=bool)


def _fov_count_mixed(fov_count: np.ndarray) -> np.ndarray:
    """True where a lane's FovCount differs from the cohort's most common (ties: the larger).

    FovCount is the scan resolution chosen on the instrument (280 or 555 fields of view on
    the MAX/FLEX); lanes scanned at different resolutions differ in counts, which
    NanoStringQCPro refuses to merge. Lanes without a valid FovCount are not compared.
    """
    valid = np.isfinite(fov_count) & (fov_count > 0)
    values, counts = np.unique(fov_count[valid], return_counts=True)
    if len(values) < 2:
        return np.zeros(len(fov_count), dtype=bool)
    usual = values[counts == counts.max()].max()
    return valid & (fov_count != usual)


def background_per_lane(counts: np.ndarray, negative: np.ndarray, method: str) -> np.ndarray:
    """Background of each lane from its negative controls: ``mean``, ``mean_2sd`` or ``max``."""
    negatives = counts[negative].astype(float)
    if negatives.shape[0] == 0:
        raise InputError("background correction needs Negative-class probes; the RCC files have none.")
    if method == "mean":
        return negatives.mean(axis=0)
    if method == "mean_2sd":
        return negatives.mean(axis=0) + 2 * negatives.std(axis=0, ddof=1)
    if method == "max":
        return negatives.max(axis=0)
    raise ConfigError(f"nanostring.normalization.background: unknown method {method!r}")


def apply_background(counts: np.ndarray, background: np.ndarray, mode: str) -> np.ndarray:
    """``subtract``: max(count - bg, 0); ``threshold``: max(count, bg)."""
    counts = counts.astype(float)
    if mode == "subtract":
        return np.maximum(counts - background[np.newaxis, :], 0.0)
    if mode == "threshold":
        return np.maximum(counts, background[np.newaxis, :])
    raise ConfigError(f"nanostring.normalization.background_mode: unknown mode {mode!r}")


def normalize_nsolver(counts: np.ndarray, pos_factor: np.ndarray, hk_factor: np.ndarray) -> np.ndarray:
    """log2(max(counts * pos_factor * hk_factor, 1)) (nSolver normalized counts, log2)."""
    scaled = np.asarray(counts, dtype=float) * (pos_factor * hk_factor)[np.newaxis, :]
    return np.log2(np.maximum(scaled, 1.0))


def ruvg(log_expression: np.ndarray, control_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """RUVg on log expression (genes x samples): returns (corrected, W samples x k).

    W is the first k left singular vectors of the control genes' samples x genes matrix,
    centred per gene; alpha = (W'W)^-1 W'Y by least squares; corrected = Y - W alpha
    (Risso et al. 2014). k must be at least 1 and below the number of samples.
    """
    y = np.asarray(log_expression, dtype=float).T  # samples x genes
    n_samples = y.shape[0]
    control = y[:, control_rows]
    if control.shape[1] < 1:
        raise ConfigError("RUVg needs control (housekeeping) genes; none were found.")
    if not 1 <= k < n_samples or k > control.shape[1]:
        raise ConfigError(
            f"nanostring.normalization.ruv_k = {k}: must be >= 1, < the number of samples ({n_samples}) and <= "
            f"the number of control genes ({control.shape[1]})."
        )
    centred = control - control.mean(axis=0, keepdims=True)
    u, _, _ = np.linalg.svd(centred, full_matrices=False)
    w = u[:, :k]
    # Deterministic sign: largest-magnitude entry of each factor positive.
    signs = np.sign(w[np.abs(w).argmax(axis=0), np.arange(k)])
    w = w * np.where(signs == 0, 1.0, signs)
    alpha, *_ = np.linalg.lstsq(w, y, rcond=None)
    return (y - w @ alpha).T, w


def relative_log_expression(log_expression: pd.DataFrame) -> pd.DataFrame:
    """RLE (Gandolfo & Speed 2018): each gene's log expression minus its median over samples."""
    return log_expression.sub(log_expression.median(axis=1), axis=0)


def _expression_frame(probes: pd.DataFrame, rows: np.ndarray, values: np.ndarray, samples: list[str]) -> pd.DataFrame:
    names = probes.loc[rows, "name"].astype(str).to_numpy()
    accessions = probes.loc[rows, "accession"].astype(str).to_numpy()
    duplicated = pd.Series(names).duplicated(keep=False).to_numpy()
    labels = np.where(duplicated, np.char.add(np.char.add(names.astype(str), "|"), accessions.astype(str)), names)
    frame = pd.DataFrame(values, columns=samples)
    frame.insert(0, "name", labels)
    return frame


def process(
    probes: pd.DataFrame,
    counts: np.ndarray,
    lanes: pd.DataFrame,
    *,
    thresholds: QCThresholds = QCThresholds(),
    exclude_failed: bool = True,
    method: str = "nsolver",
    housekeeping: list[str] | None = None,
    background: str = "none",
    background_mode: str = "subtract",
    ruv_k: int = 1,
) -> NanostringResult:
    """QC every lane and normalize; the one call behind the ``nanostring`` rule.

    ``lanes`` has a ``sample_id`` column in the order of ``counts`` columns. Returns raw
    counts (all probes), lanes with QC and factors (``included`` = used downstream) and
    log2 normalized expression of the non-control genes for included lanes (the log2
    raw counts of the RLE comparison are :func:`log2_raw_counts` of the raw counts).
    """
    warnings: list[str] = []
    samples = lanes["sample_id"].astype(str).tolist()
    hk_mask, hk_names = housekeeping_rows(probes, housekeeping)
    if len(hk_names) < 3:
        message = (
            f"only {len(hk_names)} housekeeping gene(s) ({hk_names}); nSolver content normalization is unstable "
            "with fewer than 3 (MAN-C0011): set nanostring.housekeeping."
        )
        log.warning(message)
        warnings.append(message)
    qc = lane_qc(probes, counts, lanes, thresholds, hk_mask)
    if plexset_samples(qc).any():
        message = (
            f"PlexSet: {len(qc)} samples from {qc['file'].nunique()} lane(s); the positive and negative controls are "
            "each lane's, shared by its rows A-H, and the positive-linearity and limit-of-detection checks do not "
            "apply (qc_not_applicable in lanes.tsv). Rows are read with different reporter tags: no cross-row "
            "calibration is applied, so compare samples across rows with plexset_row (lanes.tsv, samples.tsv) in mind."
        )
        log.warning(message)
        warnings.append(message)
    if qc["flag_fov_count_mixed"].any():
        values = pd.to_numeric(qc["fov_count"], errors="coerce").value_counts().sort_index()
        message = (
            "lanes were scanned at different resolutions (FovCount "
            + ", ".join(f"{value:g}: {n} lane(s)" for value, n in values.items())
            + f"); lanes {sorted(qc.loc[qc['flag_fov_count_mixed'], 'sample_id'].astype(str))[:20]} differ from the "
            "most common (flag_fov_count_mixed in lanes.tsv). Counts depend on the scan resolution: check that "
            "these lanes belong in one analysis."
        )
        log.warning(message)
        warnings.append(message)
    qc["included"] = qc["qc_pass"] | (not exclude_failed)
    included = qc["included"].to_numpy()
    if not included.any():
        raise InputError(
            f"every lane ({len(qc)}) failed QC ({'; '.join(sorted(set(qc['qc_failures'])))}); nothing to normalize. "
            "Check lanes.tsv-style metrics in the log or set nanostring.exclude_failed: false."
        )
    control = _class_mask(probes, "Positive") | _class_mask(probes, "Negative")
    genes = np.flatnonzero(~control)
    kept = [s for s, keep in zip(samples, included, strict=True) if keep]
    corrected = counts.astype(float)
    if background != "none":
        bg = background_per_lane(counts, _class_mask(probes, "Negative"), background)
        qc["background"] = bg
        corrected = apply_background(counts, bg, background_mode)
    pos_factor = qc["pos_factor"].to_numpy()
    if method == "nsolver":
        values = normalize_nsolver(
            corrected[genes][:, included], pos_factor[included], qc["hk_factor"].to_numpy()[included]
        )
    elif method == "ruvg":
        log_scaled = np.log2(np.maximum(corrected[genes][:, included] * pos_factor[included], 1.0))
        values, w = ruvg(log_scaled, hk_mask[genes], ruv_k)
        for i in range(w.shape[1]):
            qc[f"ruv_w{i + 1}"] = np.nan
            qc.loc[included, f"ruv_w{i + 1}"] = w[:, i]
    else:
        raise ConfigError(f"nanostring.normalization.method: unknown method {method!r} (nsolver or ruvg)")
    normalized = _expression_frame(probes, genes, values, kept)
    raw = probes[["code_class", "name", "accession"]].copy()
    raw = pd.concat([raw, pd.DataFrame(counts, columns=samples, index=raw.index)], axis=1)
    return NanostringResult(raw, qc, normalized, hk_names, warnings)


def at_or_below_detection_limit(raw_counts: pd.DataFrame, lanes: pd.DataFrame, samples: list[str]) -> pd.DataFrame:
    """Genes x ``samples``: True where the gene's raw count is at or below its lane's limit of detection.

    The limit is the lane's ``lod_threshold`` in lanes.tsv: mean + k SD (n - 1) of its
    negative controls, k = ``nanostring.qc.lod_sd_multiplier`` (2; MAN-C0011 "Limit of
    detection"), the background threshold NanoTube's ``remove_background`` also uses
    (Class et al., Bioinformatics 2023). Raw counts are compared because the nSolver
    factors scale a lane's genes and negatives alike, so the comparison is the same after
    positive or housekeeping scaling (NanoTube makes it on positive-scaled counts), and
    it does not depend on background correction or RUVg. ``raw_counts`` and ``lanes`` as
    the nanostring rule writes them; rows are the non-control genes named as in
    normalized.tsv (``name``, or ``name|accession`` when a name repeats). A lane without
    a threshold (fewer than 2 negative controls) has every cell False.
    """
    genes = ~raw_counts["code_class"].astype(str).str.startswith(("Positive", "Negative")).to_numpy()
    probes = raw_counts.loc[genes, ["name", "accession"]].reset_index(drop=True)
    threshold = lanes.set_index(lanes["sample_id"].astype(str))["lod_threshold"].astype(float)
    missing = [s for s in samples if s not in threshold.index or s not in raw_counts.columns]
    if missing:
        raise InputError(f"samples {missing[:20]} are not in both raw_counts.tsv and lanes.tsv")
    counts = raw_counts.loc[genes, list(samples)].to_numpy(dtype=float)
    below = counts <= threshold.loc[list(samples)].to_numpy()[None, :]
    frame = _expression_frame(probes, np.arange(len(probes)), below, list(samples))
    return frame.set_index("name")


def log2_raw_counts(raw_counts: pd.DataFrame, samples: list[str]) -> pd.DataFrame:
    """log2 raw counts, floored at 1 count, of the non-control genes for ``samples`` (RLE "before").

    ``raw_counts`` as ``nanostring/raw_counts.tsv`` (``code_class``, ``name``, then one
    column per sample); positive and negative controls are left out, as in the
    normalized matrix. Columns: ``name``, then ``samples``.
    """
    genes = ~raw_counts["code_class"].astype(str).str.startswith(("Positive", "Negative"))
    before = raw_counts.loc[genes, ["name", *samples]].copy()
    before[samples] = np.log2(np.maximum(before[samples].astype(float), 1.0))
    return before


SAMPLE_COLUMNS = ["sample_id", "patient_id", "timepoint", "batch", "file"]


def plexset_row_letter(value: str) -> str | None:
    """A sample sheet's ``plexset_row`` as its row letter: ``A``-``H`` as given, ``1``-``8`` as ``A``-``H``; else None."""
    text = str(value).strip()
    if text in PLEXSET_ROWS:
        return text
    if text.isdigit() and 1 <= int(text) <= len(PLEXSET_ROWS):
        return PLEXSET_ROWS[int(text) - 1]
    return None


def match_sample_sheet(
    files: list[str], sheet: pd.DataFrame | None, sheet_path: str = "sample sheet", plexset: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per sample: ``sample_id, patient_id, timepoint, batch, file`` in file order.

    ``sheet`` (validated ``tables/nanostring_samples``) maps its ``file`` column to the
    RCC file names (base name, with or without ``.RCC``/``.RCC.gz``). Without a sheet each
    file is its own sample named by its file name (patient and timepoint empty). Files
    missing from the sheet and sheet rows without a file are errors listing them all.

    ``plexset``: the files (as in ``files``) that are PlexSet lanes, eight samples each (rows
    A-H). Then the table has a ``plexset_row`` column (empty for single-sample files), and
    a PlexSet lane gives one sample per row it is listed with in the sheet (its
    ``plexset_row``: ``A``-``H`` or ``1``-``8``), or without a sheet its eight samples
    ``<file stem>_1`` ... ``_8``. A sheet row for a PlexSet file needs its ``plexset_row``,
    one for a single-sample file must leave it empty, and a (file, row) pair is listed
    once; rows of a listed lane that the sheet leaves out (unused wells) are left out of
    the analysis with a warning.
    """
    from contexture.io.rcc import rcc_stem

    base = [Path(f).name for f in files]
    plexset = set(plexset)
    plex = np.array([f in plexset for f in files], dtype=bool)
    if sheet is None:
        rows = []
        for b, is_plex in zip(base, plex, strict=True):
            if is_plex:
                rows += [(f"{rcc_stem(b)}_{k}", b, row) for k, row in enumerate(PLEXSET_ROWS, start=1)]
            else:
                rows.append((rcc_stem(b), b, pd.NA))
        out = pd.DataFrame(rows, columns=["sample_id", "file", "plexset_row"])
        for column in ("patient_id", "timepoint", "batch"):
            out[column] = pd.NA
        return out[SAMPLE_COLUMNS + (["plexset_row"] if plex.any() else [])]
    lookup: dict[str, int] = {}
    for i, b in enumerate(base):
        lookup[b] = i
        lookup.setdefault(rcc_stem(b), i)
    given_rows = sheet["plexset_row"] if "plexset_row" in sheet.columns else pd.Series(pd.NA, index=sheet.index)
    taken: dict[tuple[int, str], int] = {}
    matched: list[tuple[int, int, object]] = []  # (sheet row, file index, plexset row)
    unknown, wrong = [], []
    for r, (listed, given) in enumerate(zip(sheet["file"].astype(str), given_rows, strict=True)):
        where = f"row {r + 1} (line {r + 2})"
        key = Path(listed).name
        index = lookup.get(key, lookup.get(rcc_stem(key)))
        if index is None:
            unknown.append(f"{where}: {listed!r}")
            continue
        has_row = not pd.isna(given) and str(given).strip() != ""
        if plex[index] and not has_row:
            wrong.append(
                f"{where}, column plexset_row: empty, but {base[index]!r} is a PlexSet lane (eight samples, rows A-H); "
                "give the row of this sample (A-H or 1-8)"
            )
            continue
        if not plex[index] and has_row:
            wrong.append(
                f"{where}, column plexset_row: {given!r}, but {base[index]!r} is a single-sample lane, not PlexSet; "
                "leave plexset_row empty"
            )
            continue
        row = plexset_row_letter(given) if has_row else ""
        if row is None:  # the schema's pattern refuses it first; kept for callers without validation
            wrong.append(f"{where}, column plexset_row: {given!r}; expected A-H or 1-8")
            continue
        earlier = taken.setdefault((index, row), r)
        if earlier != r:
            if row:
                wrong.append(
                    f"{where}, columns file and plexset_row: row {row} of {base[index]!r} is also listed in row "
                    f"{earlier + 1}; a PlexSet row holds one sample"
                )
            else:
                unknown.append(f"{where}: {listed!r} names the same file as row {earlier + 1}")
            continue
        matched.append((r, index, row or pd.NA))
    listed_files = {index for index, _ in taken}
    unlisted = [b for i, b in enumerate(base) if i not in listed_files]
    if unknown or unlisted or wrong:
        parts = []
        if wrong:
            parts.append("; ".join(wrong[:20]))
        if unknown:
            parts.append("sheet rows without a matching RCC file: " + "; ".join(unknown[:20]))
        if unlisted:
            parts.append(f"RCC files not in the sheet ({len(unlisted)}): {unlisted[:20]}")
        raise InputError(f"NanoString sample sheet '{sheet_path}' does not match the RCC files: " + ". ".join(parts))
    left_out = [
        f"{base[i]} row(s) {', '.join(r for r in PLEXSET_ROWS if (i, r) not in taken)}"
        for i in sorted(listed_files)
        if plex[i] and len([r for r in PLEXSET_ROWS if (i, r) in taken]) < len(PLEXSET_ROWS)
    ]
    if left_out:
        log.warning(
            "PlexSet rows not in the sample sheet '%s' are left out of the analysis (unused wells?): %s",
            sheet_path,
            "; ".join(left_out[:20]),
        )
    matched.sort(key=lambda m: (m[1], "" if pd.isna(m[2]) else m[2]))  # file order, then row
    rows = sheet.iloc[[m[0] for m in matched]].reset_index(drop=True)
    out = pd.DataFrame({"sample_id": rows["sample_id"].astype(str)})
    for column in ("patient_id", "timepoint", "batch"):
        out[column] = rows[column].astype(object) if column in rows.columns else pd.NA
    out["file"] = [base[m[1]] for m in matched]
    if plex.any():
        out["plexset_row"] = [m[2] for m in matched]
    return out


def assign_samples(rccs, sheet: pd.DataFrame | None, sheet_path: str = "sample sheet"):
    """``(rccs named by the sheet, samples table)`` for a merged set whose samples are still unnamed.

    ``rccs`` is a :class:`contexture.io.rcc.RccSet` merged under the files' paths (what
    validation writes, :func:`contexture.io.rcc.write_rcc_set`); its ``lanes`` give each
    sample's ``file`` and, for PlexSet lanes, ``plexset_row``. The sheet is matched by
    :func:`match_sample_sheet`; samples the sheet leaves out (unused PlexSet rows) are
    dropped, and the rest take the sheet's sample IDs.
    """
    from contexture.io.rcc import take_samples

    lanes = rccs.lanes
    files = lanes["file"].astype(str).tolist()
    rows = lanes["plexset_row"].tolist() if "plexset_row" in lanes.columns else [np.nan] * len(files)
    rows = ["" if pd.isna(r) else str(r) for r in rows]
    order = sorted(set(files))  # find_rcc_files' order (one folder: sorted names)
    plexset = sorted({f for f, r in zip(files, rows, strict=True) if r})
    samples = match_sample_sheet(order, sheet, sheet_path, plexset)
    sample_rows = samples["plexset_row"] if "plexset_row" in samples.columns else pd.Series(pd.NA, index=samples.index)
    name_of = {
        (f, "" if pd.isna(r) else str(r)): s
        for f, r, s in zip(samples["file"], sample_rows, samples["sample_id"], strict=True)
    }
    positions = [i for i, key in enumerate(zip(files, rows, strict=True)) if key in name_of]
    names = [name_of[(files[i], rows[i])] for i in positions]
    return take_samples(rccs, positions, names), samples


def samples_table(samples: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    """``samples.tsv``: sample_id, patient_id, timepoint, batch, file, [plexset_row,] qc_pass, included."""
    qc = lanes[["sample_id", "qc_pass", "included"]]
    columns = SAMPLE_COLUMNS + (["plexset_row"] if "plexset_row" in samples.columns else [])
    table = samples[columns].merge(qc, on="sample_id", how="left", validate="one_to_one")
    return table.sort_values("sample_id", kind="stable").reset_index(drop=True)


__all__ = [
    "POSITIVE_QC_NAMES",
    "LOD_PROBE",
    "FAIL_FLAGS",
    "PLEXSET_NOT_APPLICABLE",
    "REFERENCE_DEPENDENT_FLAGS",
    "QCThresholds",
    "NanostringResult",
    "geometric_mean_floored",
    "scaling_factors",
    "positive_control_factors",
    "housekeeping_factors",
    "positive_linearity_r2",
    "instrument_from_scanner",
    "housekeeping_rows",
    "lane_qc",
    "plexset_samples",
    "background_per_lane",
    "apply_background",
    "normalize_nsolver",
    "ruvg",
    "relative_log_expression",
    "process",
    "at_or_below_detection_limit",
    "log2_raw_counts",
    "SAMPLE_COLUMNS",
    "plexset_row_letter",
    "match_sample_sheet",
    "assign_samples",
    "samples_table",
]
