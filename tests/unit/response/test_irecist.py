"""iRECIST (Seymour et al. 2017): iUPD, confirmation (iCPD), reset and iBOR."""

import pandas as pd

from contexture.response import evaluate
from contexture.response.irecist import best_irecist_response, irecist_responses
from contexture.response.recist import best_overall_response, timepoint_responses
from tests.unit.response.test_recist import lesion, table, targets


def run(rows, **window):
    measurements = table(rows)
    tp = timepoint_responses(measurements)
    tp["irecist_response"] = irecist_responses(tp, measurements, **window)
    follow = tp[tp["assessment_day"] > 0]
    return (
        follow["overall_response"].tolist(),
        follow["irecist_response"].tolist(),
        best_overall_response(tp).iloc[0],
        best_irecist_response(tp).iloc[0],
    )


def test_pseudoprogression_is_pd_by_recist_and_ipr_by_irecist():
    # 50 mm -> 65 mm (+30%, +15 mm: PD) -> 30 mm -> 28 mm (PR confirmed 56 days later).
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 112, 30) + targets("A", 168, 28)
    recist, irecist, bor, ibor = run(rows)
    assert recist == ["PD", "PR", "PR"]
    assert irecist == ["iUPD", "iPR", "iPR"]
    assert bor == "PD" and ibor == "iPR"


def test_iupd_confirmed_by_further_5_mm_growth():
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 112, 70) + targets("A", 168, 20)
    _, irecist, _, ibor = run(rows)
    assert irecist == ["iUPD", "iCPD", "iCPD"]  # iCPD is final
    assert ibor == "iCPD"


def test_iupd_stays_without_further_growth_or_shrinkage():
    # 65 -> 69 mm: still PD against the 50-mm nadir, +4 mm over iUPD: remains iUPD.
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 112, 69)
    _, irecist, _, ibor = run(rows)
    assert irecist == ["iUPD", "iUPD"] and ibor == "iUPD"


def test_new_category_confirms():
    # iUPD on target growth, then a new lesion appears: iCPD.
    rows = (
        targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 112, 60) + [("A", 112, "X1", "new", 10, "present")]
    )
    assert run(rows)[1] == ["iUPD", "iCPD"]


def test_new_lesions_confirm_by_growth_or_number_and_persisting_keep_iupd():
    base = targets("A", -7, 50)
    iupd = targets("A", 56, 40) + [("A", 56, "X1", "new", 10, "present")]
    same = targets("A", 112, 30) + [("A", 112, "X1", "new", 12, "present")]  # +2 mm only
    grown = targets("A", 168, 30) + [("A", 168, "X1", "new", 16, "present")]  # +6 mm over iUPD
    assert run(base + iupd + same + grown)[1] == ["iUPD", "iUPD", "iCPD"]
    more = targets("A", 112, 30) + [("A", 112, "X1", "new", 10, "present"), ("A", 112, "X2", "new", 6, "present")]
    assert run(base + iupd + more)[1] == ["iUPD", "iCPD"]
    # The new lesion resolves and targets shrink: reset to iPR.
    gone = targets("A", 112, 30) + [("A", 112, "X1", "new", None, "absent")]
    assert run(base + iupd + gone)[1] == ["iUPD", "iPR"]


def test_reset_then_new_iupd_episode():
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 112, 45) + targets("A", 168, 60)
    # After the reset (iSD at 45 mm, new nadir 45), 60 mm = +33% and +15 mm: a new iUPD.
    assert run(rows)[1] == ["iUPD", "iSD", "iUPD"]


def test_non_evaluable_scan_leaves_iupd_open():
    rows = targets("A", -7, 50, 20) + targets("A", 56, 65, 20) + targets("A", 112, 30, None) + targets("A", 168, 72, 20)
    assert run(rows)[1] == ["iUPD", "iUPD", "iCPD"]


# --------------------------------------------------------------------------------------
# Issue 18: new-lesion targets, the confirmation window, reappearance after CR.
# --------------------------------------------------------------------------------------
def new(patient, day, lesion_id, diameter, status="present", organ="liver", node=False, kind="new"):
    """A new-lesion row: :func:`tests.unit.response.test_recist.lesion` with the new-lesion defaults."""
    return lesion(patient, day, lesion_id, kind, diameter, status, organ, node)


def with_new(rows, records):
    out = pd.concat([table(rows), pd.DataFrame.from_records(records)], ignore_index=True)
    out["status"] = out["status"].astype("string")
    return out


def evaluated(measurements, options=None):
    timepoints, _ = evaluate(measurements, None, options)
    return timepoints[timepoints["assessment_day"] > 0]


def test_two_new_liver_targets_grow_5_mm_while_a_third_shrinks_is_icpd():
    # iRECIST (Seymour 2017, "new lesions"; Table 2): at iUPD the new lesions are split into
    # up to 5 new-lesion targets, 2 per organ, and non-targets. Liver 20 and 15 mm are the
    # NLT (largest first); the third liver lesion (12 mm) is an NLNT (2 per organ). At the
    # next scan the NLT sum grows 35 -> 40 mm (+5 mm): iCPD, though the third shrinks to 8
    # and all new lesions together grow only 47 -> 48 mm.
    rows = targets("A", -7, 50) + targets("A", 56, 45) + targets("A", 112, 45)
    records = [
        new("A", 56, "X1", 20),
        new("A", 56, "X2", 15),
        new("A", 56, "X3", 12),
        new("A", 112, "X1", 23),
        new("A", 112, "X2", 17),
        new("A", 112, "X3", 8),
    ]
    tp = evaluated(with_new(rows, records))
    assert tp["irecist_response"].tolist() == ["iUPD", "iCPD"]
    assert tp["new_target_sum_mm"].tolist() == [35, 40]
    assert "new-lesion target sum +5 mm" in tp["irecist_basis"].iloc[1]


