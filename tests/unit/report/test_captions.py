"""The report's caption collector: every stage's facts in one table, each file owned once,
every result registered in the workflow's rules covered; and the report's own captions."""

import re
from pathlib import Path

import pandas as pd
import pytest

from contexture.io import write_table
from contexture.modalities import STAGES
from contexture.report.captions import FACTS, REPORT_FACTS, collect_facts, result_labels, stage_facts

RULES = Path(__file__).resolve().parents[3] / "workflow" / "rules"


def registered_results() -> set[str]:
    """The file names passed to ``report_labels(...)`` in workflow/rules/*.smk.

    Literal names are read as they stand; ``report_labels(f"{name}.png")`` inside
    ``for name in LIST`` (a comprehension, or a loop defining one rule per name) is expanded
    from ``LIST = [...]`` or the keys of ``LIST = {...}`` in the rules. Every call must be
    one of these forms, so a new form fails here instead of being skipped.
    """
    text = "\n".join(path.read_text() for path in sorted(RULES.rglob("*.smk")))
    calls = re.findall(r"report_labels\((?!name\))", text)
    names = set(re.findall(r'report_labels\("([^"]+)"\)', text))
    resolved = len(re.findall(r'report_labels\("[^"]+"\)', text))
    loops = re.findall(r'report_labels\(f"\{name\}(\.\w+)"\),?\s*\)\s*for name in (\w+)', text)
    for variable, listname in re.findall(r"^for (\w+) in (\w+):", text, re.MULTILINE):
        loops += [(suffix, listname) for suffix in re.findall(rf'report_labels\(f"\{{{variable}\}}(\.\w+)"\)', text)]
    for suffix, listname in loops:
        listed = re.search(rf"^{listname} = ([\[{{])(.*?)[\]}}]", text, re.MULTILINE | re.DOTALL)
        assert listed, f"{listname} not found in workflow/rules"
        key = r'"([^"]+)"\s*:' if listed.group(1) == "{" else r'"([^"]+)"'  # a dict's keys, a list's items
        items = re.findall(key, listed.group(2))
        names |= {f"{item}{suffix}" for item in items}
        resolved += 1
    assert resolved == len(calls), "a report_labels(...) call of a form this test cannot read"
    return names


def test_every_registered_result_has_facts_and_every_fact_a_result():
    names = registered_results()
    assert len(names) >= 40
    assert names - set(FACTS) == set()
    assert set(FACTS) - names == set()


def test_facts_are_collected_from_the_stages():
    owners = dict(stage_facts())
    assert set(owners) <= set(STAGES)
    # Every stage but clinical has report results; clinical's data reach the report through
    # the patient table and data availability, which are the report's own.
    assert set(owners) == set(STAGES) - {"clinical"}
    assert owners["pet"]["pet_models.tsv"] is FACTS["pet_models.tsv"]
    assert owners["survival"]["survival_km_os.png"] is FACTS["survival_km_os.png"]
    assert set(FACTS) == set(REPORT_FACTS).union(*owners.values())


def test_a_file_claimed_by_two_stages_is_refused():
    def facts(c, name):
        return "title", "n = 1"

    with pytest.raises(ValueError, match=r"'lesions.tsv' are defined by both 'pet' and 'ihc'"):
        collect_facts([("pet", {"lesions.tsv": facts}), ("ihc", {"ihc_slides.tsv": facts, "lesions.tsv": facts})])
    assert set(collect_facts([("pet", {"lesions.tsv": facts}), ("ihc", {"ihc_slides.tsv": facts})])) == {
        "lesions.tsv",
        "ihc_slides.tsv",
    }


def test_unknown_result_is_an_error():
    with pytest.raises(KeyError, match=r"contexture\.<stage>\.captions"):
        result_labels(".", "unknown.png")
    assert all(name.endswith((".png", ".tsv")) for name in FACTS)


def test_labels_replace_braces(tmp_path):
    write_table(pd.DataFrame({"patient_id": ["P1"], "immunoscore": ["{high}"]}), tmp_path / "tables/patients.tsv")
    write_table(
        pd.DataFrame({"patient_id": ["P1", "P2"], "ihc_phenotype": ["{x}", "desert"]}),
        tmp_path / "figures/ihc_cd8_density_by_phenotype.source.tsv",
    )
    summary = result_labels(tmp_path, "ihc_cd8_density_by_phenotype.png")["summary"]
    assert summary == "n = 2 slides (desert 1, (x) 1); descriptive, no test"


def test_the_report_own_captions_count_patients_per_modality(tmp_path):
    write_table(
        pd.DataFrame(
            {
                "patient_id": ["001", "002", "003"],
                "clinical: baseline": [1, 1, 1],
                "pet: baseline": [2, 0, 3],
                "ihc: baseline": [0, 0, 1],
            }
        ),
        tmp_path / "figures/cohort_overview.source.tsv",
    )
    write_table(
        pd.DataFrame(
            {"patient_id": ["001", "002", "003", "001", "003"], "modality": ["clinical"] * 3 + ["pet", "pet"]}
        ),
        tmp_path / "tables/data_availability.tsv",
    )
    write_table(
        pd.DataFrame({"patient_id": ["001", "002", "003"], "bor": ["PR", "SD", "PD"], "os_months": [1.0, 2.0, 3.0]}),
        tmp_path / "tables/patients.tsv",
    )
    assert result_labels(tmp_path, "cohort_overview.png") == {
        "result": "Data availability per patient",
        "summary": "n = 3 patients; patients with data: clinical: baseline 3, pet: baseline 2, ihc: baseline 1",
    }
    assert result_labels(tmp_path, "data_availability.tsv")["summary"] == (
        "n = 3 patients; patients per modality: clinical 3, pet 2"
    )
    assert result_labels(tmp_path, "patients.tsv")["summary"] == "n = 3 patients, 2 patient-level columns"
