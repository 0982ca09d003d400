"""Every configuration the README and the docs show is one `cdss serve` accepts: a reader who
copies a block into a file must not meet a validation error the page did not warn of."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCKS = [
    pytest.param(block, id=f"{page.name}-{number}")
    for page in PAGES
    for number, block in enumerate(TOML_BLOCK.findall(page.read_text(encoding="utf-8")), 1)
]


def test_the_docs_show_configurations() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS)
def test_each_configuration_in_the_docs_is_accepted(block: str, tmp_path: Path) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(block, encoding="utf-8")
    load_settings(config, environ={})
