"""Simulated NanoString nCounter RCC files for the demo cohort.

Patients with a biopsy (``has_biopsy`` in the latent truth) get a baseline sample; about
half of them (seeded draw) also an on-treatment sample. Each sample is one lane, written
as a real-format RCC file (FileVersion 1.7: Header, Sample_Attributes, Lane_Attributes,
Code_Summary, Messages), 12 lanes per cartridge, plus a sample sheet.

Expression model, gene g of sample s of patient i (log2 of the expected count):

    base_g + loading_g * cd8_infiltration_z_i + input_s + change_g(timepoint, responder)

with ``input_s ~ N(0, 0.4)`` the RNA input/quality of the sample (shared by every gene,
housekeeping included: what content normalization removes), gene loadings and baselines
from ``src/contexture/resources/nanostring/demo_panel.tsv``, and on treatment T-cell genes up by
``T_CELL_CHANGE_LOG2[responder]`` and B-cell lineage genes down by
``B_CELL_CHANGE_LOG2[...]``. Counts are Poisson around ``2^(...) * efficiency_s`` plus
Poisson background (mean ``BACKGROUND_MEAN``); ``efficiency_s ~ logN(0, 0.25)`` is the
lane's technical efficiency, which also scales the positive controls (POS_A-F at 128,
32, 8, 2, 0.5, 0.125 fM, ~117 counts per fM) -- what positive normalization removes.
A few lanes fail QC on purpose: low imaging (FovCounted/FovCount ~ 0.6, counts scaled
down accordingly) and high binding density (2.6 spots/um^2). Everything is written to
``truth.yaml``.
"""

from __future__ import annotations

__all__ = [
    "B_CELL_CHANGE_LOG2",
    "CODESET",
    "T_CELL_CHANGE_LOG2",
    "read_panel",
    "simulate_nanostring",
    "write_nanostring",
]

import math
from pathlib import Path

import numpy as np
import pandas as pd

from contexture.io import atomic_path, read_table, write_table, write_yaml
from contexture.package_data import package_path

PANEL_PATH = package_path("resources", "nanostring", "demo_panel.tsv")
CODESET = "NS_Contexture_Demo_Immune_C0001"
POSITIVE = [("POS_A", 128, "ERCC_00117.1"), ("POS_B", 32, "ERCC_00112.1"), ("POS_C", 8, "ERCC_00002.1"),
            ("POS_D", 2, "ERCC_00092.1"), ("POS_E", 0.5, "ERCC_00035.1"), ("POS_F", 0.125, "ERCC_00034.1")]  # fmt: skip
NEGATIVE = [("NEG_A", "ERCC_00096.1"), ("NEG_B", "ERCC_00041.1"), ("NEG_C", "ERCC_00019.1"), ("NEG_D", "ERCC_00076.1"),
            ("NEG_E", "ERCC_00098.1"), ("NEG_F", "ERCC_00126.1"), ("NEG_G", "ERCC_00144.1"), ("NEG_H", "ERCC_00154.1")]  # fmt: skip
COUNTS_PER_FM = 117.0
BACKGROUND_MEAN = 8.0
ON_TREATMENT_FRACTION = 0.5
T_CELL_CHANGE_LOG2 = {"responder": 1.0, "non_responder": 0.0}
B_CELL_CHANGE_LOG2 = {"responder": -1.0, "non_responder": -1.0}
INPUT_SD_LOG2 = 0.4
EFFICIENCY_SD_LOG = 0.25
FAILED_LANE_FRACTION = 0.06
FOV_COUNT = 280  # fields of view of a high-resolution scan (MAX/FLEX)


def read_panel(path: str | Path = PANEL_PATH) -> pd.DataFrame:
    """The demo panel: code_class, name, accession, group, base_log2, infiltration_loading."""
    return pd.read_csv(path, sep="\t", comment="#")


