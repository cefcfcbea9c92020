"""RECIST 1.1 engine: hand-worked cases from Eisenhauer et al. 2009 (sections cited)."""

import textwrap

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.io.validation import read_validated_table
from contexture.response import evaluate
from contexture.response.recist import (
    best_overall_response,
    check_measurements,
    is_target_progression,
    response_rates,
    timepoint_responses,
)

COLUMNS = ["patient_id", "assessment_day", "lesion_id", "kind", "organ", "lymph_node", "diameter_mm", "status"]


def table(rows):
    """Rows as (patient, day, lesion, kind, diameter, status[, lymph_node])."""
    records = []
    for row in rows:
        patient, day, lesion, kind, diameter, status, *node = row
        records.append(
            {
                "patient_id": patient,
                "assessment_day": float(day),
                "lesion_id": lesion,
                "kind": kind,
                "organ": "lymph_node" if node and node[0] else "liver",
                "lymph_node": bool(node and node[0]),
                "diameter_mm": np.nan if diameter is None else float(diameter),
                "status": status,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame["status"] = frame["status"].astype("string")
    return frame


def targets(patient, day, *diameters, node=()):
    return [(patient, day, f"T{i + 1}", "target", d, None, i in node) for i, d in enumerate(diameters)]


def responses(rows, **options):
    tp = timepoint_responses(table(rows))
    return tp[tp["assessment_day"] > 0]


def bor(rows, **options):
    return best_overall_response(timepoint_responses(table(rows)), **options).iloc[0]


def test_nadir_rule_needs_20_percent_and_5_mm():
    # Baseline 100 -> nadir 20 at day 56. Day 112: 24 mm = +20% but only +4 mm: not PD (SD).
    # Day 168: 25 mm = +25% and +5 mm over the nadir: PD (section 4.3.1).
    rows = targets("A", -7, 60, 40) + targets("A", 56, 12, 8) + targets("A", 112, 14, 10) + targets("A", 168, 15, 10)
    tp = responses(rows)
    assert tp["target_sum_mm"].tolist() == [20, 24, 25]
    assert tp["nadir_mm"].tolist() == [100, 20, 20]
    assert tp["pct_from_nadir"].tolist() == pytest.approx([-80, 20, 25])
    assert tp["pct_from_baseline"].tolist() == pytest.approx([-80, -76, -75])
    assert tp["target_response"].tolist() == ["PR", "PR", "PD"]
    # The 5-mm floor on its own: a 30% rise of a 10-mm nadir (3 mm) is not PD.
    assert not is_target_progression(13, 10) and is_target_progression(15, 10) and not is_target_progression(14.9, 12.5)


def test_nodal_cr_with_non_zero_sum():
    # Two nodes of 20 and 16 mm short axis shrink to 9 and 7 mm; the liver lesion disappears.
    # Every node < 10 mm and non-nodal 0 mm -> CR with a 16-mm sum (section 4.3.2).
    rows = targets("A", -7, 30, 20, 16, node=(1, 2)) + targets("A", 56, 0, 9, 7, node=(1, 2))
    rows += targets("A", 112, 0, 9.9, 8, node=(1, 2))
    tp = responses(rows)
    assert tp["target_sum_mm"].tolist() == pytest.approx([16, 17.9])
    assert tp["target_response"].tolist() == ["CR", "CR"]
    assert tp["overall_response"].tolist() == ["CR", "CR"]
    assert bor(rows) == "CR"
    # A node at exactly 10 mm is not normal: PR (sum 19 <= 0.7 x 66).
    rows10 = targets("B", -7, 30, 20, 16, node=(1, 2)) + targets("B", 56, 0, 10, 9, node=(1, 2))
    assert responses(rows10)["target_response"].tolist() == ["PR"]


def test_unconfirmed_pr_becomes_sd_when_sd_duration_met():
    # PR at day 56, then SD at day 112: PR not confirmed -> SD (Table 3, PR then SD).
    # Day 112: 35.5 mm is above 0.7 x 50 and below 1.2 x the 30-mm nadir: SD.
    rows = targets("A", -7, 50) + targets("A", 56, 30) + targets("A", 112, 35.5)
    assert responses(rows)["overall_response"].tolist() == ["PR", "SD"]
    assert bor(rows) == "SD"
    assert bor(rows, confirmation=False) == "PR"
    # Confirmed: PR at 56 and 112 (>= 28 days apart) -> PR.
    rows = targets("A", -7, 50) + targets("A", 56, 30) + targets("A", 112, 32)
    assert bor(rows) == "PR"
    # Confirmation too early (21 days): unconfirmed PR -> SD.
    rows = targets("A", -7, 50) + targets("A", 56, 30) + targets("A", 77, 30)
    assert bor(rows) == "SD"
    # PR at day 28 only, then loss to follow-up: SD needs day >= 42 -> NE.
    assert bor(targets("A", -7, 50) + targets("A", 28, 30)) == "NE"


def test_early_sd_then_pd_is_pd():
    # SD at day 35 (< 42 days minimum) then PD at day 84: BOR PD (section 4.4.3).
    rows = targets("A", -7, 50) + targets("A", 35, 48) + targets("A", 84, 70)
    assert responses(rows)["overall_response"].tolist() == ["SD", "PD"]
    assert bor(rows) == "PD"
    assert bor(rows, min_sd_days=28) == "SD"
    # Responses after the first PD never count.
    rows += targets("A", 140, 20) + targets("A", 196, 20)
    assert bor(rows) == "PD"


def test_unequivocal_non_target_progression():
    rows = targets("A", -7, 50) + [("A", -7, "N1", "non_target", None, "present")]
    rows += targets("A", 56, 30) + [("A", 56, "N1", "non_target", None, "unequivocal_progression")]
    tp = responses(rows)
    assert tp[["target_response", "non_target_response", "overall_response"]].iloc[0].tolist() == ["PR", "PD", "PD"]


def test_new_lesion_despite_shrinkage():
    rows = targets("A", -7, 50, 30) + targets("A", 56, 10, 5) + [("A", 56, "X1", "new", 8, "present")]
    tp = responses(rows)
    assert tp["target_response"].iloc[0] == "PR" and bool(tp["new_lesions"].iloc[0])
    assert tp["overall_response"].iloc[0] == "PD"
    # A 'new' row recorded as absent is not a new lesion.
    rows = targets("A", -7, 50) + targets("A", 56, 30) + [("A", 56, "X1", "new", None, "absent")]
    assert responses(rows)["overall_response"].iloc[0] == "PR"


def test_missing_target_measurement_is_ne_unless_pd_is_proven():
    # Baseline 50 + 30; lesion 2 missing at day 56: NE (section 4.4.2).
    rows = targets("A", -7, 50, 30) + [("A", 56, "T1", "target", 20, None)]
    tp = responses(rows)
    assert tp["target_response"].iloc[0] == "NE" and np.isnan(tp["target_sum_mm"].iloc[0])
    assert tp["overall_response"].iloc[0] == "NE"
    # Lesion present with an empty diameter: also NE.
    rows = targets("A", -7, 50, 30) + targets("A", 56, 20, None)
    assert responses(rows)["target_response"].iloc[0] == "NE"
    # The measured lesion alone already exceeds nadir + 20% and + 5 mm (96 >= 1.2 x 80): PD.
    rows = targets("A", -7, 50, 30) + [("A", 56, "T1", "target", 96, None)]
    assert responses(rows)["overall_response"].iloc[0] == "PD"
    # Whole follow-up NE -> BOR NE.
    assert bor(targets("A", -7, 50, 30) + targets("A", 56, 20, None) + targets("A", 112, 20, None)) == "NE"


def test_non_target_only_disease():
    base = [("A", -7, "N1", "non_target", None, "present"), ("A", -7, "N2", "non_target", None, "present")]
    present = [("A", d, n, "non_target", None, "present") for d in (56, 112) for n in ("N1", "N2")]
    tp = responses(base + present)
    assert tp["target_response"].isna().all() and tp["target_sum_mm"].isna().all()
    assert tp["overall_response"].tolist() == ["NON-CR/NON-PD", "NON-CR/NON-PD"]
    assert bor(base + present) == "NON-CR/NON-PD"
    gone = [("A", d, n, "non_target", None, "absent") for d in (56, 112) for n in ("N1", "N2")]
    assert responses(base + gone)["overall_response"].tolist() == ["CR", "CR"]
    assert bor(base + gone) == "CR"
    # Unconfirmed CR (one scan) in non-target-only disease -> NON-CR/NON-PD.
    assert bor(base + gone[:2]) == "NON-CR/NON-PD"
    # One lesion not evaluated -> NE (Table 2).
    partial = [("A", 56, "N1", "non_target", None, "absent")]
    assert responses(base + partial)["overall_response"].tolist() == ["NE"]


def test_table1_cr_with_non_target_residual_is_pr():
    rows = targets("A", -7, 30) + [("A", -7, "N1", "non_target", None, "present")]
    rows += targets("A", 56, 0) + [("A", 56, "N1", "non_target", None, "present")]
    rows += targets("A", 112, 0) + [("A", 112, "N1", "non_target", None, "absent")]
    rows += targets("A", 168, 0) + [("A", 168, "N1", "non_target", None, "absent")]
    tp = responses(rows)
    assert tp["overall_response"].tolist() == ["PR", "CR", "CR"]
    assert bor(rows) == "CR"


def test_reappearance_after_cr_uses_zero_nadir():
    rows = targets("A", -7, 30) + targets("A", 56, 0) + targets("A", 112, 5)
    tp = responses(rows)
    assert tp["nadir_mm"].tolist() == [30, 0]
    assert tp["target_response"].tolist() == ["CR", "PD"]
    assert np.isnan(tp["pct_from_nadir"].iloc[1])


def test_rates_with_clopper_pearson_intervals():
    bors = pd.DataFrame({"bor": ["CR", "PR", "SD", "PD", "PD", "NE", "PR", "PD", "SD", "PD"]})
    rates = response_rates(bors).set_index("endpoint")
    assert rates.loc["ORR", "count"] == 3 and rates.loc["ORR", "n"] == 10
    # R: binom.test(3, 10)$conf.int -> 0.06673951 0.65245285
    assert rates.loc["ORR", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.06673951, 0.65245285], abs=1e-7)
    # R: binom.test(5, 10)$conf.int -> 0.1870860 0.8129140
    assert rates.loc["DCR", "rate"] == 0.5
    assert rates.loc["DCR", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.1870860, 0.8129140], abs=1e-6)


