"""The float64 TreeSHAP tables against XGBoost's own margin and `pred_contribs`."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import xgboost

from models.tree_shap import TreeEnsembleExplainer, TreeModelError

SEED = 11


def _data(rows: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(rows, 5))
    x[rng.random(x.shape) < 0.15] = np.nan  # missing values take the default branches
    signal = np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2])
    y = (signal + rng.normal(size=rows) > 0).astype(int)
    return x, y


def _booster(depth: int, trees: int = 150) -> tuple[xgboost.Booster, dict[str, Any]]:
    x, y = _data()
    fitted = xgboost.XGBClassifier(
        n_estimators=trees, max_depth=depth, learning_rate=0.1, n_jobs=1, random_state=SEED
    ).fit(x, y)
    booster = fitted.get_booster()
    return booster, json.loads(bytes(booster.save_raw("json")))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_margins_and_contributions_match_xgboost(depth: int) -> None:
    booster, model = _booster(depth)
    x, _ = _data()
    explainer = TreeEnsembleExplainer(model, x.shape[1])
    matrix = xgboost.DMatrix(x)
    # XGBoost works in float32: agreement to its precision shows the same trees are evaluated.
    reference = booster.predict(matrix, pred_contribs=True).astype(np.float64)
    np.testing.assert_allclose(
        explainer.margin(x), booster.predict(matrix, output_margin=True), atol=2e-5
    )
    np.testing.assert_allclose(explainer.contributions(x), reference[:, :-1], atol=2e-5)
    assert explainer.expected_margin == pytest.approx(float(reference[0, -1]), abs=2e-5)


def test_contributions_add_up_to_the_margin_in_float64() -> None:
    _, model = _booster(3)
    x, _ = _data()
    explainer = TreeEnsembleExplainer(model, x.shape[1])
    total = explainer.expected_margin + explainer.contributions(x).sum(axis=1)
    assert np.max(np.abs(total - explainer.margin(x))) < 1e-9


def test_a_feature_no_tree_uses_contributes_nothing() -> None:
    x, y = _data()
    x[:, 4] = 0.0  # constant: no split can use it
    fitted = xgboost.XGBClassifier(n_estimators=50, max_depth=2, n_jobs=1, random_state=SEED)
    model = json.loads(bytes(fitted.fit(x, y).get_booster().save_raw("json")))
    assert np.all(TreeEnsembleExplainer(model, 5).contributions(x)[:, 4] == 0.0)


def test_trees_deeper_than_three_are_refused() -> None:
    _, model = _booster(4, trees=5)
    with pytest.raises(TreeModelError, match="depth 3"):
        TreeEnsembleExplainer(model, 5)


def test_other_objectives_are_refused() -> None:
    x, y = _data()
    regressor = xgboost.XGBRegressor(n_estimators=5, max_depth=2, n_jobs=1).fit(x, y)
    model = json.loads(bytes(regressor.get_booster().save_raw("json")))
    with pytest.raises(TreeModelError, match="binary:logistic"):
        TreeEnsembleExplainer(model, 5)
