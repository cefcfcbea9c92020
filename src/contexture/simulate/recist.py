"""Simulated RECIST 1.1 measurement table for the demo cohort.

Reads the latent truth (:mod:`contexture.simulate`) and writes the long measurement
table of ``src/contexture/schemas/tables/recist.schema.yaml``: baseline at day -7, assessments
every 8 weeks (day 56, 112, ...) while the patient is on study, and for progressed
patients a scan on the truth progression day (the scan that documents progression, so
the clinical progression date and the RECIST one agree) plus, when the patient is alive
6 weeks later, one confirmatory scan showing further growth (iRECIST iCPD, SITC
confirmation; a new lesion is measurable -- >= 10 mm, a node >= 15 mm -- so it is a
new-lesion target whose +6 mm confirms).

Lesions: the baseline lesions of ``truth/lesions.tsv``. Target lesions are the largest
measurable ones (RECIST 1.1 section 3.1.1: >= 10 mm, lymph nodes >= 15 mm short axis; the
truth diameter is taken as the short axis of nodes), at most 5 and 2 per organ (section
4.2); the others are non-target. Trajectories per truth best response, with one drawn
factor per patient kept away from every threshold so the engine's answer is exact:

* CR: non-nodal targets 0 mm, nodal targets 5-9.5 mm (a CR with a non-zero sum), non-target absent;
* PR: every target x U(0.40, 0.60) of baseline (a node kept >= 10 mm when all targets are nodes);
* SD: every target x U(0.85, 1.10);
* NE: the first target is not measured at any assessment, and no progression scan is
  written (progression was clinical only);
* progression scan: by target growth (sum = 1.25 x nadir + 6 mm), a new lesion, or
  unequivocal non-target progression (drawn among those the patient can show).

Expected best overall response (what RECIST 1.1 with confirmation can observe),
returned by :func:`expected_best_response` and used by the tests:

* truth NE -> NE;
* no assessment before progression, death or censoring -> PD if the patient
  progressed (the progression scan), else NE (death before the first scan);
* CR/PR with a single assessment before the end of follow-up (no confirmation at
  day 112) -> SD (section 4.4.3: unconfirmed response, SD duration met at day 56);
* non-target-only disease (no measurable lesion): PR/SD -> NON-CR/NON-PD, and an
  unconfirmed CR -> NON-CR/NON-PD;
* otherwise the truth.
"""

from __future__ import annotations

__all__ = ["choose_targets", "expected_best_response", "simulate_recist"]

import numpy as np
import pandas as pd

BASELINE_DAY = -7
INTERVAL_DAYS = 56
CONFIRMATION_AFTER_PD_DAYS = 42
MAX_TARGETS, MAX_PER_ORGAN = 5, 2


def choose_targets(diameter: np.ndarray, site: np.ndarray) -> np.ndarray:
    """Indices of target lesions: largest measurable, <= 5 in all, <= 2 per organ (section 4.2)."""
    node = site == "lymph_node"
    measurable = np.where(node, diameter >= 15, diameter >= 10)
    chosen: list[int] = []
    per_organ: dict[str, int] = {}
    for i in np.argsort(-diameter, kind="stable"):
        if not measurable[i] or len(chosen) == MAX_TARGETS or per_organ.get(site[i], 0) == MAX_PER_ORGAN:
            continue
        chosen.append(int(i))
        per_organ[site[i]] = per_organ.get(site[i], 0) + 1
    return np.array(sorted(chosen), int)


def _response_diameters(bor: str, base: np.ndarray, node: np.ndarray, rng) -> np.ndarray:
    if bor == "CR":
        return np.where(node, rng.uniform(5, 9.5, base.size), 0.0)
    if bor == "PR":
        factor = rng.uniform(0.40, 0.60)
        # All-nodal disease must stay above 10 mm short axis to be PR, not CR (RECIST 1.1
        # §4.3.1); a patient without target lesions (non-target-only disease) has no sum.
        if node.size and node.all():
            factor = max(factor, 10.2 / base.max())
        return base * factor
    if bor == "SD":
        return base * rng.uniform(0.85, 1.10)
    return base.copy()


def _write_scan(rows, lesions, day, target_d, nt_status, new=(), missing_first=False) -> None:
    """Append one assessment's rows: targets (diameters), non-targets (status), new lesions."""
    pid = lesions["pid"]
    t_ids, t_site, t_node = lesions["targets"]
    nt_ids, nt_site, nt_node = lesions["non_targets"]
    for k in range(t_ids.size):
        value = np.nan if (missing_first and k == 0) else round(float(target_d[k]), 1)
        rows.append((pid, day, t_ids[k], "target", t_site[k], t_node[k], value, None))
    for k in range(nt_ids.size):
        status = nt_status[k] if isinstance(nt_status, list) else nt_status
        rows.append((pid, day, nt_ids[k], "non_target", nt_site[k], nt_node[k], np.nan, status))
    for lesion_id, organ, value in new:
        rows.append((pid, day, lesion_id, "new", organ, organ == "lymph_node", round(value, 1), "present"))


