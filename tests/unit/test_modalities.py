"""contexture.modalities is the one list of modalities: everything else derives from it."""

import importlib
from pathlib import Path

import pandas as pd
import pytest

from contexture import config, inputs
from contexture.errors import InputError
from contexture.io import read_yaml
from contexture.io.validation import SCHEMA_DIR
from contexture.modalities import MODALITIES, NAMES, STAGES
from contexture.report import availability

REPO = Path(__file__).resolve().parents[2]


def test_config_input_keys_and_declared_inputs_come_from_the_table():
    assert list(config.INPUT_KEYS) == list(NAMES)
    assert config.INPUT_KEYS == {
        "clinical": None,
        "recist": None,
        "pet": ("scans", "voi_table"),
        "nanostring": ("rcc",),
        "ihc": ("slides", "densities"),
    }
    # An RLF or an immunoscore reference alone does not declare the modality.
    cohort = {"clinical": "c.tsv", "nanostring": {"rlf": "x.rlf"}, "ihc": {"immunoscore": {"reference": "r.tsv"}}}
    assert config.declared_inputs(cohort) == {"clinical"}


def test_availability_order_is_the_table_order():
    assert availability.MODALITY_ORDER == NAMES


def test_simulator_modalities_are_the_table_names():
    schema = read_yaml(SCHEMA_DIR / "config.schema.yaml")
    simulate = schema["$defs"]["cohort"]["properties"]["simulate"]["properties"]["modalities"]
    assert set(simulate["items"]["enum"]) == set(NAMES) == set(simulate["default"])


@pytest.mark.parametrize("modality", MODALITIES, ids=NAMES)
def test_every_modality_has_a_stage_a_schema_a_check_and_an_availability_table(modality):
    assert modality.stage in STAGES
    assert (SCHEMA_DIR / "cohort" / f"{modality.name}.schema.yaml").is_file()
    module, function = modality.check.split(":")
    assert module == f"contexture.{modality.stage}.checks"
    assert callable(getattr(importlib.import_module(module), function))
    # The availability table is an output of some rule (named in a .smk).
    rules = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    assert f'"results/{{cohort}}/{modality.availability}"' in rules


def test_declared_paths_follow_the_table():
    cohort = {
        "clinical": "c.tsv",
        "recist": "r.tsv",
        "nanostring": {"rcc": "rcc/", "samples": "s.tsv", "rlf": "x.rlf", "qc": {}},
        "pet": {"voi_table": "v.tsv", "half_life_hours": 78.41},
        "ihc": {"slides": "sl.tsv", "immunoscore": {"reference": "ref.tsv"}, "baseline_timepoint": "baseline"},
    }
    assert inputs.declared_paths(cohort) == [
        ("clinical", "c.tsv"),
        ("recist", "r.tsv"),
        ("pet.voi_table", "v.tsv"),
        ("nanostring.rcc", "rcc/"),
        ("nanostring.samples", "s.tsv"),
        ("nanostring.rlf", "x.rlf"),
        ("ihc.slides", "sl.tsv"),
        ("ihc.immunoscore.reference", "ref.tsv"),
    ]


def test_timepoint_rules():
    recist = pd.DataFrame({"patient_id": ["A", "A", "A"], "assessment_day": [-3, 42, 42]})
    assert availability.modality_timepoints("recist", recist).values.tolist() == [["A", "baseline"], ["A", "follow_up"]]
    lesions = pd.DataFrame({"patient_id": ["A", "A", "A"], "timepoint": ["baseline"] * 3, "scan_day": [0, 0, 3]})
    assert len(availability.modality_timepoints("pet", lesions)) == 2
    samples = pd.DataFrame({"patient_id": ["A", "B"], "timepoint": ["baseline"] * 2, "included": [True, False]})
    assert availability.modality_timepoints("nanostring", samples).values.tolist() == [["A", "baseline"]]


def test_validation_checks_each_declared_modality_whose_paths_exist(tmp_path):
    """The driver walks the table: a modality with a missing path is reported, not checked."""
    clinical = tmp_path / "clinical.tsv"
    clinical.write_text("patient_id\tos_days\tos_event\nP1\tten\t1\n")
    cohort = {"clinical": str(clinical), "pet": {"scans": str(tmp_path / "missing.tsv")}}
    with pytest.raises(InputError) as error:
        inputs.validate_cohort_inputs("trial", cohort)
    message = str(error.value)
    assert "2 problem(s) in the inputs of cohort 'trial'" in message
    assert f"cohorts.trial.pet.scans: '{tmp_path / 'missing.tsv'}' does not exist" in message
    assert "column 'os_days': got 'ten'" in message
