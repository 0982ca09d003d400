"""Held-out figures by sex, race/ethnicity and age band, and the subgroups poorly served.

The rule that calls a subgroup poorly served is the runtime's (`models.subgroups`), so what the
artifact seals and what a card says agree by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.subgroups import (
    AGE_BAND,
    AUROC_FLOOR,
    MIN_EACH_OUTCOME,
    MIN_ROWS,
    RACE_ETHNICITY,
    SEX,
    SLOPE_RANGE,
    judge,
)
from models.training.calibration import calibration_intercept, calibration_slope

FloatArray = npt.NDArray[np.float64]

# The metrics' subgroup titles and the population columns that hold them.
SUBGROUP_COLUMNS = {SEX: "sex", AGE_BAND: "age_band", RACE_ETHNICITY: "race_ethnicity"}
RULE = {
    "slope_range": list(SLOPE_RANGE),
    "auroc_floor": AUROC_FLOOR,
    "min_rows": MIN_ROWS,
    "min_each_outcome": MIN_EACH_OUTCOME,
    "rows": "held-out test rows",
}


def subgroup_figures(
    frame: pd.DataFrame, outcome: npt.NDArray[np.int64], probability: FloatArray
) -> dict[str, Any]:
    """n, events, AUROC, calibration slope and intercept, and the verdict, per subgroup."""
    groups: dict[str, Any] = {}
    for title, column in SUBGROUP_COLUMNS.items():
        for value in sorted(frame[column].unique()):
            mask = (frame[column] == value).to_numpy()
            y, predicted = outcome[mask], probability[mask]
            both = y.min() != y.max()
            auroc = float(roc_auc_score(y, predicted)) if both else None
            slope = calibration_slope(predicted, y) if both else None
            groups[f"{title}: {value}"] = {
                "n": int(mask.sum()),
                "events": int(y.sum()),
                "auroc": auroc,
                "calibration_slope": slope,
                "calibration_intercept": calibration_intercept(predicted, y) if both else None,
                "poorly_served": list(judge(int(mask.sum()), int(y.sum()), auroc, slope)),
            }
    return groups


def poorly_served_metadata(figures: dict[str, Any]) -> dict[str, Any]:
    """What the artifact seals: the rule and each poorly served subgroup with its figures."""
    flagged = []
    for name, item in figures.items():
        if item["poorly_served"]:
            subgroup, value = name.split(": ", 1)
            flagged.append(
                {
                    "subgroup": subgroup,
                    "value": value,
                    "n": item["n"],
                    "events": item["events"],
                    "auroc": item["auroc"],
                    "calibration_slope": item["calibration_slope"],
                    "calibration_intercept": item["calibration_intercept"],
                    "reasons": item["poorly_served"],
                }
            )
    return {"rule": RULE, "poorly_served": flagged}