def simulate_recist(latent: pd.DataFrame, lesions: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(measurements, expected)``: the RECIST table and per-patient expected BOR.

    Deterministic for a given truth and seed.
    """
    rng = np.random.default_rng([seed, 2017])
    baseline = lesions[lesions["timepoint"] == "baseline"].sort_values(["patient_id", "lesion_id"], kind="stable")
    by_patient = {pid: group for pid, group in baseline.groupby("patient_id", sort=True)}
    rows: list[tuple] = []
    expected: list[dict] = []
    for patient in latent.sort_values("patient_id").itertuples(index=False):
        pid = patient.patient_id
        group = by_patient[pid]
        ids = group["lesion_id"].to_numpy()
        site = group["site"].to_numpy().astype(str)
        diameter = np.round(group["diameter_mm"].to_numpy(float), 1)
        node = site == "lymph_node"
        chosen = choose_targets(diameter, site)
        is_target = np.zeros(ids.size, bool)
        is_target[chosen] = True
        t_ids, t_site, t_node, t_base = ids[is_target], site[is_target], node[is_target], diameter[is_target]
        nt_ids, nt_site, nt_node = ids[~is_target], site[~is_target], node[~is_target]
        bor = str(patient.bor)
        progressed = bool(patient.progressed)
        end = float(patient.pfs_days)

        lesions_of = {"pid": pid, "targets": (t_ids, t_site, t_node), "non_targets": (nt_ids, nt_site, nt_node)}

        def scan(day, target_d, nt_status, new=(), missing_first=False, _lesions=lesions_of):
            _write_scan(rows, _lesions, day, target_d, nt_status, new, missing_first)

        scan(BASELINE_DAY, t_base, "present")
        response_days = [d for d in range(INTERVAL_DAYS, int(np.ceil(end)), INTERVAL_DAYS) if d < end]
        current = _response_diameters(bor, t_base, t_node, rng)
        nt_response = "absent" if bor == "CR" else "present"
        for day in response_days:
            if bor == "NE":
                scan(day, t_base, "present", missing_first=t_ids.size > 0)
                if t_ids.size == 0:  # non-target-only NE: a lesion not evaluated
                    rows[-nt_ids.size] = rows[-nt_ids.size][:7] + (None,)
            elif bor == "PD":
                scan(day, t_base, "present")
            else:
                scan(day, current, nt_response)
        pd_day = float(patient.pfs_days)
        if progressed and bor != "NE":
            level = current if (response_days and bor != "PD") else t_base
            nadir = min(t_base.sum(), level.sum()) if t_ids.size else 0.0
            options = (["target"] if t_ids.size else []) + ["new"] + (["non_target"] if nt_ids.size else [])
            how = options[int(rng.integers(len(options)))]
            new_organ = str(rng.choice(["liver", "lung", "bone", "skin", "lymph_node"]))
            new = []
            nt_status: object = "present"
            if how == "target":
                pd_d = t_base * (1.25 * nadir + 6) / t_base.sum()
            else:
                pd_d = level
                if how == "new":
                    # A measurable new lesion (iRECIST new-lesion target: >= 10 mm, nodes
                    # >= 15 mm short axis), so the +6 mm at confirmation is iCPD.
                    size = float(rng.uniform(10, 20)) + (5.0 if new_organ == "lymph_node" else 0.0)
                    new = [(f"{pid}-N01", new_organ, size)]
                else:
                    nt_status = ["unequivocal_progression"] + ["present"] * (nt_ids.size - 1)
            scan(pd_day, pd_d, nt_status, new)
            confirm_day = pd_day + CONFIRMATION_AFTER_PD_DAYS
            if patient.os_days > confirm_day:
                grown = pd_d + 6 * t_base / t_base.sum() if t_ids.size else pd_d
                scan(confirm_day, grown, nt_status, [(i, o, v + 6) for i, o, v in new])
        expected.append(
            {
                "patient_id": pid,
                "truth_bor": bor,
                "expected_bor": expected_best_response(bor, len(response_days), progressed, t_ids.size > 0),
                "target_lesions": int(t_ids.size),
                "response_assessments": len(response_days),
            }
        )
    columns = ["patient_id", "assessment_day", "lesion_id", "kind", "organ", "lymph_node", "diameter_mm", "status"]
    table = pd.DataFrame.from_records(rows, columns=columns)
    table["assessment_day"] = table["assessment_day"].astype(float).astype(int)
    table["lymph_node"] = table["lymph_node"].map({True: "true", False: "false"})
    return table, pd.DataFrame(expected)


def expected_best_response(bor: str, assessments: int, progressed: bool, has_targets: bool) -> str:
    """What RECIST 1.1 (with confirmation) can observe of the truth BOR; rules in the module docstring."""
    if bor == "NE":
        return "NE"
    if assessments == 0:
        return "PD" if progressed else "NE"
    if bor in ("CR", "PR") and assessments < 2:
        bor = "SD"
    if not has_targets and bor in ("PR", "SD"):
        return "NON-CR/NON-PD"
    return bor
