"""Every config example in the documentation is a valid config, and every API example runs."""

import re
from pathlib import Path

import pytest
import yaml

from contexture.config import validate_config

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLES = [
    pytest.param(block, id=f"{path.relative_to(REPO)}#{number}")
    for path in DOCUMENTS
    for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S))
    if re.search(r"^cohorts:", block, re.M)
]


@pytest.mark.parametrize("block", EXAMPLES)
def test_documented_config_is_valid(block):
    validate_config(yaml.safe_load(block))


# docs/api.md: every Python block runs as written, in an empty folder (it asserts its own numbers).
API_EXAMPLES = [
    pytest.param(block, id=f"docs/api.md#{number}")
    for number, block in enumerate(re.findall(r"```python\n(.*?)```", (REPO / "docs" / "api.md").read_text(), re.S))
]


def test_api_page_has_its_examples():
    """The issue's three (RCC, KM, SUV) and the shipped schemas and signatures."""
    assert len(API_EXAMPLES) == 4


@pytest.mark.parametrize("block", API_EXAMPLES)
def test_api_example_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/api.md", "exec"), {"__name__": "__doc_example__"})
