"""Fitting the learned models on NHANES, deterministically.

Each population is split once by a fixed seed into fitting rows, calibration rows and test rows.
The test rows are never looked at here: the choice between tuned XGBoost and regularised
logistic regression is made by cross-validated AUROC on the fitting rows alone, by one rule
for every model (`choose`, stated before any figure was seen: the one-standard-error rule), and
the Platt recalibration is fitted on the calibration rows. Everything is seeded and single-threaded,
so the same package versions give the same artifacts, to the bit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from models.risk_models import LearnedModelSpec
from models.scoring import LOGISTIC, XGBOOST, CalibratedScorer, LinearScorer, Scorer, TreeScorer
from models.training import nhanes
from models.training.calibration import platt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SEED = 2017
TEST_FRACTION = 0.25
CALIBRATION_FRACTION = 0.25  # of what is left after the test rows
CV_FOLDS = 5
LOGISTIC_INVERSE_PENALTIES = (0.01, 0.1, 1.0)
TREE_SETTINGS = tuple(
    {
        "max_depth": depth,
        "n_estimators": trees,
        "learning_rate": rate,
        "min_child_weight": child_weight,
    }
    for depth in (2, 3)
    for trees in (100, 200, 400)
    for rate in (0.02, 0.05)
    for child_weight in (5.0, 20.0)
)
TREE_FIXED = {
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    # One thread: the same trees on every machine, whatever its cores.
    "n_jobs": 1,
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Split:
    """Row positions in a population: fitting, calibration and held-out test rows."""

    fit: npt.NDArray[np.int64]
    calibration: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]


def populations() -> dict[str, nhanes.Population]:
    """Every training population, by name (see `LearnedModelSpec.population`)."""
    survey = nhanes.read_survey()
    return {
        "glycemia": nhanes.glycemia_population(survey),
        "blood-pressure": nhanes.blood_pressure_population(survey),
    }


def split_population(population: str, frame: pd.DataFrame) -> Split:
    """The fixed split of a population (both diabetes labels share one, stratified on both)."""
    if population == "glycemia":
        strata = frame["dysglycemia"] + frame["undiagnosed_diabetes"]
    else:
        strata = frame["stage1_or_higher"]
    positions = np.arange(len(frame))
    rest, test = train_test_split(
        positions, test_size=TEST_FRACTION, random_state=SEED, stratify=strata
    )
    fit, calibration = train_test_split(
        rest, test_size=CALIBRATION_FRACTION, random_state=SEED + 1, stratify=strata.iloc[rest]
    )
    return Split(np.sort(fit), np.sort(calibration), np.sort(test))


def design(spec: LearnedModelSpec, frame: pd.DataFrame) -> FloatArray:
    """The model's inputs as a float matrix, NaN where missing."""
    matrix: FloatArray = frame[list(spec.feature_names)].to_numpy(dtype=np.float64)
    return matrix


def fit_logistic(
    rows: FloatArray, outcome: npt.NDArray[np.int64], inverse_penalty: float
) -> LinearScorer:
    """L2-penalised logistic regression on standardised inputs, missing set to the mean."""
    means = np.nanmean(rows, axis=0)
    scales = np.nanstd(rows, axis=0)
    scales[scales == 0] = 1.0
    standardised = np.where(np.isnan(rows), 0.0, rows - means) / scales
    fitted = LogisticRegression(C=inverse_penalty, max_iter=5000).fit(standardised, outcome)
    return LinearScorer(
        means, scales, fitted.coef_[0].astype(np.float64), float(fitted.intercept_[0])
    )


def fit_trees(
    spec: LearnedModelSpec,
    rows: FloatArray,
    outcome: npt.NDArray[np.int64],
    setting: dict[str, Any],
) -> TreeScorer:
    """Gradient-boosted trees under the spec's monotone constraints."""
    constraints = tuple(spec.monotone.get(name, 0) for name in spec.feature_names)
    fitted = xgboost.XGBClassifier(
        **TREE_FIXED, **setting, monotone_constraints=constraints, random_state=SEED
    ).fit(rows, outcome)
    model = json.loads(bytes(fitted.get_booster().save_raw("json")))
    return TreeScorer(model, len(spec.feature_names))


