"""What a model returns: an estimate with its explanation, or why it gave none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The scales on which contributions add up exactly.
LOG_ODDS = "log-odds"
LOG_CUMULATIVE_HAZARD = "log cumulative hazard"


@dataclass(frozen=True)
class Contribution:
    """One input's share of the estimate, with the value and where it came from."""

    feature: str
    label: str
    unit: str
    value: float | None
    sources: tuple[str, ...]
    effective: date | None
    note: str
    # The Shapley value on the estimate's margin scale: > 0 raised the estimate.
    shapley: float


@dataclass(frozen=True)
class RiskEstimate:
    """A probability, its margin, and contributions that add up to the margin exactly."""

    model: str
    outcome: str
    probability: float
    margin: float
    margin_scale: str
    expected_margin: float
    contributions: tuple[Contribution, ...]
    # Inputs without a usable value; how each model treats them is in its model card.
    missing: tuple[str, ...]
    artifact_sha256: str
    # For incidence: (years, probability) at each horizon; `probability` is the longest.
    horizons: tuple[tuple[int, float], ...] = ()

    @property
    def additivity_error(self) -> float:
        """|margin - (expected margin + contributions)|: zero up to rounding."""
        total = self.expected_margin + sum(item.shapley for item in self.contributions)
        return abs(self.margin - total)


@dataclass(frozen=True)
class NoEstimate:
    """Why a model gave no number for this patient (missing inputs, out of its population)."""

    model: str
    reasons: tuple[str, ...]
    missing: tuple[str, ...] = ()
