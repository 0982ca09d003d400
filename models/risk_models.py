"""The shipped risk models: what each predicts, from which inputs, and how it is loaded and run.

`load(directory)` is the only I/O; `predict(record)` is pure and deterministic, and returns
the estimate and its exact explanation from one pass (house style rule 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import PatientRecord
from models import features as f
from models.artifacts import Artifact, read_artifact
from models.criteria import ADULT_AGE, HBA1C_DIABETES, HBA1C_DYSGLYCEMIA, STAGE1_PRESSURE_TEXT
from models.features import Feature, FeatureVector, feature_vector
from models.prediction import LOG_ODDS, Contribution, NoEstimate, RiskEstimate
from models.pregnancy import (
    NOT_FOR_POSTPARTUM,
    NOT_FOR_PREGNANCY,
    current_pregnancy,
    recent_delivery,
)
from models.scoring import CalibratedScorer, Calibration, Explanation, scorer_from_payload
from models.subgroups import caveats, population_caveats

DIABETES_FEATURES = (
    f.AGE,
    f.MALE_SEX,
    f.BMI,
    f.WAIST,
    f.SYSTOLIC,
    f.DIASTOLIC,
    f.HDL,
    f.TOTAL_CHOLESTEROL,
    f.CURRENT_SMOKER,
    f.PREDIABETES,
)
# No blood pressure among the inputs: this model is for patients whose pressure is unmeasured.
BLOOD_PRESSURE_FEATURES = (
    f.AGE,
    f.MALE_SEX,
    f.BMI,
    f.WAIST,
    f.HDL,
    f.TOTAL_CHOLESTEROL,
    f.HBA1C,
    f.CURRENT_SMOKER,
    f.DIABETES,
)


@dataclass(frozen=True)
class LearnedModelSpec:
    """A model learned from NHANES: its outcome, inputs and the constraints it is fitted under."""

    name: str
    outcome: str
    features: tuple[Feature, ...]
    # The survey column that is the label, and which population (see `nhanes`) it is drawn from.
    label: str
    population: str
    # +1: a higher value never lowers the risk (other inputs equal); -1: never raises it.
    monotone: dict[str, int] = field(default_factory=dict)
    # Without these, no number is given: the estimate would rest on too little.
    required: tuple[str, ...] = ("age", "male_sex", "bmi")
    # A model for people without diabetes gives no number to those who have it.
    excludes_diabetes: bool = False

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The inputs' names, in the model's order."""
        return tuple(feature.name for feature in self.features)


DYSGLYCEMIA = LearnedModelSpec(
    name="diabetes-dysglycemia",
    outcome=f"undiagnosed dysglycemia (HbA1c {HBA1C_DYSGLYCEMIA:g}% or higher)",
    features=DIABETES_FEATURES,
    label="dysglycemia",
    population="glycemia",
    monotone={"age": 1, "bmi": 1, "waist": 1, "hdl": -1, "prediabetes": 1},
    excludes_diabetes=True,
)
# The same inputs, population and constraints; a higher HbA1c threshold.
UNDIAGNOSED_DIABETES = replace(
    DYSGLYCEMIA,
    name="diabetes-undiagnosed",
    outcome=f"undiagnosed diabetes (HbA1c {HBA1C_DIABETES:g}% or higher)",
    label="undiagnosed_diabetes",
)
UNMEASURED_BLOOD_PRESSURE = LearnedModelSpec(
    name="hypertension-unmeasured",
    outcome=f"blood pressure {STAGE1_PRESSURE_TEXT} mmHg or higher if measured",
    features=BLOOD_PRESSURE_FEATURES,
    label="stage1_or_higher",
    population="blood-pressure",
    monotone={"age": 1, "bmi": 1, "waist": 1},
)
LEARNED_MODELS = (DYSGLYCEMIA, UNDIAGNOSED_DIABETES, UNMEASURED_BLOOD_PRESSURE)


def has_diabetes(record: PatientRecord) -> bool:
    """Diagnosed (active or not stated) or treated diabetes."""
    return record.has_condition(ConditionKind.DIABETES) or record.takes(DrugClass.ANTIDIABETIC)


class LearnedRiskModel:
    """A calibrated, explained model loaded from its verified artifact."""

    def __init__(self, spec: LearnedModelSpec, artifact: Artifact) -> None:
        self.spec = spec
        self.artifact = artifact
        scorer = scorer_from_payload(artifact.kind, artifact.payload, len(spec.features))
        calibration = artifact.training["calibration"]
        self.scorer = CalibratedScorer(
            scorer, Calibration(float(calibration["slope"]), float(calibration["intercept"]))
        )
        # The subgroups its validation found poorly served, read once rather than per call.
        self.subgroup_caveats = caveats(self)

    @classmethod
    def load(cls, spec: LearnedModelSpec, directory: Path) -> LearnedRiskModel:
        """Load and verify the artifact (`ArtifactError` when missing or altered)."""
        return cls(spec, read_artifact(directory, spec.name, spec.feature_names))

    def predict(self, record: PatientRecord) -> RiskEstimate | NoEstimate:
        """The probability of the outcome for this patient, explained, or why there is none."""
        inputs = feature_vector(record, self.spec.features)
        reasons = self._refusals(record, inputs)
        if reasons:
            return NoEstimate(self.spec.name, reasons, inputs.missing, inputs.missing_reasons)
        explanation = self.scorer.explain(inputs.as_array()[np.newaxis, :])
        estimate = self.estimate(inputs, explanation, 0)
        return replace(estimate, caveats=population_caveats(self.subgroup_caveats, record))

    def _refusals(self, record: PatientRecord, inputs: FeatureVector) -> tuple[str, ...]:
        reasons = []
        age = record.demographics.age_years
        if age is not None and age < ADULT_AGE:
            reasons.append(f"the model was built on adults ({ADULT_AGE} and over)")
        if current_pregnancy(record) is not None:
            reasons.append(NOT_FOR_PREGNANCY)
        elif recent_delivery(record) is not None:
            reasons.append(NOT_FOR_POSTPARTUM)
        if self.spec.excludes_diabetes and has_diabetes(record):
            reasons.append("diabetes is already diagnosed or treated")
        absent = [name for name in self.spec.required if name in inputs.missing]
        if absent:
            labels = [feature.label for feature in self.spec.features if feature.name in absent]
            reasons.append("needs " + ", ".join(labels))
        return tuple(reasons)

    def estimate(self, inputs: FeatureVector, explanation: Explanation, row: int) -> RiskEstimate:
        """One row of an explanation as a `RiskEstimate`."""
        contributions = tuple(
            Contribution(
                feature=feature.name,
                label=feature.label,
                unit=feature.unit,
                value=value.value,
                sources=value.sources,
                effective=value.effective,
                note=value.note,
                shapley=float(explanation.contributions[row, index]),
                # A missing input is filled in by the model and moves the estimate: say how.
                filled_in=filled if value.value is None else None,
                missing_reason=value.missing_reason if value.value is None else None,
            )
            for index, (feature, value, filled) in enumerate(
                zip(self.spec.features, inputs.values, self.scorer.filled_in(), strict=True)
            )
        )
        return RiskEstimate(
            model=self.spec.name,
            outcome=self.spec.outcome,
            probability=float(explanation.probability[row]),
            margin=float(explanation.log_odds[row]),
            margin_scale=LOG_ODDS,
            expected_margin=explanation.expected_log_odds,
            contributions=contributions,
            missing=inputs.missing,
            artifact_sha256=self.artifact.content_sha256,
        )