def _rcc_text(sample: dict, lane: dict, code_lines: str) -> str:
    return (
        "<Header>\nFileVersion,1.7\nSoftwareVersion,4.0.0.3\n</Header>\n\n"
        f"<Sample_Attributes>\nID,{sample['sample_id']}\nOwner,contexture\nComments,simulated\n"
        f"Date,{lane['date']}\nGeneRLF,{CODESET}\nSystemAPF,n6_vDV1\n</Sample_Attributes>\n\n"
        f"<Lane_Attributes>\nID,{lane['lane_id']}\nFovCount,{FOV_COUNT}\nFovCounted,{lane['fov_counted']}\n"
        f"ScannerID,1504C0456\nStagePosition,1\nBindingDensity,{lane['binding_density']:.2f}\n"
        f"CartridgeID,{lane['cartridge']}\nCartridgeBarcode,{lane['cartridge']}\n</Lane_Attributes>\n\n"
        f"<Code_Summary>\nCodeClass,Name,Accession,Count\n{code_lines}</Code_Summary>\n\n<Messages>\n</Messages>\n"
    )


def simulate_nanostring(latent: pd.DataFrame, seed: int, panel: pd.DataFrame | None = None) -> dict:
    """Draw samples, lanes and counts; return a dict of tables and the truth (no files)."""
    panel = read_panel() if panel is None else panel
    rng = np.random.default_rng([seed, 3])  # stream 3: NanoString
    biopsied = latent[latent["has_biopsy"].astype(bool)].reset_index(drop=True)
    on_treatment = rng.random(len(biopsied)) < ON_TREATMENT_FRACTION
    samples = []
    for row, on in zip(biopsied.itertuples(index=False), on_treatment, strict=True):
        samples.append((row.patient_id, "baseline", row))
        if on:
            samples.append((row.patient_id, "on_treatment", row))
    n = len(samples)
    table = pd.DataFrame(
        {
            "sample_id": [f"{p}-{'BL' if t == 'baseline' else 'OT'}" for p, t, _ in samples],
            "patient_id": [p for p, _, _ in samples],
            "timepoint": [t for _, t, _ in samples],
        }
    )
    z = np.array([r.cd8_infiltration_z for _, _, r in samples], dtype=float)
    responder = np.array([bool(r.responder) for _, _, r in samples])
    on = (table["timepoint"] == "on_treatment").to_numpy()
    group = panel["group"].to_numpy()
    change = np.zeros((len(panel), n))
    t_change = np.where(responder, T_CELL_CHANGE_LOG2["responder"], T_CELL_CHANGE_LOG2["non_responder"])
    b_change = np.where(responder, B_CELL_CHANGE_LOG2["responder"], B_CELL_CHANGE_LOG2["non_responder"])
    change[group == "t_cell"] += (t_change * on)[np.newaxis, :]
    change[group == "b_cell"] += (b_change * on)[np.newaxis, :]
    input_log2 = rng.normal(0, INPUT_SD_LOG2, n)
    efficiency = np.exp(rng.normal(0, EFFICIENCY_SD_LOG, n))
    log2_expected = (
        panel["base_log2"].to_numpy()[:, None]
        + panel["infiltration_loading"].to_numpy()[:, None] * z[None, :]
        + input_log2[None, :]
        + change
    )
    # Lanes: shuffled into cartridges of 12; a few fail QC on purpose.
    order = rng.permutation(n)
    cartridge = np.empty(n, dtype=object)
    lane_id = np.empty(n, dtype=int)
    for position, s in enumerate(order):
        cartridge[s] = f"2019{position // 12 + 1:04d}A"
        lane_id[s] = position % 12 + 1
    n_failed = max(2, round(FAILED_LANE_FRACTION * n)) if n >= 4 else 0
    failed = rng.choice(n, size=n_failed, replace=False)
    failure = np.full(n, "", dtype=object)
    failure[failed[0::2]] = "imaging"
    failure[failed[1::2]] = "binding_density"
    fov_counted = np.full(n, FOV_COUNT) - rng.integers(0, 4, n)
    fov_counted[failure == "imaging"] = np.round(FOV_COUNT * rng.uniform(0.5, 0.65, (failure == "imaging").sum()))
    density = np.exp(rng.normal(math.log(0.6), 0.3, n)).clip(0.15, 2.0)
    density[failure == "binding_density"] = rng.uniform(2.4, 2.9, (failure == "binding_density").sum())
    scan_fraction = fov_counted / FOV_COUNT

    lam_gene = np.exp2(log2_expected) * (efficiency * scan_fraction)[None, :]
    pos_conc = np.array([c for _, c, _ in POSITIVE], dtype=float)
    lam_pos = pos_conc[:, None] * COUNTS_PER_FM * (efficiency * scan_fraction)[None, :]
    gene_counts = rng.poisson(lam_gene) + rng.poisson(BACKGROUND_MEAN, lam_gene.shape)
    pos_counts = rng.poisson(lam_pos) + rng.poisson(BACKGROUND_MEAN, lam_pos.shape)
    neg_counts = rng.poisson(BACKGROUND_MEAN, (len(NEGATIVE), n))

    code_class = list(panel["code_class"]) + ["Positive"] * len(POSITIVE) + ["Negative"] * len(NEGATIVE)
    names = list(panel["name"]) + [f"{p}({c:g})" for p, c, _ in POSITIVE] + [f"{g}(0)" for g, _ in NEGATIVE]
    accession = list(panel["accession"]) + [a for _, _, a in POSITIVE] + [a for _, a in NEGATIVE]
    counts = np.vstack([gene_counts, pos_counts, neg_counts])
    date = [f"2019{(int(c[4:8]) - 1) % 12 + 1:02d}15" for c in cartridge]
    table["batch"] = cartridge
    table["file"] = [
        f"{d}_{c}_{s}_{lane:02d}.RCC"
        for d, c, s, lane in zip(date, cartridge, table["sample_id"], lane_id, strict=True)
    ]
    lanes = pd.DataFrame(
        {
            "sample_id": table["sample_id"],
            "lane_id": lane_id,
            "cartridge": cartridge,
            "date": date,
            "fov_counted": fov_counted,
            "binding_density": density,
            "designed_failure": failure,
            "efficiency": efficiency,
            "input_log2": input_log2,
        }
    )
    truth = {
        "seed": seed,
        "codeset": CODESET,
        "samples": int(n),
        "patients_with_biopsy": int(len(biopsied)),
        "on_treatment_fraction": ON_TREATMENT_FRACTION,
        "model": "log2 E[count] = base_log2 + infiltration_loading * cd8_infiltration_z + input + change",
        "change_on_treatment_log2": {"t_cell": T_CELL_CHANGE_LOG2, "b_cell": B_CELL_CHANGE_LOG2},
        "input_sd_log2": INPUT_SD_LOG2,
        "efficiency_sd_log": EFFICIENCY_SD_LOG,
        "background_mean_count": BACKGROUND_MEAN,
        "counts_per_fM": COUNTS_PER_FM,
        "failed_lanes": {str(s): str(f) for s, f in sorted(zip(table["sample_id"], failure, strict=True)) if f},
        "genes_by_group": {g: sorted(panel.loc[panel["group"] == g, "name"]) for g in sorted(set(group))},
    }
    return {
        "samples": table,
        "lanes": lanes,
        "code_class": code_class,
        "names": names,
        "accession": accession,
        "counts": counts,
        "truth": truth,
    }


