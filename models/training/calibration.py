"""Logistic recalibration: Platt scaling for training, intercept and slope for evaluation.

Newton-Raphson on one or two parameters, unpenalised, so the figures are the textbook ones
(Van Calster et al., J Clin Epidemiol 2016: calibration intercept with the log-odds as an
offset, target 0; calibration slope, target 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.scoring import Calibration

FloatArray = npt.NDArray[np.float64]
_ITERATIONS = 100
_TOLERANCE = 1e-12
# Probabilities are clipped this far from 0 and 1 before taking log-odds.
_EPSILON = 1e-12


def _sigmoid(value: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-value))
    return result


def log_odds(probability: FloatArray) -> FloatArray:
    """The log-odds of probabilities (clipped away from 0 and 1)."""
    clipped = np.clip(probability, _EPSILON, 1.0 - _EPSILON)
    result: FloatArray = np.log(clipped / (1.0 - clipped))
    return result


def _newton(design: FloatArray, outcome: FloatArray, offset: FloatArray) -> FloatArray:
    beta = np.zeros(design.shape[1])
    for _ in range(_ITERATIONS):
        predicted = _sigmoid(offset + design @ beta)
        gradient = design.T @ (outcome - predicted)
        hessian = (design * (predicted * (1.0 - predicted))[:, np.newaxis]).T @ design
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < _TOLERANCE:
            break
    return beta


def platt(model_log_odds: FloatArray, outcome: npt.NDArray[Any]) -> Calibration:
    """The recalibration `slope x log-odds + intercept` that best fits the outcomes."""
    design = np.column_stack([np.ones_like(model_log_odds), model_log_odds])
    intercept, slope = _newton(design, outcome.astype(np.float64), np.zeros_like(model_log_odds))
    return Calibration(slope=float(slope), intercept=float(intercept))


def calibration_slope(probability: FloatArray, outcome: npt.NDArray[Any]) -> float:
    """The slope of the outcome's log-odds on the predicted log-odds (1 is ideal)."""
    return platt(log_odds(probability), outcome).slope


def calibration_intercept(probability: FloatArray, outcome: npt.NDArray[Any]) -> float:
    """Calibration-in-the-large: the intercept with the predicted log-odds as offset (0 ideal)."""
    (intercept,) = _newton(
        np.ones((len(probability), 1)), outcome.astype(np.float64), log_odds(probability)
    )
    return float(intercept)
