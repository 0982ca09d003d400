"""Accessibility checks with axe-core (pinned in tests/axe/package-lock.json) run inside
the page under test in headless Chromium."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

# Installed by `bash scripts/install.sh --dev` (npm ci --prefix tests/axe).
AXE_SCRIPT = Path(__file__).resolve().parent / "axe/node_modules/axe-core/axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA, and axe's best practices (headings in order, landmarks,
# all content in a landmark), which keep the pages easy to move through with a screen reader.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
# A page's violations list the first few elements of each rule, enough to find the template.
TARGETS_SHOWN = 3

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})
    .then(results => done({violations: results.violations}))
    .catch(error => done({error: String(error)}));
"""


@cache
def axe_source() -> str:
    """The axe-core script, read once per run."""
    if not AXE_SCRIPT.is_file():
        raise RuntimeError(
            f"{AXE_SCRIPT} is missing: bash scripts/install.sh --dev (it runs npm ci)"
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The WCAG 2.1 A and AA and best-practice violations axe-core finds in the page shown now."""
    # WebDriver runs scripts through the DevTools protocol, which the pages' CSP
    # (default-src 'none') does not govern; the check below proves axe did get in.
    driver.execute_script(axe_source())
    version = driver.execute_script("return typeof axe === 'object' ? axe.version : null;")
    if version is None:
        raise RuntimeError("axe-core did not load into the page")
    driver.set_script_timeout(60)
    answer: dict[str, Any] = driver.execute_async_script(RUN_AXE, list(WCAG_TAGS))
    if "error" in answer:
        raise RuntimeError(f"axe-core failed: {answer['error']}")
    # Only violations: axe marks what it cannot decide "incomplete", e.g. the contrast of SVG
    # text (the trend charts' labels), whose background it cannot compute.
    violations: list[dict[str, Any]] = answer["violations"]
    return violations


def described(violations: list[dict[str, Any]]) -> str:
    """An assertion message: each rule broken, its impact, its help and where (no page text)."""
    lines = [f"{len(violations)} accessibility rule(s) broken:"]
    for violation in violations:
        nodes = violation["nodes"]
        targets = [" ".join(map(str, node["target"])) for node in nodes[:TARGETS_SHOWN]]
        more = f" and {len(nodes) - TARGETS_SHOWN} more" if len(nodes) > TARGETS_SHOWN else ""
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}; "
            f"at {', '.join(targets)}{more}"
        )
    return "\n".join(lines)


def assert_accessible(driver: webdriver.Chrome, page: str) -> None:
    """Fail, naming the page and each rule it breaks, unless axe-core finds no violation."""
    violations = axe_violations(driver)
    if violations:
        # pytest.fail rather than assert: the introspected list would carry the pages' HTML.
        pytest.fail(f"{page}: {described(violations)}")
