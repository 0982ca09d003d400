"""Held-out evaluation as TRIPOD+AI asks: discrimination with CIs, calibration, subgroups.

Everything here is computed on the test rows of the fixed split, which no training choice saw.
Bootstrap resamples are seeded, so the same model gives the same figures to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.risk_models import DYSGLYCEMIA, UNDIAGNOSED_DIABETES, LearnedModelSpec
from models.scoring import CalibratedScorer
from models.training.calibration import calibration_intercept, calibration_slope
from models.training.fitting import design
from models.training.published_scores import SCORES
from models.training.subgroups import subgroup_figures

FloatArray = npt.NDArray[np.float64]

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 7
CONFIDENCE = 0.95
# Scored with only these inputs present: what a chart with nothing but a weight still supports.
MINIMAL_INPUTS = ("age", "male_sex", "bmi")
LOGISTIC_BASELINE = "logistic regression (same features)"
PUBLISHED_BASELINES = {DYSGLYCEMIA.name: SCORES, UNDIAGNOSED_DIABETES.name: SCORES}


@dataclass(frozen=True)
class Bootstrap:
    """One set of seeded resamples of the test rows, shared by every score of a model.

    Sharing the resamples makes the comparison with a baseline paired: the CI of the AUROC
    difference is from the same resampled patients, as it should be.
    """

    outcome: npt.NDArray[np.int64]
    samples: tuple[npt.NDArray[np.int64], ...]

    @classmethod
    def of(cls, outcome: npt.NDArray[np.int64]) -> Bootstrap:
        """Draw the resamples (those with one class only cannot give an AUROC and are skipped)."""
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        drawn = (rng.integers(0, len(outcome), len(outcome)) for _ in range(BOOTSTRAP_RESAMPLES))
        samples = tuple(s for s in drawn if outcome[s].min() != outcome[s].max())
        return cls(outcome, samples)

    def aurocs(self, score: FloatArray) -> FloatArray:
        """The AUROC of the score in each resample."""
        return np.array([roc_auc_score(self.outcome[s], score[s]) for s in self.samples])

    def auroc_with_ci(self, score: FloatArray) -> tuple[float, list[float], FloatArray]:
        """AUROC, its percentile bootstrap CI, and the resampled values (for paired CIs)."""
        resampled = self.aurocs(score)
        return float(roc_auc_score(self.outcome, score)), _interval(resampled), resampled


def _interval(values: FloatArray) -> list[float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def net_benefit(outcome: npt.NDArray[np.int64], probability: FloatArray, threshold: float) -> float:
    """Decision-curve net benefit of treating those at or above the threshold (Vickers 2006)."""
    treated = probability >= threshold
    n = len(outcome)
    true_positive = np.sum(treated & (outcome == 1)) / n
    false_positive = np.sum(treated & (outcome == 0)) / n
    return float(true_positive - false_positive * threshold / (1 - threshold))


@dataclass(frozen=True)
class TestRows:
    """A model's held-out rows: inputs, outcome and the subgroup columns."""

    frame: pd.DataFrame
    rows: FloatArray
    outcome: npt.NDArray[np.int64]


def test_rows(spec: LearnedModelSpec, frame: pd.DataFrame, test: npt.NDArray[np.int64]) -> TestRows:
    """The spec's test rows out of its population."""
    held_out = frame.iloc[test].reset_index(drop=True)
    return TestRows(held_out, design(spec, held_out), held_out[spec.label].to_numpy(np.int64))


def evaluate_model(
    spec: LearnedModelSpec, model: CalibratedScorer, logistic: CalibratedScorer, data: TestRows
) -> dict[str, Any]:
    """The evaluation document of one model (the `cdss evaluate` schema)."""
    explanation = model.explain(data.rows)
    probability = explanation.probability
    bootstrap = Bootstrap.of(data.outcome)
    auroc, auroc_ci, resampled = bootstrap.auroc_with_ci(probability)
    minimal = np.where(np.isin(np.array(spec.feature_names), MINIMAL_INPUTS), data.rows, np.nan)
    minimal_auroc, minimal_ci, _ = bootstrap.auroc_with_ci(model.explain(minimal).probability)
    scores = {
        name: score(data.frame) for name, score in PUBLISHED_BASELINES.get(spec.name, {}).items()
    }
    scores[LOGISTIC_BASELINE] = logistic.explain(data.rows).probability
    baselines: dict[str, Any] = {}
    for name, score in scores.items():
        value, ci, baseline_resampled = bootstrap.auroc_with_ci(score)
        baselines[name] = {
            "auroc": value,
            "auroc_ci": ci,
            # Paired: the model's AUROC minus the baseline's, over the same resamples.
            "auroc_difference": auroc - value,
            "auroc_difference_ci": _interval(resampled - baseline_resampled),
        }
    thresholds = [round(t, 2) for t in np.arange(0.02, 0.62, 0.02)]
    return {
        "outcome": spec.outcome,
        "kind": model.scorer.kind,
        "n_test": len(data.outcome),
        "prevalence": float(data.outcome.mean()),
        "auroc": auroc,
        "auroc_ci": auroc_ci,
        "auprc": float(average_precision_score(data.outcome, probability)),
        "brier": float(brier_score_loss(data.outcome, probability)),
        "calibration_intercept": calibration_intercept(probability, data.outcome),
        "calibration_slope": calibration_slope(probability, data.outcome),
        "shap_additivity_max_error": explanation.additivity_error(),
        "auroc_minimal_inputs": {
            "inputs": list(MINIMAL_INPUTS),
            "auroc": minimal_auroc,
            "auroc_ci": minimal_ci,
        },
        "subgroups": subgroup_figures(data.frame, data.outcome, probability),
        "baselines": baselines,
        "decision_curve": {
            "thresholds": thresholds,
            "model": [net_benefit(data.outcome, probability, t) for t in thresholds],
            "treat_all": [
                net_benefit(data.outcome, np.ones_like(probability), t) for t in thresholds
            ],
        },
        "calibration_bins": _calibration_bins(data.outcome, probability),
    }


def _calibration_bins(outcome: npt.NDArray[np.int64], probability: FloatArray) -> dict[str, Any]:
    """Mean predicted and observed risk in ten groups of equal size (for the plot)."""
    order = np.argsort(probability, kind="stable")
    groups = np.array_split(order, 10)
    return {
        "predicted": [float(probability[g].mean()) for g in groups],
        "observed": [float(outcome[g].mean()) for g in groups],
        "n": [len(g) for g in groups],
    }
