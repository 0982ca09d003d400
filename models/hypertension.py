"""Hypertension: three honest answers, each for the patients it fits, and who gets none of them.

1. Recorded pressure already in the hypertensive range and no diagnosis: a detection (ACC/AHA
   2017: the mean of readings on two or more occasions), not a prediction.
2. No pressure recorded in the last year: the probability that it would be 130/80 or higher if
   measured (`UNMEASURED_BLOOD_PRESSURE`, learned from NHANES).
3. Recent pressure below 130/80: the 1-, 2- and 4-year risk of hypertension from the Parikh
   equation, within its validity range.

A patient on an antihypertensive, or with hypertension on the problem list, is known to have
it: no detection and no estimate (the NHANES model and Parikh's equation are not about them),
only whether the mean is at the goal (ACC/AHA 2017: below 130/80). On treatment only readings
taken after it began count (`TreatmentWindow`).

In pregnancy no model applies: the latest pressure of the pregnancy is read against ACOG's
thresholds (`models.pregnancy`), whatever else the chart holds; so is a reading in the 6 weeks
after a delivery (postpartum preeclampsia, ACOG).

Under 18 the adult categories do not apply (AAP 2017): ages 13-17 are read with that
guideline's adolescent cut-offs, which are the adult numbers, on 3 visits rather than 2, and
get no estimate (the models are for adults); under 13 AAP's categories are percentiles for
age, sex and height, which the service does not have: only its screening table is applied.

With no reading in the last year, the older readings (up to 10 years, in adulthood) are still
evidence (`earlier_readings`): the card shows them beside the estimate, which does not use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fhir_adapters.codes import ConditionKind, DrugClass, Kinship
from fhir_adapters.patient_record import AdministrativeSex, BloodPressureReading, PatientRecord
from models import parikh
from models.artifacts import Artifact, read_artifact
from models.criteria import (
    ADOLESCENT_AGE,
    ADULT_AGE,
)
from models.features import (
    AGE,
    BMI,
    CURRENT_SMOKER,
    DIASTOLIC,
    SYSTOLIC,
    FeatureValue,
)
from models.hypertension_readings import (
    PressureSummary,
    TreatmentWindow,
    earlier_readings,
    pressure_summary,
    treatment_window,
)
from models.prediction import (
    LOG_CUMULATIVE_HAZARD,
    Contribution,
    FilledIn,
    NoEstimate,
    RiskEstimate,
)
from models.pregnancy import (
    NOT_FOR_PREGNANCY,
    PregnancyPressure,
    current_pregnancy,
    pregnancy_pressure,
    recent_delivery,
)
from models.risk_models import LearnedRiskModel, has_diabetes

INCIDENCE_MODEL = "hypertension-incidence"

_PARENTS_INPUT = "parents_with_hypertension"
_LABELS = {
    "female": ("Female sex", ""),
    "age": (AGE.label, AGE.unit),
    "bmi": (BMI.label, BMI.unit),
    "systolic": (SYSTOLIC.label, SYSTOLIC.unit),
    "diastolic": (DIASTOLIC.label, DIASTOLIC.unit),
    "current_smoker": (CURRENT_SMOKER.label, ""),
    _PARENTS_INPUT: ("Parents with hypertension", "parents"),
}


class Finding(StrEnum):
    """Which of the three answers applies, or why none does."""

    DIAGNOSED = "diagnosed"  # on the problem list, no antihypertensive: the goal, no estimate
    TREATED = "treated"  # on an antihypertensive: the treatment goal, no estimate
    PREGNANT = "pregnant"  # ACOG's thresholds on the pregnancy's latest pressure, no estimate
    POSTPARTUM = "postpartum"  # within 6 weeks of a delivery: ACOG's thresholds, no estimate
    ADOLESCENT = "adolescent"  # 13-17: AAP 2017's adolescent categories, no estimate
    CHILD = "child"  # under 13: AAP's screening table only (its percentiles are not computed)
    DETECTED = "detected"
    UNMEASURED = "unmeasured"
    INCIDENCE = "incidence"


@dataclass(frozen=True)
class HypertensionAssessment:
    """The answer that applies, with what it rests on."""

    finding: Finding
    pressure: PressureSummary | None
    estimate: RiskEstimate | NoEstimate | None
    # For `Finding.PREGNANT` and `POSTPARTUM`: the latest pressure (None when unmeasured).
    in_pregnancy: PregnancyPressure | None = None
    # For `Finding.TREATED`: which readings the mean on treatment rests on.
    treatment: TreatmentWindow | None = None
    # Readings 1 to 10 years old, in adulthood, newest first (evidence when none is recent).
    earlier: tuple[BloodPressureReading, ...] = ()


class IncidenceModel:
    """The Parikh equation, explained against the reference patient in its artifact."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.reference = parikh.ParikhInputs(**artifact.payload["reference"])

    @classmethod
    def load(cls, directory: Path) -> IncidenceModel:
        """Load and verify the reference patient's artifact."""
        return cls(read_artifact(directory, INCIDENCE_MODEL, parikh.INPUTS))

    def predict(
        self, record: PatientRecord, pressure: PressureSummary
    ) -> RiskEstimate | NoEstimate:
        """The 1-, 2- and 4-year risk of hypertension, or why the equation does not apply."""
        age, bmi, smoker = AGE.extract(record), BMI.extract(record), CURRENT_SMOKER.extract(record)
        sex = record.demographics.sex
        absent = [
            label
            for label, missing in (
                (AGE.label, age.value is None),
                (BMI.label, bmi.value is None),
                ("sex", sex not in (AdministrativeSex.FEMALE, AdministrativeSex.MALE)),
            )
            if missing
        ]
        if absent:
            return NoEstimate(INCIDENCE_MODEL, ("needs " + ", ".join(absent),))
        if current_pregnancy(record) is not None:
            return NoEstimate(INCIDENCE_MODEL, (NOT_FOR_PREGNANCY,))
        if record.takes(DrugClass.ANTIHYPERTENSIVE):
            # Parikh counted treatment as hypertension: the treated are not in its population.
            return NoEstimate(INCIDENCE_MODEL, ("the equation is for people not on treatment",))
        parents = {
            item.relationship
            for item in record.family_history
            if item.kind is ConditionKind.HYPERTENSION and item.kinship is Kinship.PARENT
        }
        values = {
            "female": FeatureValue("female", 1.0 if sex is AdministrativeSex.FEMALE else 0.0),
            "age": age,
            "bmi": bmi,
            "systolic": pressure.systolic,
            "diastolic": pressure.diastolic,
            # Unrecorded smoking or parental history is read as none, and listed as missing.
            "current_smoker": smoker,
            _PARENTS_INPUT: FeatureValue(_PARENTS_INPUT, float(min(len(parents), 2))),
        }
        inputs = parikh.ParikhInputs(**{k: v.value or 0.0 for k, v in values.items()})
        try:
            parikh.check_validity(inputs, has_diabetes(record))
        except parikh.OutsideValidity as exc:
            return NoEstimate(INCIDENCE_MODEL, (str(exc),))
        result = parikh.explain(inputs, self.reference)
        missing = ["current_smoker"] if smoker.value is None else []
        if not record.family_history:
            missing.append(_PARENTS_INPUT)
        return RiskEstimate(
            model=INCIDENCE_MODEL,
            outcome="new hypertension within 4 years",
            probability=result.risks[-1][1],
            margin=result.margin,
            margin_scale=LOG_CUMULATIVE_HAZARD,
            expected_margin=result.expected_margin,
            contributions=tuple(
                Contribution(
                    feature=name,
                    label=_LABELS[name][0],
                    unit=_LABELS[name][1],
                    value=values[name].value,
                    sources=values[name].sources,
                    effective=values[name].effective,
                    note=values[name].note,
                    shapley=shapley,
                    # What the equation was given in place of an unrecorded input, and its push.
                    filled_in=FilledIn(inputs.value(name), "read as none")
                    if name in missing
                    else None,
                    missing_reason=values[name].missing_reason if name in missing else None,
                )
                for name, shapley in result.contributions.items()
            ),
            missing=tuple(missing),
            artifact_sha256=self.artifact.content_sha256,
            horizons=result.risks,
        )