def test_ten_thousand_patients_quickly():
    import time

    rng = np.random.default_rng(0)
    n, days = 10_000, [-7, 56, 112, 168, 224, 280]
    patients = np.repeat([f"P{i:05d}" for i in range(n)], 5 * len(days))
    day = np.tile(np.repeat(days, 5), n)
    lesion = np.tile([f"T{k}" for k in range(5)], n * len(days))
    frame = pd.DataFrame(
        {
            "patient_id": patients,
            "assessment_day": day.astype(float),
            "lesion_id": lesion,
            "kind": "target",
            "organ": "liver",
            "lymph_node": False,
            "diameter_mm": rng.uniform(5, 40, patients.size).round(1),
            "status": pd.Series(pd.NA, index=range(patients.size), dtype="string"),
        }
    )
    start = time.perf_counter()
    timepoints, features = evaluate(frame)
    elapsed = time.perf_counter() - start
    assert len(features) == n and len(timepoints) == n * len(days)
    assert elapsed < 30, elapsed


def write(tmp_path, text):
    path = tmp_path / "recist.tsv"
    path.write_text(textwrap.dedent(text).lstrip().replace("|", "\t"))
    return path


def test_diameter_that_is_not_a_number_names_file_row_column(tmp_path):
    path = write(
        tmp_path,
        """
        patient_id|assessment_day|lesion_id|kind|organ|lymph_node|diameter_mm|status
        A|-7|T1|target|liver|false|28|
        A|56|T1|target|liver|false|2,8 mm|
        """,
    )
    with pytest.raises(InputError) as error:
        read_validated_table(path, "tables/recist")
    message = str(error.value)
    assert str(path) in message and "row 2 (line 3)" in message and "column 'diameter_mm'" in message
    assert "'2,8 mm'" in message


