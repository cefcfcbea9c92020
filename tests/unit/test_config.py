"""Config validation: good configs get defaults, bad ones stop naming the key."""

import math

import pytest

from contexture.config import cohort_modalities, validate_config
from contexture.errors import ConfigError
from tests.conftest import REPO


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

    config = validate_config(read_yaml(REPO / "config" / "config.yaml"))
    assert config["cohorts"]["demo"]["simulate"]["patients"] == 38


def test_config_readme_lists_every_key():
    """config/README.md's generated section equals what the schemas say now."""
    from contexture.config import schema_markdown

    readme = (REPO / "config" / "README.md").read_text()
    generated = readme.split("<!-- BEGIN GENERATED: python -m contexture.config -->\n")[1].split(
        "<!-- END GENERATED -->"
    )[0]
    assert generated == schema_markdown(), "regenerate with: python -m contexture.config"


def _generated(marker):
    readme = (REPO / "config" / "README.md").read_text()
    return readme.split(f"<!-- BEGIN GENERATED: {marker} -->\n")[1].split("<!-- END GENERATED -->")[0]


def test_config_readme_lists_every_input_table_column():
    """config/README.md's input-table section equals what src/contexture/schemas/tables/ says now."""
    from contexture.config import tables_markdown
    from contexture.io.validation import SCHEMA_DIR, load_schema

    generated = _generated("python -m contexture.config tables")
    assert generated == tables_markdown(), "regenerate with: python -m contexture.config tables"
    for path in (SCHEMA_DIR / "tables").glob("*.schema.yaml"):
        name = path.name.removesuffix(".schema.yaml")
        for column in load_schema(f"tables/{name}")["properties"]:
            assert f"| `{column}` |" in generated, (name, column)


