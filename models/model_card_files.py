"""The names of the files `cdss train` writes beside the artifacts (shared with the service)."""

from __future__ import annotations

CARDS_DIRECTORY = "model-cards"
PLOTS = ("calibration", "decision-curve")
