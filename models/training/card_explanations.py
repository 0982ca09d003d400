"""The model cards' global explanations: mean |SHAP| and beeswarm plots, and by subgroup.

Computed with the shap library (`explanations`) over the held-out rows, on the calibrated
log-odds scale the cards' per-patient contributions use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd

from models.model_card_files import PLOTS
from models.risk_models import LearnedModelSpec
from models.scoring import CalibratedScorer
from models.training.explanations import import_shap, shap_explanation
from models.training.subgroups import SUBGROUP_COLUMNS

FloatArray = npt.NDArray[np.float64]
SHAP_PLOTS = PLOTS[2:]  # ("shap-bar", "shap-beeswarm")
_PNG_METADATA = {"Software": None}  # keep the files the same from run to run
_BEESWARM_SEED = 2017  # the beeswarm jitters points with numpy's global generator


def _save(directory: Path, filename: str) -> None:
    figure = plt.gcf()
    figure.tight_layout()
    figure.savefig(directory / filename, dpi=100, metadata=_PNG_METADATA)
    plt.close(figure)


def global_explanation(
    directory: Path,
    spec: LearnedModelSpec,
    model: CalibratedScorer,
    rows: FloatArray,
    frame: pd.DataFrame,
) -> tuple[tuple[str, str], list[str]]:
    """Write the two plots; return their file names and the card's mean |SHAP| table."""
    shap = import_shap()
    labels = [feature.label for feature in spec.features]
    explanation = shap_explanation(model, rows, labels)
    bar_png, beeswarm_png = (f"{spec.name}-{plot}.png" for plot in SHAP_PLOTS)
    plt.figure(figsize=(7.5, 4.5))
    shap.plots.bar(explanation, max_display=len(labels), show=False)
    plt.title(f"{spec.name}: mean |SHAP| (log-odds), held-out rows", fontsize=10)
    _save(directory, bar_png)
    state = np.random.get_state()
    np.random.seed(_BEESWARM_SEED)
    try:
        plt.figure(figsize=(7, 4.5))
        shap.plots.beeswarm(explanation, max_display=len(labels), show=False)
        plt.title(f"{spec.name}: SHAP values (log-odds), held-out rows", fontsize=10)
        _save(directory, beeswarm_png)
    finally:
        np.random.set_state(state)
    return (bar_png, beeswarm_png), _by_subgroup(np.abs(explanation.values), labels, frame)


def _by_subgroup(magnitude: FloatArray, labels: list[str], frame: pd.DataFrame) -> list[str]:
    """Mean |SHAP| per input, overall and in each subgroup (largest overall first)."""
    order = np.argsort(-magnitude.mean(axis=0), kind="stable")
    groups: list[tuple[str, Any]] = [("all held-out rows", np.ones(len(frame), dtype=bool))]
    for title, column in SUBGROUP_COLUMNS.items():
        for value in sorted(frame[column].unique()):
            groups.append((f"{title}: {value}", (frame[column] == value).to_numpy()))
    lines = [
        "| subgroup | n | " + " | ".join(labels[i] for i in order) + " |",
        "|---|---|" + "---|" * len(order),
    ]
    for name, mask in groups:
        means = magnitude[mask].mean(axis=0)
        cells = " | ".join(f"{means[i]:.3f}" for i in order)
        lines.append(f"| {name} | {int(mask.sum())} | {cells} |")
    return lines