def test_config_readme_rows_have_a_type_and_a_meaning():
    import re

    for marker in ("python -m contexture.config", "python -m contexture.config tables"):
        for line in _generated(marker).splitlines():
            if line.startswith("| `"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
                assert cells[1] and cells[3], line


# --- strict reading of config files (issue 15: config strict and bounded) ------------------
BILLION_LAUGHS = """\
cohorts:
  trial:
    clinical: inputs/clinical.tsv
    description:
      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def write(tmp_path, text: str, name: str = "my_cohort.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_duplicate_cohort_name_names_the_key_and_both_lines(tmp_path):
    from contexture.config import read_config_files

    path = write(
        tmp_path,
        "cohorts:\n  trial:\n    clinical: a.tsv\n  other:\n    clinical: b.tsv\n  trial:\n    clinical: c.tsv\n",
    )
    with pytest.raises(ConfigError) as error:
        read_config_files([path])
    assert str(path) in str(error.value)
    assert "key 'cohorts.trial' is given twice (lines 2 and 6)" in str(error.value)


def test_every_duplicate_key_is_reported_at_once(tmp_path):
    from contexture.config import read_config_files

    text = "cohorts:\n  trial:\n    clinical: a.tsv\n    recist: r.tsv\n    clinical: b.tsv\n  trial:\n    clinical: c.tsv\n"
    with pytest.raises(ConfigError) as error:
        read_config_files([write(tmp_path, text)])
    message = str(error.value)
    assert "2 key(s) twice" in message
    assert "key 'cohorts.trial.clinical' is given twice (lines 3 and 5)" in message
    assert "key 'cohorts.trial' is given twice (lines 2 and 6)" in message


def test_duplicate_keys_in_a_json_config_are_refused(tmp_path):
    from contexture.config import read_config_files

    path = write(tmp_path, '{"cohorts": {"trial": {"clinical": "a.tsv"},\n "trial": {"clinical": "b.tsv"}}}', "c.json")
    with pytest.raises(ConfigError, match=r"'cohorts.trial' is given twice \(lines 1 and 2\)"):
        read_config_files([path])


def test_alias_bomb_is_refused_at_its_first_anchor_before_anything_is_built(tmp_path, monkeypatch):
    """No expansion can happen: the loader stops at the first anchor (line 5) while
    composing nodes, and no Python object is ever constructed (construction is where
    PyYAML would share, and a walker would expand, the 9**9 strings)."""
    from contexture.io import config_yaml

    def never(*args, **kwargs):
        raise AssertionError("the document was constructed")

    monkeypatch.setattr(config_yaml._StrictLoader, "construct_document", never)
    with pytest.raises(ConfigError) as error:
        config_yaml.read_config_yaml(write(tmp_path, BILLION_LAUGHS), max_depth=8)
    message = str(error.value)
    assert "line 5, key 'cohorts.trial.description.a'" in message
    assert "anchors and aliases" in message and "'&a'" in message


def test_an_alias_without_an_anchor_in_this_file_is_refused(tmp_path):
    from contexture.io.config_yaml import read_config_yaml

    with pytest.raises(ConfigError, match=r"line 3, key 'cohorts.trial.clinical'.*'\*x'"):
        read_config_yaml(write(tmp_path, "cohorts:\n  trial:\n    clinical: *x\n"), max_depth=8)


def test_config_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    from contexture.io.config_yaml import MAX_CONFIG_BYTES, read_config_yaml

    path = write(tmp_path, "cohorts:\n  trial:\n    description: '" + "x" * MAX_CONFIG_BYTES + "'\n")
    with pytest.raises(ConfigError, match=rf"is {path.stat().st_size} bytes; .* over {MAX_CONFIG_BYTES} bytes"):
        read_config_yaml(path, max_depth=8)


def test_schema_depth_by_hand():
    from contexture.config import schema_depth

    closed = {"type": "object", "additionalProperties": False}
    assert schema_depth({"type": "string"}) == 0
    assert schema_depth({**closed, "properties": {"a": {"type": "string"}}}) == 1
    # a: {b: [x, ...]}: path a.b[0] has three parts
    nested = {**closed, "properties": {"a": {**closed, "properties": {"b": {"type": "array", "items": {}}}}}}
    assert schema_depth(nested) == 3
    via_ref = {**closed, "additionalProperties": {"$ref": "#/$defs/x"}, "$defs": {"x": nested}}
    assert schema_depth(via_ref) == 4
    assert schema_depth({"type": "object"}) == math.inf  # open object: any nesting
    assert schema_depth({"type": "array"}) == math.inf


def test_config_schema_is_closed_and_bounds_the_loader():
    from contexture.config import config_schema, schema_depth

    depth = schema_depth(config_schema())
    assert depth != math.inf, "an object or array in the config schema admits any nesting"
    assert depth == 8  # cohorts.<name>.<section>.<subsection>... (update with the schema)


def test_nesting_deeper_than_the_schema_is_refused_naming_the_key(tmp_path):
    """Refused while composing, so 5,000 levels cannot hit Python's recursion limit."""
    from contexture.config import read_config_files

    path = write(tmp_path, "cohorts:\n  trial:\n    description: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"line 3, key 'cohorts.trial.description(\[0\]){6}': nested 9 levels"):
        read_config_files([path])


def test_shipped_config_reads_strictly():
    from contexture.config import read_config_files

    read_config_files([REPO / "config" / "config.yaml"])


# --- the results folder -------------------------------------------------------------------
def test_results_folder_that_is_a_file_is_named(tmp_path):
    from contexture.config import check_results_folder
    from contexture.errors import ContextureError

    (tmp_path / "results").write_text("")
    with pytest.raises(ContextureError, match=rf"the results folder '{tmp_path / 'results'}' is a file"):
        check_results_folder(tmp_path / "results", ["trial"])


def test_unwritable_results_folder_is_named(tmp_path, monkeypatch):
    import os

    from contexture.config import check_results_folder
    from contexture.errors import ContextureError

    stage = tmp_path / "results" / "trial" / "tables"
    stage.mkdir(parents=True)
    check_results_folder(tmp_path / "results", ["trial"])  # writable: no error
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode) and str(path) != str(stage))
    with pytest.raises(ContextureError, match=rf"the results folder '{stage}' is not writable"):
        check_results_folder(tmp_path / "results", ["trial"])


def test_results_folder_that_cannot_be_created_is_named(tmp_path, monkeypatch):
    import os

    from contexture.config import check_results_folder
    from contexture.errors import ContextureError

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(ContextureError, match=rf"cannot create the results folder .*'{tmp_path}' is not writable"):
        check_results_folder(tmp_path / "results", ["trial"])
