"""iRECIST (Seymour et al. 2017): iUPD, confirmation (iCPD), reset and iBOR."""

from contexture.response.irecist import best_irecist_response, irecist_responses
from contexture.response.recist import best_overall_response, timepoint_responses
from tests.unit.response.test_recist import table, targets


def run(rows):
    tp = timepoint_responses(table(rows))
    tp["irecist_response"] = irecist_responses(tp)
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
