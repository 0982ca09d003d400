"""How clinicians answered each kind of card: issued, accepted, overridden, and why.

Counted per issuer (the EHR the cards were shown through, its JWT `iss`), service and card type
over the cards issued in a period, so that one EHR's clinicians cannot move the rates another's
are tuned by, and every rate's numerator
is a subset of its denominator. A card counts once per outcome however many feedback entries it
had (a clinician may accept two suggestions of one card in two entries). No patient
pseudonym, card id or comment leaves this module: only counts and the EHR's reason codes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from cards.card_parts import OVERRIDE_REASONS
from cds_service.storage.database import reading
from cds_service.storage.stores import ACCEPTED, OVERRIDDEN
from cds_service.storage.tables import feedback, issued_card

# The card type of cards stored before card types were recorded.
UNTYPED = "(untyped)"
# The issuer of cards stored before issuers were recorded (revision 0007).
UNRECORDED_ISSUER = "(not recorded)"
# The issuer of a row that adds up every issuer's.
ALL_ISSUERS = "(all issuers)"


@dataclass(frozen=True)
class OverrideReasonCount:
    """How many cards were overridden with one reason (code None: no reason given)."""

    system: str | None
    code: str | None
    display: str | None
    cards: int


@dataclass(frozen=True)
class CardTypeFeedback:
    """One service's cards of one type shown through one issuer, over a period."""

    issuer: str
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


# The display of each of the service's own override reasons, by code. An EHR may send the reason
# chosen by its code alone (the CDS Hooks sandbox does: `src/components/CardList`), and the
# summary still names it as the card offered it.
_OWN_REASON_DISPLAYS = {reason.code: reason.display for reason in OVERRIDE_REASONS if reason.code}


def summarize_feedback(engine: Engine, since: datetime, until: datetime) -> list[CardTypeFeedback]:
    """Every issuer, service and card type with cards issued in `[since, until)`."""
    in_period = (issued_card.c.issued_at >= since, issued_card.c.issued_at < until)
    card_type = func.coalesce(issued_card.c.card_type, UNTYPED)
    issuer = func.coalesce(issued_card.c.issuer, UNRECORDED_ISSUER)
    issued_query = (
        select(issuer.label("issuer"), issued_card.c.service_id, card_type.label("card_type"))
        .add_columns(func.count())
        .where(*in_period)
        .group_by(issuer, issued_card.c.service_id, card_type)
    )
    outcome_query = (
        select(
            issuer.label("issuer"),
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
        issued = {(row[0], row[1], row[2]): int(row[3]) for row in connection.execute(issued_query)}
        outcomes = connection.execute(outcome_query).all()

    accepted: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    overridden: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    reasons: dict[tuple[str, str, str], dict[tuple[Any, Any, Any], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for row in outcomes:
        key = (row.issuer, row.service_id, row.card_type)
        if row.outcome == ACCEPTED:
            accepted[key].add(row.card_uuid)
        elif row.outcome == OVERRIDDEN:
            overridden[key].add(row.card_uuid)
            reason = row.override_reason or {}
            system, code, display = reason.get("system"), reason.get("code"), reason.get("display")
            if display is None and system is None and isinstance(code, str):
                display = _OWN_REASON_DISPLAYS.get(code)
            coding = (system, code, display)
            reasons[key][coding].add(row.card_uuid)
    return [
        CardTypeFeedback(
            issuer=key[0],
            service_id=key[1],
            card_type=key[2],
            issued=count,
            accepted=len(accepted[key]),
            overridden=len(overridden[key]),
            override_reasons=_ranked(
                OverrideReasonCount(system, code, display, len(cards))
                for (system, code, display), cards in reasons[key].items()
            ),
        )
        for key, count in sorted(issued.items())
    ]


def across_issuers(summary: Sequence[CardTypeFeedback]) -> list[CardTypeFeedback]:
    """Every issuer's rows of one service and card type added up (issuer `ALL_ISSUERS`).

    Exact, not an estimate: a card is issued through one issuer only, so no card is counted in
    two rows. For a glance; tune by the rows of each issuer.
    """
    groups: dict[tuple[str, str], list[CardTypeFeedback]] = defaultdict(list)
    for row in summary:
        groups[(row.service_id, row.card_type)].append(row)
    totals = []
    for (service_id, kind), rows in sorted(groups.items()):
        reason_cards: dict[tuple[str | None, str | None, str | None], int] = defaultdict(int)
        for row in rows:
            for reason in row.override_reasons:
                reason_cards[(reason.system, reason.code, reason.display)] += reason.cards
        totals.append(
            CardTypeFeedback(
                issuer=ALL_ISSUERS,
                service_id=service_id,
                card_type=kind,
                issued=sum(row.issued for row in rows),
                accepted=sum(row.accepted for row in rows),
                overridden=sum(row.overridden for row in rows),
                override_reasons=_ranked(
                    OverrideReasonCount(*coding, cards) for coding, cards in reason_cards.items()
                ),
            )
        )
    return totals


def _ranked(reasons: Iterable[OverrideReasonCount]) -> tuple[OverrideReasonCount, ...]:
    # Most frequent first; ties by code, so the order is stable.
    return tuple(sorted(reasons, key=lambda item: (-item.cards, item.code or "")))
