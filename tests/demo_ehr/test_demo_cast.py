"""The demo's cast: each member's chart gets the cards its line promises, the members can be
told apart, and together they show every card type the service documents.

Each chart is read by the real adapter and answered by the real card rules with the shipped
models, as of the day the test runs (the cast is dated from that day, as the demo is). The
demo command's test shows the same cards through `cdss serve` and the demo EHR.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from golden_cards import advise

from demo_ehr.cast import SYNTHEA_ROLES, written_cast
from demo_ehr.chart_writer import CastMember
from fhir_adapters.fhir_values import patient_name
from fhir_adapters.record_builder import build_patient_record
from models.registry import RiskModels, load_risk_models

CARDS_DOC = Path(__file__).resolve().parents[2] / "docs" / "cards.md"
NOTE_SUMMARY = "note-summary"
TODAY = date.today()
CAST = written_cast(TODAY)


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def _patient(member: CastMember) -> dict[str, object]:
    return next(
        entry["resource"]
        for entry in member.bundle["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    )


def documented_card_types() -> set[str]:
    """Every card type in the tables of docs/cards.md that say what each chart gets, and the
    note summary's."""
    text = CARDS_DOC.read_text(encoding="utf-8")
    tables = text[: text.index("## What every card says")]
    types = set()
    for line in tables.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            # A card's type opens the cell, or follows "; " (two types in one row); a model's
            # name in a row's words is not one.
            types.update(re.findall(r"(?:^\s*|;\s*)`([a-z0-9]+(?:-[a-z0-9]+)+)`", cells[2]))
    return types | {NOTE_SUMMARY}


@pytest.mark.parametrize("member", CAST, ids=[member.slug for member in CAST])
def test_each_member_gets_the_cards_its_line_promises(
    member: CastMember, models: RiskModels
) -> None:
    resources = [entry["resource"] for entry in member.bundle["entry"]]
    patient_id = str(_patient(member)["id"])
    record = build_patient_record(patient_id, resources, TODAY)
    given = {issued.card_type for cards in advise(models, record).values() for issued in cards}
    assert given == set(member.cards) - {NOTE_SUMMARY}, record.data_issues


def test_members_are_told_apart_by_name_and_slug() -> None:
    names = [patient_name(_patient(member)) for member in CAST]
    slugs = [member.slug for member in CAST] + list(SYNTHEA_ROLES)
    assert len(set(names)) == len(names), names
    assert len(set(slugs)) == len(slugs), slugs
    assert all(member.reason and member.cards for member in CAST)


def test_the_cast_shows_every_documented_card_type() -> None:
    documented = documented_card_types()
    # The parse found the tables (not a handful of stray backticks).
    assert {"diabetes-risk", "hypertension-detected", "home-bp-masked"} <= documented
    shown = {card for member in CAST for card in member.cards}
    shown |= {card for _, cards in SYNTHEA_ROLES.values() for card in cards}
    assert documented - shown == set(), "no cast member shows these"
    assert shown - documented == set(), "the cast promises card types docs/cards.md lacks"
