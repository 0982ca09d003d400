"""The names of the files `cdss train` writes beside the artifacts (shared with the service)."""

from __future__ import annotations

CARDS_DIRECTORY = "model-cards"
# The held-out calibration and decision curves, and the global SHAP explanations (shap's mean
# |SHAP| bar and beeswarm over the held-out rows).
PLOTS = ("calibration", "decision-curve", "shap-bar", "shap-beeswarm")
