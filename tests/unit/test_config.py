"""Config validation: good configs get defaults, bad ones stop naming the key."""

import pytest

from contexture.config import cohort_modalities, validate_config
from contexture.errors import ConfigError


def test_defaults_are_filled():
    config = validate_config({"cohorts": {"demo": {"simulate": {}}}})
    assert config["cohorts"]["demo"]["simulate"] == {
        "patients": 38,
        "seed": 1,
        "modalities": ["clinical", "nanostring", "pet", "ihc", "recist"],
    }


def test_misspelled_cohort_key_is_named():
    with pytest.raises(ConfigError, match=r"cohorts\.demo: unknown key\(s\) \['nanostrng'\]"):
        validate_config({"cohorts": {"demo": {"clinical": "c.tsv", "nanostrng": {"rcc": "x"}}}})


def test_misspelled_top_level_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['cohort'\]"):
        validate_config({"cohorts": {"demo": {"simulate": {}}}, "cohort": {}})


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        validate_config({"cohorts": {"demo": {"simulate": {"patients": 2, "seed": -1}}}})
    message = str(error.value)
    assert "2 problem(s)" in message
    assert "cohorts.demo.simulate.patients" in message and "cohorts.demo.simulate.seed" in message


def test_bad_cohort_name():
    with pytest.raises(ConfigError, match="does not match"):
        validate_config({"cohorts": {"my cohort": {"simulate": {}}}})


def test_simulate_and_inputs_are_exclusive():
    with pytest.raises(ConfigError, match="either 'simulate' or input files"):
        validate_config({"cohorts": {"demo": {"simulate": {}, "clinical": "c.tsv"}}})


def test_cohort_without_inputs_is_refused():
    with pytest.raises(ConfigError, match="no inputs"):
        validate_config({"cohorts": {"demo": {"description": "empty"}}})


def test_modalities_of_a_real_cohort():
    config = validate_config({"cohorts": {"trial": {"clinical": "clinical.tsv"}}})
    assert cohort_modalities(config["cohorts"]["trial"]) == {"clinical"}


def test_shipped_config_is_valid():
    from contexture.io import read_yaml
    from contexture.io.validation import SCHEMA_DIR

    config = validate_config(read_yaml(SCHEMA_DIR.parents[1] / "config" / "config.yaml"))
    assert config["cohorts"]["demo"]["simulate"]["patients"] == 38


def test_config_readme_lists_every_key():
    """config/README.md's generated section equals what the schemas say now."""
    from contexture.config import schema_markdown
    from contexture.io.validation import SCHEMA_DIR

    readme = (SCHEMA_DIR.parents[1] / "config" / "README.md").read_text()
    generated = readme.split("<!-- BEGIN GENERATED: python -m contexture.config -->\n")[1].split(
        "<!-- END GENERATED -->"
    )[0]
    assert generated == schema_markdown(), "regenerate with: python -m contexture.config"
