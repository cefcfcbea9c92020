"""Expression matrix checks, paired changes and correlations (the tests themselves: tests/unit/stats)."""

import numpy as np
import pandas as pd
import pytest

from contexture.errors import InputError
from contexture.signatures.expression import (
    analysis_samples,
    expression_changes,
    expression_matrix,
    paired_changes,
    read_gene_list,
    responder_status,
    spearman_correlations,
)


def test_expression_matrix_reports_duplicates_and_non_finite_values():
    table = pd.DataFrame({"name": ["A", "B", "A"], "S1": [1.0, np.inf, 2.0], "S2": [1.0, 2.0, "x"]})
    with pytest.raises(InputError) as error:
        expression_matrix(table, file="normalized.tsv")
    text = str(error.value)
    assert "4 problem(s)" in text
    assert "row 1 (line 2), column 'name': got 'A'; expected each gene once" in text
    assert "row 2 (line 3), column 'S1'" in text and "row 3 (line 4), column 'S2': got 'x'" in text


def test_analysis_samples_keeps_included_samples_in_matrix_order():
    samples = pd.DataFrame(
        {
            "sample_id": ["s1", "s2", "s3"],
            "patient_id": ["P1", "P1", "P2"],
            "timepoint": ["baseline", "on_treatment", "baseline"],
            "included": [True, False, True],
        }
    )
    chosen = analysis_samples(samples, ["s3", "s1", "s2"])
    assert chosen["sample_id"].tolist() == ["s3", "s1"]
    with pytest.raises(InputError, match=r"column\(s\) \['s9'\] have no row"):
        analysis_samples(samples, ["s1", "s3", "s9"])
    with pytest.raises(InputError, match=r"included sample\(s\) \['s3'\] are not columns"):
        analysis_samples(samples, ["s1", "s2"])


def test_spearman_matches_r():
    # R: cor.test(a, b, method = "spearman", exact = FALSE)  ->  rho = 0.928571428571428, p = 0.00251947240379473
    a = [1.0, 2.5, 3.1, 4.8, 2.2, 6.0, 5.5]
    b = [2.0, 2.1, 3.9, 4.0, 1.0, 5.2, 6.1]
    baseline = pd.DataFrame([a, b], index=["CCL5", "CD3E"], columns=[f"P{i}" for i in range(7)])
    table = spearman_correlations(
        baseline,
        read_gene_list(pd.DataFrame({"gene": ["CCL5", "IL21"]})),
        read_gene_list(pd.DataFrame({"gene": ["CD3E"]})),
    )
    assert len(table) == 1 and table.loc[0, "n"] == 7
    assert table.loc[0, "rho"] == pytest.approx(0.928571428571428, rel=1e-12)
    assert table.loc[0, "p"] == pytest.approx(0.00251947240379473, rel=1e-9)


def test_paired_changes_average_replicates_and_need_both_timepoints():
    values = pd.DataFrame({"a": [1.0], "b": [3.0], "c": [5.0], "d": [2.0], "e": [9.0]}, index=["G"])
    samples = pd.DataFrame(
        {
            "sample_id": list("abcde"),
            "patient_id": ["P1", "P1", "P1", "P2", "P3"],
            "timepoint": ["baseline", "baseline", "on_treatment", "on_treatment", "baseline"],
        }
    )
    changes = paired_changes(values, samples)
    assert changes.columns.tolist() == ["P1"] and changes.loc["G", "P1"] == 5.0 - 2.0


def test_expression_changes_table_shape_and_families():
    values = pd.DataFrame(
        [[1.0, 2.0, 1.0, 2.5, 1.0, 0.5], [5.0, 5.0, 4.0, 4.5, 3.0, 3.5]],
        index=["A", "B"],
        columns=["p1b", "p1t", "p2b", "p2t", "p3b", "p3t"],
    )
    samples = pd.DataFrame(
        {
            "sample_id": values.columns,
            "patient_id": ["P1", "P1", "P2", "P2", "P3", "P3"],
            "timepoint": ["baseline", "on_treatment"] * 3,
        }
    )
    response = responder_status(pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "responder": [True, True, False]}))
    table = expression_changes(values, samples, None, response)
    assert table["feature"].tolist() == ["A"] * 4 + ["B"] * 4
    assert table["comparison"].tolist()[:4] == ["all", "responder", "non_responder", "responder_vs_non_responder"]
    a = table[table["feature"] == "A"].set_index("comparison")
    assert a.loc["all", "n"] == 3 and a.loc["all", "estimate"] == 1.0  # median of (1, 1.5, -0.5)
    assert a.loc["responder", "estimate"] == 1.25 and a.loc["non_responder", "estimate"] == -0.5
    assert a.loc["responder_vs_non_responder", "estimate"] == 1.75
    assert responder_status(pd.DataFrame({"patient_id": ["P1"]})) is None
    assert responder_status(pd.DataFrame({"patient_id": ["P1"], "responder": [np.nan]})) is None


def test_expression_changes_on_several_processes_equal_one_process(monkeypatch, tmp_path):
    # 30 genes x 8 patients, some missing values; blocks of 4 genes on 3 workers must give
    # the very same table (values, dtypes, order) as one process, and the same bytes.
    import contexture.signatures.expression as expression
    from contexture.io import write_table

    rng = np.random.default_rng(7)
    patients = [f"P{i}" for i in range(8)]
    columns = [f"{p}{t}" for p in patients for t in "bt"]
    values = pd.DataFrame(rng.normal(5, 1, (30, 16)), index=[f"G{i:02d}" for i in range(30)], columns=columns)
    values.iloc[3, 5] = np.nan
    samples = pd.DataFrame(
        {"sample_id": columns, "patient_id": np.repeat(patients, 2), "timepoint": ["baseline", "on_treatment"] * 8}
    )
    response = responder_status(pd.DataFrame({"patient_id": patients, "responder": [True, False] * 4}))
    one = expression_changes(values, samples, None, response)
    monkeypatch.setattr(expression, "MIN_BLOCK", 4)
    assert len(expression.blocks(30, 3, 4)) == 3
    many = expression_changes(values, samples, None, response, workers=3)
    pd.testing.assert_frame_equal(many, one, check_exact=True)
    write_table(one, tmp_path / "one.tsv")
    write_table(many, tmp_path / "many.tsv")
    assert (tmp_path / "one.tsv").read_bytes() == (tmp_path / "many.tsv").read_bytes()


def test_blocks_cover_every_feature_once_in_order():
    from contexture.parallel import blocks

    assert blocks(10, 3, 2) == [range(0, 3), range(3, 7), range(7, 10)]
    assert blocks(10, 4, 5) == [range(0, 5), range(5, 10)]  # no block shorter than 5
    assert blocks(3, 8, 100) == [range(0, 3)]  # too small to split
    assert blocks(0, 2, 1) == [range(0, 0)]
