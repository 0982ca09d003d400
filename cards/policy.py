"""When a risk becomes a card: bands, their indicators, and what earlier feedback holds back.

The bands and periods are the deploying site's choice: their defaults, reasons and validation
live in one place, `cds_service.settings.CardSettings` (`[cards]`, changed at run time through
`/admin`); a `CardPolicy` is made from the settings in force. The card builders are pure
functions of the record, the estimates, this policy and the patient's feedback history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from cards.cds_card import Indicator


class Band(IntEnum):
    """How high a risk is; ordered, so a rise can be told from a fall."""

    LOW = 0
    MODERATE = 1
    HIGH = 2

    @property
    def word(self) -> str:
        """The band as a card says it."""
        return self.name.lower()


@dataclass(frozen=True)
class RiskBands:
    """One risk's thresholds (moderate from `moderate_from`, high from `high_from`) and the
    card each band gets (None: no card)."""

    moderate_from: float
    high_from: float
    indicators: Mapping[Band, Indicator | None]

    def band(self, probability: float) -> Band:
        """The band a probability falls in."""
        if probability >= self.high_from:
            return Band.HIGH
        return Band.MODERATE if probability >= self.moderate_from else Band.LOW

    def indicator(self, band: Band) -> Indicator | None:
        """The indicator of a card in this band; None means no card."""
        return self.indicators.get(band)


@dataclass(frozen=True)
class CardPolicy:
    """Everything a site tunes about the risk cards, as the card rules read it."""

    diabetes: RiskBands
    unmeasured_blood_pressure: RiskBands
    hypertension_incidence: RiskBands
    # Whether to say which measurement would make an estimate possible (an `info` card).
    explain_missing_estimate: bool
    suppress_overridden_days: int
    suppress_accepted_days: int
    # Where the model cards are served (absolute URL, no trailing slash).
    model_cards_url: str
    # The SMART launch URL of the detail app behind the cards (None: no such link).
    detail_app_url: str | None


@dataclass(frozen=True)
class FeedbackHistory:
    """What this patient's clinicians said about earlier cards of a service, still in force.

    `overridden` maps a card type to the highest band in which it was overridden within the
    suppression period (None for cards without a band); `accepted` holds the suggestion kinds
    accepted within their period (the order is taken to be pending for that long).
    """

    overridden: Mapping[str, Band | None] = field(default_factory=dict)
    accepted: frozenset[str] = frozenset()

    def holds_back(self, card_type: str, band: Band | None) -> bool:
        """Whether a card of this type and band was overridden and the risk has not risen."""
        if card_type not in self.overridden:
            return False
        overridden_in = self.overridden[card_type]
        return band is None or overridden_in is None or band <= overridden_in


NO_HISTORY = FeedbackHistory()
