"""How clinicians answered each kind of card: issued, accepted, overridden, and why.

Counted per service and card type over the cards issued in a period, so every rate's numerator
is a subset of its denominator. A card counts once per outcome however many feedback entries it
had (a clinician may accept two suggestions of one card in two entries). No patient
pseudonym, card id or comment leaves this module: only counts and the EHR's reason codes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from cds_service.storage.database import reading
from cds_service.storage.stores import ACCEPTED, OVERRIDDEN
from cds_service.storage.tables import feedback, issued_card

# The card type of cards stored before card types were recorded.
UNTYPED = "(untyped)"


@dataclass(frozen=True)
class OverrideReasonCount:
    """How many cards were overridden with one reason (code None: no reason given)."""

    system: str | None
    code: str | None
    display: str | None
    cards: int


@dataclass(frozen=True)
class CardTypeFeedback:
    """One service's cards of one type, over a period."""

    service_id: str
    card_type: str
    issued: int
    accepted: int
    overridden: int
    override_reasons: tuple[OverrideReasonCount, ...]

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted over the cards with an outcome (None when none had one)."""
        answered = self.accepted + self.overridden
        return None if answered == 0 else self.accepted / answered


def summarize_feedback(engine: Engine, since: datetime, until: datetime) -> list[CardTypeFeedback]:
    """Every service and card type with cards issued in `[since, until)`."""
    in_period = (issued_card.c.issued_at >= since, issued_card.c.issued_at < until)
    card_type = func.coalesce(issued_card.c.card_type, UNTYPED)
    issued_query = (
        select(issued_card.c.service_id, card_type.label("card_type"), func.count())
        .where(*in_period)
        .group_by(issued_card.c.service_id, card_type)
    )
    outcome_query = (
        select(
            issued_card.c.service_id,
            card_type.label("card_type"),
            issued_card.c.card_uuid,
            feedback.c.outcome,
            feedback.c.override_reason,
        )
        .join(feedback, feedback.c.card_uuid == issued_card.c.card_uuid)
        .where(feedback.c.service_id == issued_card.c.service_id, *in_period)
    )
    with reading(engine).connect() as connection:
        issued = {(row[0], row[1]): int(row[2]) for row in connection.execute(issued_query)}
        outcomes = connection.execute(outcome_query).all()

    accepted: dict[tuple[str, str], set[str]] = defaultdict(set)
    overridden: dict[tuple[str, str], set[str]] = defaultdict(set)
    reasons: dict[tuple[str, str], dict[tuple[Any, Any, Any], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for row in outcomes:
        key = (row.service_id, row.card_type)
        if row.outcome == ACCEPTED:
            accepted[key].add(row.card_uuid)
        elif row.outcome == OVERRIDDEN:
            overridden[key].add(row.card_uuid)
            reason = row.override_reason or {}
            coding = (reason.get("system"), reason.get("code"), reason.get("display"))
            reasons[key][coding].add(row.card_uuid)
    return [
        CardTypeFeedback(
            service_id=service_id,
            card_type=kind,
            issued=count,
            accepted=len(accepted[(service_id, kind)]),
            overridden=len(overridden[(service_id, kind)]),
            override_reasons=tuple(
                sorted(
                    (
                        OverrideReasonCount(system, code, display, len(cards))
                        for (system, code, display), cards in reasons[(service_id, kind)].items()
                    ),
                    key=lambda item: (-item.cards, item.code or ""),
                )
            ),
        )
        for (service_id, kind), count in sorted(issued.items())
    ]
