"""The service's own explainers equal the shap library's on every shipped model, to 1e-6.

Trees: `models.tree_shap` against shap's path-dependent TreeSHAP (float64, shap's own
algorithm on the artifact's booster). Logistic regression: coefficient x (value - mean) against
`shap.LinearExplainer` with an independent masker at the training means. On every row of each
model's NHANES population, missing values included.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.registry import load_risk_models
from models.risk_models import LEARNED_MODELS
from models.scoring import LOGISTIC, XGBOOST
from models.training import nhanes
from models.training.explanations import raw_shap_values, shap_explanation
from models.training.fitting import design

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def populations() -> dict[str, nhanes.Population]:
    survey = nhanes.read_survey()
    return {
        "glycemia": nhanes.glycemia_population(survey),
        "blood-pressure": nhanes.blood_pressure_population(survey),
    }


def test_the_shipped_models_are_of_both_kinds() -> None:
    models = load_risk_models()
    learned = (models.dysglycemia, models.undiagnosed_diabetes, models.unmeasured_blood_pressure)
    assert {model.scorer.scorer.kind for model in learned} <= {LOGISTIC, XGBOOST}


@pytest.mark.parametrize("spec", LEARNED_MODELS, ids=lambda spec: spec.name)
def test_the_runtime_explainer_equals_shaps(
    spec: object, populations: dict[str, nhanes.Population]
) -> None:
    models = load_risk_models()
    model = next(
        m
        for m in (models.dysglycemia, models.undiagnosed_diabetes, models.unmeasured_blood_pressure)
        if m.spec is spec
    )
    rows = design(model.spec, populations[model.spec.population].frame)
    assert np.isnan(rows).any()  # missing values are part of the comparison
    runtime = model.scorer.scorer.explain(rows)
    values, expected = raw_shap_values(model.scorer.scorer, rows)
    assert np.max(np.abs(values - runtime.contributions)) < TOLERANCE
    assert abs(expected - runtime.expected_log_odds) < TOLERANCE
    # And on the calibrated scale the cards show.
    calibrated = model.scorer.explain(rows)
    explanation = shap_explanation(model.scorer, rows, list(model.spec.feature_names))
    assert np.max(np.abs(explanation.values - calibrated.contributions)) < TOLERANCE
    assert np.max(np.abs(explanation.base_values - calibrated.expected_log_odds)) < TOLERANCE
