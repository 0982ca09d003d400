"""When a risk becomes a card: bands, their indicators, and what earlier feedback holds back.

The bands and periods are the deploying site's choice (configuration, `[cards]`); the defaults
below are a starting point, each with its reason. The card builders are pure functions of the
record, the estimates, this policy and the patient's feedback history.
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


def _default_indicators() -> dict[Band, Indicator | None]:
    # A low risk is no news: no card (alert fatigue is why CDS gets switched off).
    return {Band.LOW: None, Band.MODERATE: Indicator.INFO, Band.HIGH: Indicator.WARNING}


@dataclass(frozen=True)
class RiskBands:
    """One risk's thresholds (moderate from `moderate_from`, high from `high_from`) and the
    card each band gets (None: no card)."""

    moderate_from: float
    high_from: float
    indicators: Mapping[Band, Indicator | None] = field(default_factory=_default_indicators)

    def __post_init__(self) -> None:
        if not 0.0 < self.moderate_from < self.high_from < 1.0:
            raise ValueError("bands need 0 < moderate_from < high_from < 1")

    def band(self, probability: float) -> Band:
        """The band a probability falls in."""
        if probability >= self.high_from:
            return Band.HIGH
        return Band.MODERATE if probability >= self.moderate_from else Band.LOW

    def indicator(self, band: Band) -> Indicator | None:
        """The indicator of a card in this band; None means no card."""
        return self.indicators.get(band)


# Parikh's own 4-year bands: low < 5%, medium 5-10%, high > 10% (Ann Intern Med 2008). Only the
# high band gets a card (about half of Parikh's cohort was "high"), and a risk years away calls
# for nothing urgent: never more than `info`.
_INCIDENCE_BANDS = RiskBands(
    moderate_from=0.05,
    high_from=0.10,
    indicators={Band.LOW: None, Band.MODERATE: None, Band.HIGH: Indicator.INFO},
)


@dataclass(frozen=True)
class CardPolicy:
    """Everything a site tunes about the risk cards."""

    # Undiagnosed dysglycemia (HbA1c >= 5.7%); 34% of the NHANES adults without diagnosed
    # diabetes have it, so "high" starts well above that.
    diabetes: RiskBands = RiskBands(moderate_from=0.25, high_from=0.40)
    # BP >= 130/80 if measured, for patients with no reading in 12 months (prevalence 44%).
    unmeasured_blood_pressure: RiskBands = RiskBands(moderate_from=0.30, high_from=0.50)
    hypertension_incidence: RiskBands = _INCIDENCE_BANDS
    # Whether to say which measurement would make an estimate possible (an `info` card).
    explain_missing_estimate: bool = True
    suppress_overridden_days: int = 90
    suppress_accepted_days: int = 30
    # Where the model cards are served (absolute URL, no trailing slash).
    model_cards_url: str = "http://127.0.0.1:8080/model-cards"
    # The SMART launch URL of the detail app behind the cards (None: no such link).
    detail_app_url: str | None = "http://127.0.0.1:8080/smart/launch"

    def __post_init__(self) -> None:
        if set(self.hypertension_incidence.indicators.values()) - {None, Indicator.INFO}:
            raise ValueError("a 4-year hypertension risk card is at most `info`")


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