def test_target_missing_at_baseline_names_row(tmp_path):
    path = write(
        tmp_path,
        """
        patient_id|assessment_day|lesion_id|kind|organ|lymph_node|diameter_mm|status
        A|-7|T1|target|liver|false|28|
        A|-7|N1|non_target|lung|false||present
        A|56|T1|target|liver|false|20|
        A|56|T2|target|liver|false|15|
        A|56|N9|non_target|lung|false||present
        B|-7|T1|target|liver|false||
        B|-3|X1|new|liver|false|5|present
        C|56|T1|target|liver|false|5|
        """,
    )
    measurements = read_validated_table(path, "tables/recist")
    problems = [str(p) for p in check_measurements(measurements, str(path))]
    assert len(problems) == 5
    assert "row 4 (line 5), column 'lesion_id': got 'T2'; expected a target lesion recorded as target" in problems[0]
    assert "row 5" in problems[1] and "non_target lesion recorded as non_target" in problems[1]
    assert "row 6" in problems[2] and "column 'diameter_mm'" in problems[2]
    assert "row 7" in problems[3] and "column 'kind'" in problems[3]
    assert "row 8" in problems[4] and "baseline assessment" in problems[4]
    with pytest.raises(InputError) as error:
        evaluate(measurements, file=str(path))
    assert "5 problem(s)" in str(error.value) and str(path) in str(error.value)