def write_nanostring(latent_patients: str | Path, out_dir: str | Path, seed: int) -> dict:
    """Write ``rcc/*.RCC``, ``samples.tsv``, ``lanes_truth.tsv`` and ``truth.yaml`` under ``out_dir``."""
    out_dir = Path(out_dir)
    latent = read_table(latent_patients, "results/raw/truth/patients")
    sim = simulate_nanostring(latent, seed)
    rcc_dir = out_dir / "rcc"
    rcc_dir.mkdir(parents=True, exist_ok=True)
    prefix = [f"{c},{n},{a}," for c, n, a in zip(sim["code_class"], sim["names"], sim["accession"], strict=True)]
    counts = sim["counts"].astype(str)
    for j, (sample, lane) in enumerate(
        zip(sim["samples"].to_dict("records"), sim["lanes"].to_dict("records"), strict=True)
    ):
        code_lines = "".join(p + c + "\n" for p, c in zip(prefix, counts[:, j], strict=True))
        with atomic_path(rcc_dir / sample["file"]) as temporary:
            temporary.write_text(_rcc_text(sample, lane, code_lines), newline="")
    write_table(sim["samples"], out_dir / "samples.tsv")
    write_table(sim["lanes"], out_dir / "lanes_truth.tsv")
    write_yaml(sim["truth"], out_dir / "truth.yaml")
    return sim["truth"]
