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

With no reading in the last year, the older readings are still evidence (`earlier_readings`):
the card shows them beside the estimate, which does not use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from statistics import fmean

from fhir_adapters.codes import ConditionKind, DrugClass, Kinship
from fhir_adapters.patient_record import AdministrativeSex, BloodPressureReading, PatientRecord
from models import parikh
from models.artifacts import Artifact, read_artifact
from models.criteria import (
    ADOLESCENT_AGE,
    ADOLESCENT_HYPERTENSION_VISITS,
    ADULT_AGE,
    BLOOD_PRESSURE_OCCASIONS,
    TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN,
    above_treated_goal,
    blood_pressure_category,
)
from models.features import (
    AGE,
    BLOOD_PRESSURE_WINDOW,
    BMI,
    CURRENT_SMOKER,
    DIASTOLIC,
    MIN_PLAUSIBLE_DIASTOLIC,
    SYSTOLIC,
    FeatureValue,
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
class PressureSummary:
    """The mean of the last year's readings, as ACC/AHA reads them."""

    systolic: FeatureValue
    diastolic: FeatureValue
    occasions: int
    # The days whose own mean was 130/80 or more (AAP 2017 counts visits in that range).
    raised_occasions: int = 0

    @property
    def stage(self) -> int:
        """0 below 130/80, 1 for 130-139 or 80-89, 2 from 140 or 90 (ACC/AHA 2017)."""
        sbp, dbp = self.systolic.value or 0.0, self.diastolic.value or 0.0
        return blood_pressure_category(sbp, dbp).hypertension_stage

    @property
    def above_treated_goal(self) -> bool:
        """Whether the mean is at or above the treatment goal of 130/80 (ACC/AHA 2017)."""
        return above_treated_goal(self.systolic.value or 0.0, self.diastolic.value or 0.0)

    @property
    def confirmed(self) -> bool:
        """Whether the readings span the two occasions a diagnosis rests on."""
        return self.occasions >= BLOOD_PRESSURE_OCCASIONS

    @property
    def adolescent_confirmed(self) -> bool:
        """Whether 3 visits were in the hypertensive range, as AAP 2017 diagnoses (13-17)."""
        return self.raised_occasions >= ADOLESCENT_HYPERTENSION_VISITS


@dataclass(frozen=True)
class TreatmentWindow:
    """Which readings speak of the current treatment: those after it began."""

    # Readings after this day count (the day itself is taken as before treatment).
    since: date
    # The earliest recorded start (order date) of the current antihypertensives; None when none
    # is recorded, and `since` is then the last 3 months.
    started: date | None
    # Readings of the last year taken on or before `since`: not counted in the mean.
    before: tuple[BloodPressureReading, ...]


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
    # Readings older than the 12-month window, newest first (evidence when none is recent).
    earlier: tuple[BloodPressureReading, ...] = ()


def _complete(reading: BloodPressureReading) -> bool:
    return (
        reading.systolic is not None
        and reading.diastolic is not None
        and reading.diastolic >= MIN_PLAUSIBLE_DIASTOLIC
    )


def _raised_days(readings: list[BloodPressureReading]) -> int:
    by_day: dict[date, list[BloodPressureReading]] = {}
    for reading in readings:
        if _complete(reading):
            by_day.setdefault(reading.effective.date(), []).append(reading)
    return sum(
        blood_pressure_category(
            fmean(r.systolic or 0.0 for r in day), fmean(r.diastolic or 0.0 for r in day)
        ).hypertension_stage
        > 0
        for day in by_day.values()
    )


def _mean(record: PatientRecord, part: str, after: date) -> FeatureValue:
    values = [
        (reading, value)
        for reading in record.blood_pressure
        if reading.effective.date() > after
        and (value := getattr(reading, part)) is not None
        and (part != "diastolic" or value >= MIN_PLAUSIBLE_DIASTOLIC)
    ]
    if not values:
        return FeatureValue(part, None)
    sources = tuple(source for reading, _ in values for source in reading.sources)
    count = f"{len(values)} reading{'s' if len(values) > 1 else ''}"
    return FeatureValue(
        part,
        fmean(value for _, value in values),
        tuple(dict.fromkeys(sources)),
        values[0][0].effective.date(),
        f"mean of {count} since {after.isoformat()}",
    )


def pressure_summary(
    record: PatientRecord, treatment: TreatmentWindow | None = None
) -> PressureSummary | None:
    """The mean pressure of the last year (or since treatment began) and on how many days it
    was taken; None if unmeasured."""
    since = record.as_of - BLOOD_PRESSURE_WINDOW
    if treatment is None:
        systolic, diastolic = SYSTOLIC.extract(record), DIASTOLIC.extract(record)
        readings = [r for r in record.blood_pressure if r.effective.date() >= since]
    else:
        systolic = _mean(record, "systolic", treatment.since)
        diastolic = _mean(record, "diastolic", treatment.since)
        readings = [r for r in record.blood_pressure if r.effective.date() > treatment.since]
    if systolic.value is None or diastolic.value is None:
        return None
    days = {reading.effective.date() for reading in readings}
    return PressureSummary(systolic, diastolic, len(days), _raised_days(readings))


def treatment_window(record: PatientRecord) -> TreatmentWindow:
    """The readings that speak of the current antihypertensive treatment (ACC/AHA 2017)."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    starts = [
        item.authored
        for item in record.medications
        if item.drug_class is DrugClass.ANTIHYPERTENSIVE and item.authored is not None
    ]
    started = min(starts) if starts else None
    fallback = record.as_of - timedelta(days=30 * TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN)
    # `since` is exclusive: the day before the window so its first day still counts.
    since = max(started or fallback, year_ago - timedelta(days=1))
    before = tuple(
        reading
        for reading in record.blood_pressure
        if year_ago <= reading.effective.date() <= since and _complete(reading)
    )
    return TreatmentWindow(since, started, before)


@dataclass(frozen=True)
class VisitPressure:
    """The latest day's mean pressure in the last year: how a screening reads a visit."""

    day: date
    systolic: float
    diastolic: float
    readings: int
    sources: tuple[str, ...]


def latest_visit(record: PatientRecord) -> VisitPressure | None:
    """The mean of the latest day's complete readings in the last year; None if unmeasured."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    recent = [r for r in record.blood_pressure if r.effective.date() >= year_ago and _complete(r)]
    if not recent:
        return None
    day = recent[0].effective.date()
    that_day = [r for r in recent if r.effective.date() == day]
    return VisitPressure(
        day,
        fmean(r.systolic or 0.0 for r in that_day),
        fmean(r.diastolic or 0.0 for r in that_day),
        len(that_day),
        tuple(dict.fromkeys(source for r in that_day for source in r.sources)),
    )


def earlier_readings(record: PatientRecord) -> tuple[BloodPressureReading, ...]:
    """The complete readings older than the 12-month window, newest first."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    return tuple(
        reading
        for reading in record.blood_pressure
        if reading.effective.date() < year_ago and _complete(reading)
    )


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
        after = pregnancy_pressure(record, delivery.pregnancy, delivery.readings_from)
        if after is not None:
            return HypertensionAssessment(Finding.POSTPARTUM, None, None, after)
    age = record.demographics.age_years
    if age is not None and age < ADOLESCENT_AGE:
        return HypertensionAssessment(Finding.CHILD, None, None)
    if record.takes(DrugClass.ANTIHYPERTENSIVE):
        treatment = treatment_window(record)
        pressure = pressure_summary(record, treatment)
        return HypertensionAssessment(Finding.TREATED, pressure, None, treatment=treatment)
    pressure = pressure_summary(record)
    if record.has_condition(ConditionKind.HYPERTENSION):
        return HypertensionAssessment(Finding.DIAGNOSED, pressure, None)
    if age is not None and age < ADULT_AGE:
        return HypertensionAssessment(Finding.ADOLESCENT, pressure, None)
    if pressure is None:
        return HypertensionAssessment(
            Finding.UNMEASURED, None, unmeasured.predict(record), earlier=earlier_readings(record)
        )
    if pressure.stage > 0:
        return HypertensionAssessment(Finding.DETECTED, pressure, None)
    return HypertensionAssessment(Finding.INCIDENCE, pressure, incidence.predict(record, pressure))