def test_simulator_handles_a_partial_response_without_target_lesions():
    """A PR patient whose lesions are all too small to be targets (seen at 1,000 patients)."""
    import numpy as np

    from contexture.simulate.recist import _response_diameters

    empty = np.array([], float)
    assert _response_diameters("PR", empty, np.array([], bool), np.random.default_rng(1)).size == 0


# --------------------------------------------------------------------------------------
# Issue 18: cases as a trained reader scores them (rule cited in each test).
# --------------------------------------------------------------------------------------
def lesion(patient, day, lesion_id, kind, diameter=None, status=None, organ="liver", node=False):
    return {
        "patient_id": patient,
        "assessment_day": float(day),
        "lesion_id": lesion_id,
        "kind": kind,
        "organ": organ,
        "lymph_node": node,
        "diameter_mm": np.nan if diameter is None else float(diameter),
        "status": status,
    }


def frame(records):
    out = pd.DataFrame.from_records(records, columns=COLUMNS)
    out["status"] = out["status"].astype("string")
    return out


def test_exactly_70_percent_is_pr():
    # Section 4.3.1: PR is "at least a 30% decrease": 35 mm of a 50-mm baseline is exactly
    # 70% and PR; so is 23.31 of 33.3 (floating-point sums of decimals).
    assert responses(targets("A", -7, 50) + targets("A", 56, 35))["target_response"].tolist() == ["PR"]
    assert responses(targets("A", -7, 20, 13.3) + targets("A", 56, 14, 9.31))["target_response"].tolist() == ["PR"]
    assert responses(targets("A", -7, 50) + targets("A", 56, 35.1))["target_response"].tolist() == ["SD"]