def test_new_lesion_target_selection_rules():
    # Up to 5 NLT, <= 2 per organ (all nodes one organ), >= 10 mm, nodes >= 15 mm short axis.
    from contexture.response.irecist import new_lesion_roles

    records = [
        new("A", 56, "L1", 30),
        new("A", 56, "L2", 25),
        new("A", 56, "L3", 24),  # third in the liver: NLNT
        new("A", 56, "P1", 9, organ="lung"),  # under 10 mm: NLNT
        new("A", 56, "N1", 14, organ="neck", node=True),  # node under 15 mm: NLNT
        new("A", 56, "N2", 16, organ="axilla", node=True),
        new("A", 56, "N3", 18, organ="groin", node=True),
        new("A", 56, "N4", 19, organ="mediastinum", node=True),  # third node: NLNT
        new("A", 56, "B1", 12, organ="bone"),  # sixth measurable: NLNT (5 at most)
        new("A", 56, "S1", 11, organ="skin"),
    ]
    measurements = with_new(targets("A", -7, 50), records)
    roles = new_lesion_roles(measurements).set_index("lesion_id")["role"]
    assert sorted(roles[roles == "target"].index) == ["B1", "L1", "L2", "N3", "N4"]
    # A reader's own split is kept: L1 marked new_non_target, S1 marked new_target. S1 takes
    # its place first; then L2, L3 (liver), N4, N3 (nodes) fill the 5: B1 is now an NLNT.
    records[0]["kind"] = "new_non_target"
    records[-1]["kind"] = "new_target"
    roles = new_lesion_roles(with_new(targets("A", -7, 50), records)).set_index("lesion_id")["role"]
    assert sorted(roles[roles == "target"].index) == ["L2", "L3", "N3", "N4", "S1"]


def test_new_lesion_non_target_progression_or_a_further_new_lesion_confirm():
    # Table 2: iCPD on any increase of a new-lesion non-target, or a further new lesion.
    rows = targets("A", -7, 50) + targets("A", 56, 45) + targets("A", 112, 45)
    small = [new("A", 56, "X1", 8), new("A", 112, "X1", 8, status="unequivocal_progression")]
    assert evaluated(with_new(rows, small))["irecist_response"].tolist() == ["iUPD", "iCPD"]
    further = [new("A", 56, "X1", 12), new("A", 112, "X1", 12), new("A", 112, "X2", 6)]
    tp = evaluated(with_new(rows, further))
    assert tp["irecist_response"].tolist() == ["iUPD", "iCPD"] and "further new lesion" in tp["irecist_basis"].iloc[1]
    # The same lesions, unchanged: iUPD stays.
    same = [new("A", 56, "X1", 12), new("A", 112, "X1", 12)]
    assert evaluated(with_new(rows, same))["irecist_response"].tolist() == ["iUPD", "iUPD"]


def test_scan_earlier_than_4_weeks_neither_confirms_nor_resets():
    # iRECIST confirms at the next assessment 4-8 weeks after iUPD; FAQ: scans done less
    # than 4 weeks after the initial iUPD are disregarded. Day 63 (7 days after the iUPD)
    # shows +7 mm: recorded as iUPD, not iCPD; day 112 (56 days) shows +1 mm: iUPD stays.
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 63, 72) + targets("A", 112, 66)
    recist, irecist, _, ibor = run(rows)
    assert irecist == ["iUPD", "iUPD", "iUPD"] and ibor == "iUPD"
    # Shrinkage 7 days after the iUPD does not reset it either; at day 112 it does (iPR).
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 63, 30) + targets("A", 112, 30)
    assert run(rows)[1] == ["iUPD", "iUPD", "iPR"]
    # The window is configurable: with a 1-week minimum the day-63 scan confirms.
    rows = targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 63, 72)
    assert run(rows, confirmation_min_days=7)[1] == ["iUPD", "iCPD"]


def test_scan_later_than_the_window_is_used_and_says_so():
    # Next scan 84 days after the iUPD (window 28-56): used, and the basis says it was late.
    measurements = table(targets("A", -7, 50) + targets("A", 56, 65) + targets("A", 140, 72))
    tp = evaluated(measurements)
    assert tp["irecist_response"].tolist() == ["iUPD", "iCPD"]
    assert "84 days after the previous one, later than 56 (used)" in tp["irecist_basis"].iloc[1]


def test_reappearance_after_cr_is_iupd_and_stays_while_the_lesion_stays():
    # RECIST 1.1 FAQ: reappearance after CR is PD, so iUPD; the lesion still there 8 weeks
    # later keeps it open (iUPD); 5 mm more confirms (iCPD).
    rows = targets("A", -7, 30) + targets("A", 56, 0) + targets("A", 112, 0) + targets("A", 168, 3)
    rows += targets("A", 224, 3) + targets("A", 280, 8)
    recist, irecist, bor, ibor = run(rows)
    assert recist[:3] == ["CR", "CR", "PD"]
    assert irecist == ["iCR", "iCR", "iUPD", "iUPD", "iCPD"]
    assert bor == "CR" and ibor == "iCR"
