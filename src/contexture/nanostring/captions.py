"""Report captions of the NanoString stage: lane QC figures and the lane table."""

from __future__ import annotations

from contexture.captioning import Cohort, Facts


def _lane_qc(title: str) -> Facts:
    def facts(c: Cohort, name: str) -> tuple[str, str]:
        lanes = c.table("nanostring/lanes.tsv")
        failed = int((~lanes["qc_pass"]).sum()) if "qc_pass" in lanes else 0
        return title, f"n = {len(lanes)} lanes, {failed} failing QC (nSolver thresholds; no test)"

    return facts


FACTS: dict[str, Facts] = {
    "nanostring_binding_density.png": _lane_qc("NanoString binding density per lane"),
    "nanostring_imaging.png": _lane_qc("NanoString imaging (FOV ratio) per lane"),
    "nanostring_positive_control_linearity.png": _lane_qc("NanoString positive-control linearity"),
    "nanostring_normalization_factors.png": _lane_qc("NanoString normalization factors"),
    "nanostring_relative_log_expression.png": _lane_qc("NanoString relative log expression"),
    "lanes.tsv": _lane_qc("NanoString lane QC"),
}


__all__ = [
    "FACTS",
]
