"""Exact TreeSHAP in float64 for an XGBoost ensemble of shallow trees, as lookup tables.

XGBoost's own `pred_contribs` is exact TreeSHAP but returns float32, whose rounding leaves the
contributions a few 1e-6 away from the margin; the explanations here must add up to 1e-6.

For a tree, a patient's path-dependent Shapley values (Lundberg et al. 2020, the values
`pred_contribs` computes) depend on the patient only through the direction taken at each split:
at a split on a feature in the coalition the patient's direction is followed, at any other the
children are averaged by cover. So a tree of depth d has at most 2**(2**d - 1) outcomes, which
for the depths trained here (at most 3) is 128: every outcome's Shapley values are computed once,
exactly, at load time, and a prediction is the splits' directions followed by a table look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import factorial, log
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_DEPTH = 3
_MAX_SPLITS = 2**MAX_DEPTH - 1
# Rows per block in a batch: bounds the (rows x trees x features) look-up array.
_BLOCK_ROWS = 512


class TreeModelError(ValueError):
    """The XGBoost model cannot be explained exactly here (depth, objective, categories)."""


@dataclass(frozen=True)
class _Tree:
    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    default_left: list[bool]
    cover: list[float]

    def is_leaf(self, node: int) -> bool:
        return self.left[node] == -1


def _parse_base_margin(learner: dict[str, Any]) -> float:
    params = learner["learner_model_param"]
    probability = float(str(params["base_score"]).strip("[]"))
    return log(probability / (1.0 - probability))


def _parse_trees(model: dict[str, Any]) -> tuple[float, list[_Tree]]:
    learner = model["learner"]
    if learner["objective"]["name"] != "binary:logistic":
        raise TreeModelError("only binary:logistic models are explained")
    trees = []
    for raw in learner["gradient_booster"]["model"]["trees"]:
        if raw["categories_nodes"]:
            raise TreeModelError("categorical splits are not supported")
        trees.append(
            _Tree(
                left=raw["left_children"],
                right=raw["right_children"],
                feature=raw["split_indices"],
                # XGBoost compares float32 values; so do we (see `_directions`).
                threshold=raw["split_conditions"],
                default_left=[bool(flag) for flag in raw["default_left"]],
                cover=raw["sum_hessian"],
            )
        )
    return _parse_base_margin(learner), trees


@dataclass(frozen=True)
class _TreeTables:
    split_nodes: list[int]
    leaf_values: FloatArray  # (outcomes,)
    shapley: FloatArray  # (outcomes, features)
    expected: float


def _tables(tree: _Tree, n_features: int) -> _TreeTables:
    splits = [node for node in range(len(tree.left)) if not tree.is_leaf(node)]
    if len(splits) > _MAX_SPLITS:
        raise TreeModelError(f"a tree has {len(splits)} splits; at most {_MAX_SPLITS} (depth 3)")
    outcomes = 1 << len(splits)
    # goes_left[k] is, for every outcome, whether the patient goes left at split k.
    goes_left = [((np.arange(outcomes) >> k) & 1).astype(bool) for k in range(len(splits))]
    bit = {node: k for k, node in enumerate(splits)}

    def value(node: int, coalition: frozenset[int]) -> FloatArray:
        if tree.is_leaf(node):
            return np.full(outcomes, float(tree.threshold[node]))
        left, right = value(tree.left[node], coalition), value(tree.right[node], coalition)
        if tree.feature[node] in coalition:
            return np.where(goes_left[bit[node]], left, right)
        cover = tree.cover[node]
        return (tree.cover[tree.left[node]] * left + tree.cover[tree.right[node]] * right) / cover

    used = sorted({tree.feature[node] for node in splits})
    m = len(used)
    values = {
        frozenset(subset): value(0, frozenset(subset))
        for size in range(m + 1)
        for subset in combinations(used, size)
    }
    shapley = np.zeros((outcomes, n_features))
    for feature in used:
        others = [f for f in used if f != feature]
        for size in range(m):
            weight = factorial(size) * factorial(m - size - 1) / factorial(m)
            for subset in combinations(others, size):
                coalition = frozenset(subset)
                shapley[:, feature] += weight * (values[coalition | {feature}] - values[coalition])
    full = values[frozenset(used)]
    return _TreeTables(splits, full, shapley, float(values[frozenset()][0]))


class TreeEnsembleExplainer:
    """Margin and exact float64 Shapley values of an XGBoost binary:logistic ensemble."""

    def __init__(self, model: dict[str, Any], n_features: int) -> None:
        """Build the tables from XGBoost's JSON model (`json.loads(booster.save_raw("json"))`)."""
        base_margin, trees = _parse_trees(model)
        tables = [_tables(tree, n_features) for tree in trees]
        n_trees = len(tables)
        self.n_features = n_features
        self.expected_margin = base_margin + sum(table.expected for table in tables)
        # Padded splits compare against -inf, and so always give direction 0, as in the tables.
        self._feature = np.zeros((n_trees, _MAX_SPLITS), dtype=np.int64)
        self._threshold = np.full((n_trees, _MAX_SPLITS), -np.inf, dtype=np.float32)
        self._default_left = np.zeros((n_trees, _MAX_SPLITS), dtype=bool)
        self._leaf = np.zeros((n_trees, 1 << _MAX_SPLITS))
        self._shapley = np.zeros((n_trees, 1 << _MAX_SPLITS, n_features))
        self._base_margin = base_margin
        for t, (tree, table) in enumerate(zip(trees, tables, strict=True)):
            for k, node in enumerate(table.split_nodes):
                self._feature[t, k] = tree.feature[node]
                self._threshold[t, k] = tree.threshold[node]
                self._default_left[t, k] = tree.default_left[node]
            used = len(table.leaf_values)
            self._leaf[t, :used] = table.leaf_values
            self._shapley[t, :used] = table.shapley
        self._weights = 1 << np.arange(_MAX_SPLITS)
        self._tree_index = np.arange(n_trees)

    def _outcomes(self, rows: FloatArray) -> npt.NDArray[np.int64]:
        values = rows.astype(np.float32)[:, self._feature]  # (rows, trees, splits)
        goes_left = np.where(np.isnan(values), self._default_left, values < self._threshold)
        outcome: npt.NDArray[np.int64] = goes_left.astype(np.int64) @ self._weights
        return outcome

    def margin(self, rows: FloatArray) -> FloatArray:
        """The ensemble's log-odds for each row, summed in float64."""
        outcome = self._outcomes(rows)
        result: FloatArray = self._base_margin + self._leaf[self._tree_index, outcome].sum(axis=1)
        return result

    def contributions(self, rows: FloatArray) -> FloatArray:
        """Each feature's Shapley value on the log-odds scale, per row (rows x features)."""
        result = np.empty((len(rows), self.n_features))
        for start in range(0, len(rows), _BLOCK_ROWS):
            outcome = self._outcomes(rows[start : start + _BLOCK_ROWS])
            result[start : start + _BLOCK_ROWS] = self._shapley[self._tree_index, outcome].sum(
                axis=1
            )
        return result