def test_confirmation_across_one_not_evaluable_scan():
    # Section 4.6.1 with the admiralonco rule: PR, NE, PR (>= 28 days apart) confirms PR;
    # two NE in between do not (max_ne_between = 1), so the PR is unconfirmed -> SD.
    one = targets("A", -7, 50, 30) + targets("A", 56, 20, 10) + targets("A", 112, 20, None)
    one += targets("A", 168, 20, 10)
    assert responses(one)["overall_response"].tolist() == ["PR", "NE", "PR"]
    assert bor(one) == "PR"
    two = targets("A", -7, 50, 30) + targets("A", 56, 20, 10) + targets("A", 112, 20, None)
    two += targets("A", 140, 20, None) + targets("A", 196, 20, 10)
    assert bor(two) == "SD" and bor(two, max_ne_between=2) == "PR"


def test_reappearance_after_cr_is_pd_whatever_its_size():
    # RECIST 1.1 FAQ (EORTC, "Does a new lesion always result in PD?"): when CR (overall)
    # was assigned at the previous assessment, the reappearance of any lesion is PD. A
    # target at 0 mm through a confirmed CR reappearing at 3 mm (+3 mm over a 0-mm nadir,
    # below the 5-mm floor of s4.3.1) is PD, not PR.
    rows = targets("A", -7, 30) + targets("A", 56, 0) + targets("A", 112, 0) + targets("A", 168, 3)
    tp = responses(rows)
    assert tp["overall_response"].tolist() == ["CR", "CR", "PD"]
    assert tp["target_response"].tolist() == ["CR", "CR", "PD"]
    assert "reappeared after an overall CR" in tp["overall_basis"].iloc[2]
    assert bor(rows) == "CR"
    # Through an NE scan the patient is still in CR (the previous evaluable response).
    rows_ne = targets("A", -7, 30, 20) + targets("A", 56, 0, 0) + targets("A", 112, 0, None)
    rows_ne += targets("A", 168, 3, 0)
    assert responses(rows_ne)["overall_response"].tolist() == ["CR", "NE", "PD"]
    # A nodal target back to >= 10 mm short axis after CR is PD (FAQ: nodes 'reappear' at 10 mm).
    nodes = targets("B", -7, 20, 16, node=(0, 1)) + targets("B", 56, 8, 7, node=(0, 1))
    nodes += targets("B", 112, 10, 7, node=(0, 1))
    assert responses(nodes)["overall_response"].tolist() == ["CR", "PD"]
    # A non-target seen again after an overall CR is PD.
    nt = targets("C", -7, 30) + [("C", -7, "N1", "non_target", None, "present")]
    nt += targets("C", 56, 0) + [("C", 56, "N1", "non_target", None, "absent")]
    nt += targets("C", 112, 0) + [("C", 112, "N1", "non_target", None, "present")]
    tp = responses(nt)
    assert tp["overall_response"].tolist() == ["CR", "PD"] and tp["non_target_response"].tolist() == ["CR", "PD"]
    # After a PR (not CR) a reappearing lesion only adds to the sum (FAQ): 2 + 3 mm of a
    # 50-mm baseline stays PR.
    pr = targets("D", -7, 30, 20) + targets("D", 56, 2, 0) + targets("D", 112, 2, 3)
    assert responses(pr)["overall_response"].tolist() == ["PR", "PR"]


def test_new_lesion_with_empty_status_is_not_evaluated_not_pd():
    # The schema: an empty status means "not evaluated". Without other progression the
    # assessment is NE (a new lesion cannot be ruled out), never PD by itself.
    rows = targets("A", -7, 50) + targets("A", 56, 30) + [("A", 56, "X1", "new", 8, None)]
    tp = responses(rows)
    assert tp["new_lesions"].tolist() == [False] and tp["new_not_evaluated"].tolist() == [1]
    assert tp["overall_response"].tolist() == ["NE"]
    assert tp["overall_basis"].iloc[0].startswith("new-lesion status not evaluated")
    # Target PD is still PD.
    rows = targets("A", -7, 50) + targets("A", 56, 70) + [("A", 56, "X1", "new", 8, None)]
    assert responses(rows)["overall_response"].tolist() == ["PD"]