@dataclass(frozen=True)
class CrossValidated:
    """A candidate's AUROC in each fold, their mean and its standard error."""

    folds: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The mean fold AUROC."""
        return float(np.mean(self.folds))

    @property
    def standard_error(self) -> float:
        """The standard error of the mean (sample SD of the folds over the root of their count)."""
        return float(np.std(self.folds, ddof=1) / np.sqrt(len(self.folds)))


def _cross_validated_auroc(
    fit: Callable[[FloatArray, npt.NDArray[np.int64]], Scorer],
    rows: FloatArray,
    outcome: npt.NDArray[np.int64],
) -> CrossValidated:
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    scores = []
    for train, validation in folds.split(rows, outcome):
        scorer = fit(rows[train], outcome[train])
        scores.append(
            float(roc_auc_score(outcome[validation], scorer.explain(rows[validation]).log_odds))
        )
    return CrossValidated(tuple(scores))


Candidate = tuple[CrossValidated, str, dict[str, Any]]


def choose(candidates: list[Candidate]) -> tuple[Candidate, Candidate, str]:
    """The one-standard-error rule, the same for every model: (chosen, best logistic, why).

    The candidate with the best mean CV AUROC sets the bar: its mean less its standard error.
    Logistic regression (the simpler model: one coefficient per input, additive, and its
    explanation needs no tree) ties when its best mean CV AUROC reaches that bar, and then it
    ships; XGBoost ships only when it beats the bar. Within a kind, the best mean wins.
    """

    def best(kind: str) -> Candidate:
        return max((c for c in candidates if c[1] == kind), key=lambda c: c[0].mean)

    best_logistic, best_trees = best(LOGISTIC), best(XGBOOST)
    top = max(best_logistic, best_trees, key=lambda c: c[0].mean)
    bar = top[0].mean - top[0].standard_error
    if best_logistic[0].mean >= bar:
        why = (
            f"logistic regression's CV AUROC {best_logistic[0].mean:.4f} is within one standard "
            f"error of the best ({top[0].mean:.4f} - {top[0].standard_error:.4f} = {bar:.4f}): "
            "a tie, so the simpler model ships"
        )
        return best_logistic, best_logistic, why
    why = (
        f"XGBoost's CV AUROC {best_trees[0].mean:.4f} beats logistic regression's "
        f"{best_logistic[0].mean:.4f} by more than one standard error ({top[0].standard_error:.4f})"
    )
    return best_trees, best_logistic, why


@dataclass(frozen=True)
class TrainedModel:
    """A fitted, calibrated model, the logistic regression it was weighed against, and why."""

    spec: LearnedModelSpec
    scorer: CalibratedScorer
    logistic: CalibratedScorer
    training: dict[str, Any]


def train_model(
    spec: LearnedModelSpec, frame: pd.DataFrame, split: Split, progress: Progress
) -> TrainedModel:
    """Tune both kinds by cross-validation on the fitting rows, `choose`, calibrate the choice."""
    rows, outcome = design(spec, frame), frame[spec.label].to_numpy(dtype=np.int64)
    fit_rows, fit_outcome = rows[split.fit], outcome[split.fit]
    candidates: list[Candidate] = []
    for penalty in LOGISTIC_INVERSE_PENALTIES:

        def logistic_candidate(r: FloatArray, y: IntArray, c: float = penalty) -> Scorer:
            return fit_logistic(r, y, c)

        score = _cross_validated_auroc(logistic_candidate, fit_rows, fit_outcome)
        candidates.append((score, LOGISTIC, {"C": penalty}))
        progress(f"  {spec.name}: logistic regression C={penalty}: CV AUROC {score.mean:.4f}")
    for setting in TREE_SETTINGS:

        def tree_candidate(r: FloatArray, y: IntArray, s: dict[str, Any] = setting) -> Scorer:
            return fit_trees(spec, r, y, s)

        score = _cross_validated_auroc(tree_candidate, fit_rows, fit_outcome)
        candidates.append((score, XGBOOST, setting))
        progress(f"  {spec.name}: xgboost {setting}: CV AUROC {score.mean:.4f}")

    chosen, best_logistic, why = choose(candidates)
    logistic = fit_logistic(fit_rows, fit_outcome, best_logistic[2]["C"])
    scorer: Scorer = (
        fit_trees(spec, fit_rows, fit_outcome, chosen[2]) if chosen[1] == XGBOOST else logistic
    )

    def calibrated(fitted: Scorer) -> CalibratedScorer:
        calibration_log_odds = fitted.explain(rows[split.calibration]).log_odds
        return CalibratedScorer(fitted, platt(calibration_log_odds, outcome[split.calibration]))

    model, baseline = calibrated(scorer), calibrated(logistic)
    progress(f"  {spec.name}: chose {chosen[1]} {chosen[2]}: {why}")
    training = {
        "seed": SEED,
        "population": spec.population,
        "label": spec.label,
        "rows": {"fit": len(split.fit), "calibration": len(split.calibration)},
        "selection": {
            "rule": "one standard error: logistic regression ships when its mean 5-fold CV "
            "AUROC on the fitting rows is at least the best candidate's mean less that "
            "candidate's standard error; the held-out rows play no part",
            "why": why,
        },
        "chosen": {
            "kind": chosen[1],
            "settings": chosen[2],
            "cv_auroc": chosen[0].mean,
            "cv_auroc_se": chosen[0].standard_error,
        },
        "candidates": [
            {
                "kind": kind,
                "settings": settings,
                "cv_auroc": score.mean,
                "cv_auroc_se": score.standard_error,
                "cv_auroc_folds": list(score.folds),
            }
            for score, kind, settings in candidates
        ],
        "monotone": spec.monotone,
        "calibration": {
            "method": "Platt (logistic recalibration of the log-odds) on the calibration rows",
            "slope": model.calibration.slope,
            "intercept": model.calibration.intercept,
        },
    }
    return TrainedModel(spec, model, baseline, training)
