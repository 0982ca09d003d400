"""Global explanations for the model cards, computed with the `shap` library.

The service explains each estimate with its own numpy code (`models.tree_shap` for trees,
coefficient x (value - mean) for logistic regression). Here the same Shapley values are computed
by shap itself, from the artifact's model: `shap.TreeExplainer` with
`feature_perturbation="tree_path_dependent"` on the XGBoost booster, `shap.LinearExplainer` with
an independent masker at the training means for logistic regression (a missing input is set to
its mean first, as the service does). tests/models/test_shap_agreement.py holds the two equal to
1e-6 on every shipped model. Values are on the calibrated log-odds scale: the Platt
recalibration multiplies every contribution by its slope.
"""

from __future__ import annotations

import importlib
import json
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from models.scoring import CalibratedScorer, LinearScorer, Scorer, TreeScorer

FloatArray = npt.NDArray[np.float64]


def import_shap() -> ModuleType:
    """shap, imported without the deprecation warnings its colour maps raise under matplotlib."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # Imported by name: shap has no type information, and is only in the [train] extra.
        return importlib.import_module("shap")


def _booster(scorer: TreeScorer) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(json.dumps(scorer.payload()).encode()))
    return booster


def _with_internal_values(tree: Any) -> FloatArray:
    """Leaf values, and at each split the cover-weighted mean of its children's.

    shap's XGBoost parser leaves split nodes at 0; its expected value is the root's value, so
    it is filled in here as shap's own parsers of other libraries do.
    """
    values: FloatArray = np.array(tree.values, dtype=np.float64)
    weights = tree.node_sample_weight

    def fill(node: int) -> float:
        left, right = tree.children_left[node], tree.children_right[node]
        if left < 0:
            return float(values[node, 0])
        mean = (weights[left] * fill(left) + weights[right] * fill(right)) / weights[node]
        values[node, 0] = mean
        return float(mean)

    fill(0)
    return values


def _float64_trees(shap: ModuleType, scorer: TreeScorer) -> dict[str, Any]:
    """The booster as shap parses it, handed back to shap as its own tree ensemble.

    Given an XGBoost booster, `TreeExplainer(feature_perturbation="tree_path_dependent")` only
    calls XGBoost's `pred_contribs`, which works in float32 (errors of ~1e-6 on a margin of a few
    units). Given the same trees as shap's model dictionary, shap runs its own path-dependent
    TreeSHAP (Lundberg et al. 2020) in float64, which can be held to 1e-6.
    """
    parsed = shap.TreeExplainer(_booster(scorer), feature_perturbation="tree_path_dependent").model
    trees = [
        {
            "children_left": tree.children_left,
            "children_right": tree.children_right,
            "children_default": tree.children_default,
            "features": tree.features,
            "thresholds": tree.thresholds,
            "values": _with_internal_values(tree),
            "node_sample_weight": tree.node_sample_weight,
        }
        for tree in parsed.trees
    ]
    return {
        "trees": trees,
        "base_offset": float(np.asarray(parsed.base_offset).reshape(-1)[0]),
        "tree_output": "log_odds",
        "objective": "binary_crossentropy",
        "input_dtype": np.float64,
        "internal_dtype": np.float64,
    }


def raw_shap_values(scorer: Scorer, rows: FloatArray) -> tuple[FloatArray, float]:
    """shap's Shapley values of the uncalibrated log-odds, and its expected value."""
    shap = import_shap()
    if isinstance(scorer, TreeScorer):
        explainer = shap.TreeExplainer(_float64_trees(shap, scorer))
        # XGBoost compares float32 values with its float32 thresholds; so does the service.
        values = explainer.shap_values(rows.astype(np.float32).astype(np.float64))
        return np.asarray(values, dtype=np.float64), float(
            np.asarray(explainer.expected_value).reshape(-1)[0]
        )
    if isinstance(scorer, LinearScorer):
        coefficients = scorer.coefficients / scorer.scales
        intercept = scorer.intercept - float(coefficients @ scorer.means)
        masker = shap.maskers.Independent({"mean": scorer.means, "cov": np.diag(scorer.scales**2)})
        explainer = shap.LinearExplainer((coefficients, intercept), masker)
        filled = np.where(np.isnan(rows), scorer.means, rows)
        values = np.asarray(explainer.shap_values(filled), dtype=np.float64)
        return values, float(np.asarray(explainer.expected_value).reshape(-1)[0])
    raise TypeError(f"no shap explainer for {type(scorer).__name__}")


def shap_explanation(model: CalibratedScorer, rows: FloatArray, feature_labels: list[str]) -> Any:
    """A `shap.Explanation` of the calibrated log-odds over the rows (for shap's plots)."""
    shap = import_shap()
    values, expected = raw_shap_values(model.scorer, rows)
    slope, intercept = model.calibration.slope, model.calibration.intercept
    return shap.Explanation(
        values=values * slope,
        base_values=np.full(len(rows), slope * expected + intercept),
        data=rows,
        feature_names=feature_labels,
    )
