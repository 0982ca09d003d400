"""What a model returns: an estimate with its explanation, or why it gave none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from math import exp

# The scales on which contributions add up exactly.
LOG_ODDS = "log-odds"
LOG_CUMULATIVE_HAZARD = "log cumulative hazard"


def probability_at(margin_scale: str, margin: float) -> float:
    """The probability a margin stands for on its scale (log-odds or log cumulative hazard)."""
    if margin_scale == LOG_ODDS:
        return 1.0 / (1.0 + exp(-margin))
    if margin_scale == LOG_CUMULATIVE_HAZARD:
        return 1.0 - exp(-exp(margin))
    raise ValueError(f"unknown margin scale {margin_scale!r}")


class Absence(StrEnum):
    """Why an input has no value for the model."""

    # Nothing of the kind is in the chart.
    NOT_RECORDED = "not-recorded"
    # Recorded, but every value is older than the window the model reads the input from.
    TOO_OLD = "too-old"
    # Recorded within the window, but not as the model's data measured it (a home reading,
    # an implausible value, a status recorded as unknown).
    NOT_USABLE = "not-usable"


@dataclass(frozen=True)
class MissingReason:
    """Why an input has no value, so a card never calls a value in the chart "not recorded"."""

    absence: Absence
    # When the newest value of the kind was taken; None when nothing was recorded.
    last_recorded: date | None = None
    # For `Absence.TOO_OLD`: how many years back the model reads this input.
    window_years: int | None = None
    # For `Absence.NOT_USABLE`: why, in a clinician's words ("only home readings").
    reason: str = ""


NOTHING_RECORDED = MissingReason(Absence.NOT_RECORDED)


@dataclass(frozen=True)
class FilledIn:
    """What a model put in place of an input the chart did not give (imputation), in words.

    A missing input is not left out: the model fills it, and the filled-in value moves the
    estimate like a recorded one would, so a card must show it apart from the recorded inputs.
    """

    # The value used, in the input's unit; None when there is no single value (a tree sends a
    # missing input down the branch it learned for missing values at each split).
    value: float | None
    # Where the value comes from, said after it: "the average in the model's data", "read as none";
    # with no value, how the input was treated: "as for the adults in the model's data without one".
    origin: str


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
    # Set when `value` is None and the model filled the input in: with what, and why.
    filled_in: FilledIn | None = None
    # Set when `value` is None: why the chart gave none (nothing, too old, not usable).
    missing_reason: MissingReason | None = None


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
    # Where this patient lies at the edge of the model's data or in a subgroup its validation
    # found poorly served, each as a sentence for the card (`models.subgroups`).
    caveats: tuple[str, ...] = ()

    @property
    def baseline_probability(self) -> float:
        """The probability at the expected margin: the average adult of the model's data."""
        return probability_at(self.margin_scale, self.expected_margin)

    @property
    def filled_inputs(self) -> tuple[Contribution, ...]:
        """The inputs the chart did not give and the model filled in, with their contributions."""
        return tuple(item for item in self.contributions if item.filled_in is not None)

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
    # Why each missing input has no value, (name, reason): a card says "too old", not "none".
    missing_reasons: tuple[tuple[str, MissingReason], ...] = ()
