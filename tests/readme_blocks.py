"""The README's commands as a reader copies them: its fenced ```sh blocks and its inline code.

tests/test_readme_commands.py runs what this finds, so a command changed in the README is the
command the test runs; the test never types one itself.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

# A fence opens with three or more backticks and an info string, indented when inside a list
# item (the admin walkthrough's steps); it closes with as many backticks at any indent.
FENCE_OPENING = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`\n]*)$")
# Inline code on one line of prose (the README never wraps a command across lines).
INLINE_CODE = re.compile(r"(?<!`)`(?P<code>[^`\n]+)`(?!`)")
SHELL_LANGUAGES = ("sh", "bash", "shell", "console")


@dataclass(frozen=True)
class FencedBlock:
    """One fenced code block: where it opens, its language and its text (indent removed)."""

    line: int
    language: str
    text: str


def fenced_blocks(markdown: str) -> list[FencedBlock]:
    """Every fenced code block of a Markdown page, in order."""
    blocks: list[FencedBlock] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE_OPENING.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, opened_at, body = opening["fence"], index + 1, []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        text = textwrap.dedent("\n".join(body)) + "\n"
        language = opening["info"].strip().lower()
        blocks.append(FencedBlock(line=opened_at, language=language, text=text))
        index += 1  # past the closing fence
    return blocks


def shell_blocks(markdown: str) -> list[FencedBlock]:
    """The fenced blocks a reader runs in a shell."""
    return [block for block in fenced_blocks(markdown) if block.language in SHELL_LANGUAGES]


def shell_block_with(markdown: str, command: str) -> str:
    """The text of the one shell block that has a line starting with `command`."""
    found = [
        block.text
        for block in shell_blocks(markdown)
        if any(line.lstrip().startswith(command) for line in block.text.splitlines())
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} shell blocks of the README run {command!r}, not one")
    return found[0]


def prose(markdown: str) -> str:
    """The page without its fenced blocks."""
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        opening = FENCE_OPENING.match(line)
        if fence is None and opening is not None:
            fence = opening["fence"]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def inline_command(markdown: str, command: str) -> str:
    """The one distinct inline code span of the prose that starts with `command`."""
    found = sorted(
        {
            match["code"]
            for match in INLINE_CODE.finditer(prose(markdown))
            if match["code"].startswith(command)
        }
    )
    if len(found) != 1:
        raise LookupError(f"the README's prose has {found} for {command!r}, not one command")
    return found[0]