def assess_hypertension(
    record: PatientRecord, unmeasured: LearnedRiskModel, incidence: IncidenceModel
) -> HypertensionAssessment:
    """Which of the three answers fits this patient, and that answer."""
    pregnancy = current_pregnancy(record)
    if pregnancy is not None:
        readings = pregnancy_pressure(record, pregnancy)
        return HypertensionAssessment(Finding.PREGNANT, None, None, readings)
    delivery = recent_delivery(record)
    if delivery is not None:
        # Within 6 weeks of a delivery ACOG's thresholds govern (CO 736). With no reading since,
        # there is nothing to read: the pregnancy's own readings are not held against the adult
        # categories (they would call gestational hypertension undiagnosed hypertension).
        after = pregnancy_pressure(record, delivery.pregnancy, delivery.readings_from)
        return HypertensionAssessment(Finding.POSTPARTUM, None, None, after)
    age = record.demographics.age_years
    if age is not None and age < ADOLESCENT_AGE:
        return HypertensionAssessment(Finding.CHILD, None, None)
    if record.takes(DrugClass.ANTIHYPERTENSIVE):
        treatment = treatment_window(record)
        pressure = pressure_summary(record, treatment)
        earlier = earlier_readings(record) if pressure is None else ()
        return HypertensionAssessment(
            Finding.TREATED, pressure, None, treatment=treatment, earlier=earlier
        )
    pressure = pressure_summary(record)
    if record.has_condition(ConditionKind.HYPERTENSION):
        earlier = earlier_readings(record) if pressure is None else ()
        return HypertensionAssessment(Finding.DIAGNOSED, pressure, None, earlier=earlier)
    if age is not None and age < ADULT_AGE:
        return HypertensionAssessment(Finding.ADOLESCENT, pressure, None)
    if pressure is None:
        return HypertensionAssessment(
            Finding.UNMEASURED, None, unmeasured.predict(record), earlier=earlier_readings(record)
        )
    if pressure.stage > 0:
        return HypertensionAssessment(Finding.DETECTED, pressure, None)
    return HypertensionAssessment(Finding.INCIDENCE, pressure, incidence.predict(record, pressure))
