"""docs/cards.md's golden matrix is the list of reviewed situations, and it tells the truth.

Each row names a golden file, the situation, the card types each risk service gives there and
the guideline the expectation follows. The test holds the document to the golden files (which
the card tests hold to the code): a row whose cards differ from its golden file, a risk golden
without a row, or a row without a recognised guideline fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from golden_cards import GOLDEN

CARDS_DOC = Path(__file__).resolve().parents[2] / "docs" / "cards.md"
MATRIX_HEADING = "## The golden matrix"
RISK_SERVICES = ("diabetes-risk", "hypertension-risk")
# The guidelines (and the one equation) that the cards follow, as rows cite them.
GUIDELINES = (
    "ADA 2025",
    "USPSTF 2021",
    "ACC/AHA 2017",
    "AAP 2017",
    "ACOG PB 222",
    "ACOG CO 736",
    "Parikh 2008",
)
MINIMUM_SITUATIONS = 40
NO_CARD = "none"
# A golden that holds one service's cards only (the home blood pressure card's): the other
# service's cell.
NOT_HELD = "—"


@dataclass(frozen=True)
class MatrixRow:
    golden: str
    situation: str
    cards: dict[str, tuple[str, ...]]  # only the services the golden holds
    guideline: str


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _card_types(cell: str) -> tuple[str, ...]:
    if cell == NO_CARD:
        return ()
    return tuple(re.findall(r"`([a-z0-9-]+)`", cell))


def matrix_rows() -> list[MatrixRow]:
    """The rows of the golden matrix table in docs/cards.md."""
    text = CARDS_DOC.read_text(encoding="utf-8")
    assert MATRIX_HEADING in text, f"docs/cards.md has no {MATRIX_HEADING!r} section"
    section = text.split(MATRIX_HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header, body = _cells(lines[0]), lines[2:]
    assert header == ["golden", "situation", *RISK_SERVICES, "guideline"], header
    rows = []
    for line in body:
        golden, situation, diabetes, hypertension, guideline = _cells(line)
        cells = {"diabetes-risk": diabetes, "hypertension-risk": hypertension}
        rows.append(
            MatrixRow(
                golden=golden.strip("`"),
                situation=situation,
                cards={service: _card_types(cell) for service, cell in cells.items()
                       if cell != NOT_HELD},
                guideline=guideline,
            )
        )  # fmt: skip
    return rows


def risk_goldens() -> dict[str, dict[str, tuple[str, ...]]]:
    """Each golden file of the risk services, with the card types it holds per service held."""
    found = {}
    for path in sorted(GOLDEN.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        held = [service for service in RISK_SERVICES if service in document]
        if not held:
            continue  # the note summary's goldens: one card, checked by its own tests
        found[path.stem] = {
            service: tuple(card["type"] for card in document[service]) for service in held
        }
    return found


def test_the_matrix_covers_enough_situations() -> None:
    rows = matrix_rows()
    assert len(rows) >= MINIMUM_SITUATIONS, len(rows)
    assert len({row.golden for row in rows}) == len(rows), "a golden listed twice"


def test_every_row_matches_its_golden_file() -> None:
    goldens = risk_goldens()
    for row in matrix_rows():
        assert row.golden in goldens, f"{row.golden}: no such risk golden file"
        assert row.cards == goldens[row.golden], row.golden


def test_every_risk_golden_is_in_the_matrix() -> None:
    listed = {row.golden for row in matrix_rows()}
    assert sorted(set(risk_goldens()) - listed) == []


def test_every_row_cites_a_guideline() -> None:
    for row in matrix_rows():
        assert any(name in row.guideline for name in GUIDELINES), row.golden
        assert row.situation, row.golden
