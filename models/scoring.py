"""The two kinds of learned model, behind one interface: log-odds with exact Shapley values.

Both are calibrated by a logistic (Platt) recalibration of their log-odds, fitted on rows not
used for fitting. It is an affine map of the log-odds, so the calibrated log-odds are still the
exact sum of the (rescaled) contributions: calibration costs the explanation nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from models.prediction import FilledIn
from models.tree_shap import TreeEnsembleExplainer

FloatArray = npt.NDArray[np.float64]

LOGISTIC = "logistic-regression"
XGBOOST = "xgboost"
# How each kind fills a missing input, in a clinician's words.
FILLED_WITH_THE_MEAN = "the average in the model's data"
# XGBoost sends a missing input down the branch it learned for missing values at each split.
TREE_MISSING_BRANCH = "as for the adults in the model's data without one"


@dataclass(frozen=True)
class Explanation:
    """Log-odds for each row, the expected log-odds, and each feature's contribution."""

    log_odds: FloatArray  # (rows,)
    expected_log_odds: float
    contributions: FloatArray  # (rows, features)

    @property
    def probability(self) -> FloatArray:
        """The probabilities the log-odds stand for."""
        result: FloatArray = 1.0 / (1.0 + np.exp(-self.log_odds))
        return result

    def additivity_error(self) -> float:
        """The largest gap between the log-odds and expected log-odds plus contributions."""
        total = self.expected_log_odds + self.contributions.sum(axis=1)
        return float(np.max(np.abs(total - self.log_odds), initial=0.0))


class Scorer(Protocol):
    """A fitted model that explains its own log-odds."""

    @property
    def kind(self) -> str:
        """`LOGISTIC` or `XGBOOST`."""
        ...

    def explain(self, rows: FloatArray) -> Explanation:
        """Log-odds and exact Shapley values for each row (NaN where a value is missing)."""
        ...

    def payload(self) -> dict[str, Any]:
        """What the artifact stores to rebuild this scorer."""
        ...

    def filled_in(self) -> tuple[FilledIn, ...]:
        """How each input is filled in when missing, in the model's feature order."""
        ...


@dataclass(frozen=True)
class LinearScorer:
    """Logistic regression on standardised inputs; a missing value is set to the mean.

    With features taken as independent, a linear model's Shapley values are exact:
    coefficient x (value - mean), so a missing value contributes exactly nothing.
    """

    means: FloatArray
    scales: FloatArray
    coefficients: FloatArray  # per standardised feature
    intercept: float
    kind: str = LOGISTIC

    def explain(self, rows: FloatArray) -> Explanation:
        """See `Scorer.explain`."""
        centred = np.where(np.isnan(rows), 0.0, rows - self.means) / self.scales
        contributions = centred * self.coefficients
        log_odds = self.intercept + centred @ self.coefficients
        return Explanation(log_odds, self.intercept, contributions)

    def filled_in(self) -> tuple[FilledIn, ...]:
        """See `Scorer.filled_in`: the training mean, which contributes exactly nothing."""
        return tuple(FilledIn(float(mean), FILLED_WITH_THE_MEAN) for mean in self.means)

    def payload(self) -> dict[str, Any]:
        """See `Scorer.payload`."""
        return {
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LinearScorer:
        """Rebuild from an artifact's payload."""
        return cls(
            means=np.asarray(payload["means"], dtype=np.float64),
            scales=np.asarray(payload["scales"], dtype=np.float64),
            coefficients=np.asarray(payload["coefficients"], dtype=np.float64),
            intercept=float(payload["intercept"]),
        )


class TreeScorer:
    """A gradient-boosted tree ensemble (XGBoost's JSON model) with exact TreeSHAP."""

    kind = XGBOOST

    def __init__(self, model: dict[str, Any], n_features: int) -> None:
        self._model = model
        self._n_features = n_features
        self._explainer = TreeEnsembleExplainer(model, n_features)

    def filled_in(self) -> tuple[FilledIn, ...]:
        """See `Scorer.filled_in`: no single value; each split's learned default branch."""
        return (FilledIn(None, TREE_MISSING_BRANCH),) * self._n_features

    def explain(self, rows: FloatArray) -> Explanation:
        """See `Scorer.explain`."""
        return Explanation(
            self._explainer.margin(rows),
            self._explainer.expected_margin,
            self._explainer.contributions(rows),
        )

    def payload(self) -> dict[str, Any]:
        """See `Scorer.payload`."""
        return self._model


@dataclass(frozen=True)
class Calibration:
    """Calibrated log-odds = slope x log-odds + intercept."""

    slope: float
    intercept: float

    def apply(self, explanation: Explanation) -> Explanation:
        """The explanation on the calibrated log-odds scale (still exactly additive)."""
        return Explanation(
            self.slope * explanation.log_odds + self.intercept,
            self.slope * explanation.expected_log_odds + self.intercept,
            self.slope * explanation.contributions,
        )


@dataclass(frozen=True)
class CalibratedScorer:
    """A scorer and the recalibration fitted for it."""

    scorer: Scorer
    calibration: Calibration

    def explain(self, rows: FloatArray) -> Explanation:
        """Calibrated log-odds with exact Shapley values, in one pass."""
        return self.calibration.apply(self.scorer.explain(rows))

    def filled_in(self) -> tuple[FilledIn, ...]:
        """How the scorer fills each missing input (calibration does not change it)."""
        return self.scorer.filled_in()


def scorer_from_payload(kind: str, payload: dict[str, Any], n_features: int) -> Scorer:
    """Rebuild a scorer of the given kind."""
    if kind == LOGISTIC:
        return LinearScorer.from_payload(payload)
    if kind == XGBOOST:
        return TreeScorer(payload, n_features)
    raise ValueError(f"unknown model kind {kind!r}")
