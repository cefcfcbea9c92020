"""Every config example in the documentation is a valid config (validated like a run's)."""

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