def test_target_selection_is_checked_against_section_4_2():
    # Seven targets, three in the liver, a 12-mm node and an 8-mm lung lesion as targets:
    # RECIST 1.1 s4.2 allows 5 targets, 2 per organ; s3.1.1 measurable = >= 10 mm, nodes
    # >= 15 mm short axis (10-15 mm nodes are non-targets).
    from contexture.response.recist import selection_problems, target_selection_warnings

    base = [
        lesion("A", -7, "L1", "target", 40),
        lesion("A", -7, "L2", "target", 30),
        lesion("A", -7, "L3", "target", 20),
        lesion("A", -7, "N1", "target", 12, organ="lymph node", node=True),
        lesion("A", -7, "P1", "target", 8, organ="lung"),
        lesion("A", -7, "B1", "target", 25, organ="bone"),
        lesion("A", -7, "K1", "target", 22, organ="Kidney "),
        lesion("OK", -7, "L1", "target", 40),
        lesion("OK", -7, "N1", "target", 15, organ="lymph node", node=True),
    ]
    warnings = target_selection_warnings(frame(base))
    assert warnings["patient_id"].tolist() == ["A"] * 4
    by_rule = warnings.set_index("rule")
    assert by_rule.loc["max_5_targets", "lesion_ids"] == "L1,L2,L3,N1,P1,B1,K1"
    assert by_rule.loc["max_2_per_organ", "lesion_ids"] == "L1,L2,L3"
    assert by_rule.loc["non_nodal_min_10mm", "lesion_ids"] == "P1"
    assert by_rule.loc["nodal_min_15mm", "lesion_ids"] == "N1"
    assert "10-15 mm nodes are non-targets" in by_rule.loc["nodal_min_15mm", "detail"]
    # The default is a warning; response.strict_selection makes it an error naming them.
    from contexture.response import selection_warnings

    assert len(selection_warnings(frame(base), {})) == 4
    with pytest.raises(InputError) as error:
        selection_warnings(frame(base), {"strict_selection": True}, file="r.tsv")
    assert "4 problem(s)" in str(error.value) and "'L1,L2,L3'" in str(error.value)
    assert len(selection_problems(warnings, "r.tsv")) == 4


def test_diameters_in_cm_are_refused_and_converted_on_request(tmp_path):
    # All targets 0.9-2.0: a cohort measured in cm. The sums would be 10x too small and
    # iRECIST's +5 mm could never be reached; refused, suggesting the unit.
    from contexture.response import read_measurements

    cm = table(targets("A", -7, 1.2, 0.9) + targets("A", 56, 1.5, 1.0) + targets("B", -7, 2.0) + targets("B", 56, 2))
    with pytest.raises(InputError) as error:
        evaluate(cm)
    assert "look like centimetres" in str(error.value) and "response.units: cm" in str(error.value)
    path = write(
        tmp_path,
        """
        patient_id|assessment_day|lesion_id|kind|diameter_cm
        A|-7|T1|target|5.0
        A|56|T1|target|6.5
        A|112|T1|target|7.1
        """,
    )
    with pytest.raises(InputError) as error:
        read_measurements(path)
    assert "column 'diameter_cm'" in str(error.value) and "response.units: cm" in str(error.value)
    # response.units: cm reads it as centimetres: 50 -> 65 mm (PD, iUPD) -> 71 mm (+6 mm: iCPD).
    measurements = read_measurements(path, "cm")
    assert measurements["diameter_mm"].tolist() == pytest.approx([50, 65, 71])
    timepoints, _ = evaluate(measurements)
    assert timepoints["irecist_response"].tolist()[1:] == ["iUPD", "iCPD"]
