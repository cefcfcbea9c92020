"""The multiplicity section counts each family's tests from the tables and states their adjustment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from contexture.io import write_table
from contexture.report.multiplicity import FAMILIES, family_counts, multiplicity_paragraph
from contexture.stats.rank_tests import benjamini_hochberg


def _write(cohort_dir, name, frame):
    (cohort_dir / "tables").mkdir(exist_ok=True)
    write_table(frame, cohort_dir / "tables" / name)


def _small_run(cohort_dir):
    """Cox: 3 tests (os 2, pfs 1) and a row without p; toxicity: 2 + 1 tests with BH q per test."""
    _write(
        cohort_dir,
        "survival_cox.tsv",
        pd.DataFrame(
            {
                "endpoint": ["os", "os", "os", "pfs"],
                "model": ["univariable"] * 4,
                "term": ["age", "dmmr", "tumor_burden", "age"],
                "p": [0.01, 0.2, np.nan, 0.04],  # tumor_burden: not estimable, no test
            }
        ),
    )
    toxicity = pd.DataFrame(
        {
            "toxicity": ["irae_grade_max"] * 3,
            "biomarker": ["a", "b", "a"],
            "test": ["mann_whitney", "mann_whitney", "fisher_exact"],
            "p": [0.01, 0.04, 0.5],
        }
    )
    toxicity["q"] = np.nan
    for _, index in toxicity.groupby("test").groups.items():
        toxicity.loc[index, "q"] = benjamini_hochberg(toxicity.loc[index, "p"])
    _write(cohort_dir, "toxicity.tsv", toxicity)


def test_counts_are_the_rows_with_a_p_value(tmp_path):
    _small_run(tmp_path)
    counts = family_counts(tmp_path)
    assert counts[["table", "group", "n_tests", "adjustment"]].values.tolist() == [
        ["toxicity.tsv", "mann whitney", 2, "Benjamini–Hochberg"],
        ["toxicity.tsv", "fisher exact", 1, "Benjamini–Hochberg"],
        ["survival_cox.tsv", "os", 2, ""],
        ["survival_cox.tsv", "pfs", 1, ""],
    ]


def test_paragraph_names_counts_and_adjustment(tmp_path):
    _small_run(tmp_path)
    text = multiplicity_paragraph(tmp_path)
    assert text.startswith("## Multiplicity\n\nThe run computed 6 p values; 3 of them were adjusted")
    assert "the other 3 are nominal" in text
    assert (
        "- Toxicity tests (`toxicity.tsv`): 3 tests in 2 families (mann whitney: 2; fisher exact: 1), adjusted "
        "within each family by Benjamini–Hochberg (false discovery rate; column `q`)." in text
    )
    assert (
        "- Cox regression terms (`survival_cox.tsv`): 3 tests (os: 2; pfs: 1); not adjusted for multiplicity "
        "(nominal p values; exploratory)." in text
    )


def test_a_table_without_q_for_every_test_is_not_called_adjusted(tmp_path):
    _write(
        tmp_path,
        "expression_correlations.tsv",
        pd.DataFrame(
            {"gene": ["CXCL9", "CXCL10"], "tcell_gene": ["CD8A", "CD8A"], "p": [0.01, 0.02], "q": [0.02, np.nan]}
        ),
    )
    (row,) = family_counts(tmp_path).itertuples(index=False)
    assert (row.n_tests, row.adjustment) == (2, "")
    assert "2 tests; not adjusted for multiplicity" in multiplicity_paragraph(tmp_path)


def test_a_run_without_tests_has_no_section(tmp_path):
    assert multiplicity_paragraph(tmp_path) == ""
    _write(tmp_path, "survival_cox.tsv", pd.DataFrame({"endpoint": ["os"], "term": ["age"], "p": [np.nan]}))
    assert multiplicity_paragraph(tmp_path) == ""


def test_every_family_table_has_a_schema_with_a_p_column():
    from contexture.io.validation import SCHEMA_DIR, load_schema

    for family in FAMILIES:
        name = "results/" + family.table.removesuffix(".tsv")
        assert (SCHEMA_DIR / f"{name}.schema.yaml").is_file(), name
        declared = load_schema(name)["properties"]
        assert "p" in declared, name
        assert family.adjustment is None or family.q_column in declared, name
        assert all(column in declared for column in family.by), name
