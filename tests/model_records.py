"""Patient records written out by hand for the model tests: each value visible in the test."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from fhir_adapters.codes import ConditionKind, DrugClass, Kinship, Measure, SmokingStatus
from fhir_adapters.patient_record import (
    AdministrativeSex,
    BloodPressureReading,
    ClinicalStatus,
    ConditionFact,
    Demographics,
    FamilyHistoryFact,
    Measurement,
    MeasurementSetting,
    MedicationFact,
    PatientRecord,
    SmokingObservation,
)

AS_OF = date(2026, 11, 23)
UNITS = {
    Measure.BMI: "kg/m2",
    Measure.WAIST_CIRCUMFERENCE: "cm",
    Measure.HDL_CHOLESTEROL: "mg/dL",
    Measure.TOTAL_CHOLESTEROL: "mg/dL",
    Measure.HBA1C: "%",
    Measure.GLUCOSE_FASTING: "mg/dL",
}


def days_ago(days: int) -> datetime:
    """A timestamp `days` before the records' date."""
    return datetime.combine(AS_OF - timedelta(days=days), datetime.min.time())


def measurement(measure: Measure, value: float, days: int = 30) -> Measurement:
    """One recorded value, `days` old, with a source named after the measure."""
    return Measurement(measure, value, UNITS[measure], days_ago(days), f"Observation/{measure}")


def reading(systolic: float, diastolic: float, days: int) -> BloodPressureReading:
    """One office blood pressure reading, `days` old."""
    return BloodPressureReading(
        systolic,
        diastolic,
        days_ago(days),
        MeasurementSetting.NOT_STATED,
        (f"Observation/bp-{days}",),
    )


def condition(kind: ConditionKind, status: ClinicalStatus = ClinicalStatus.ACTIVE) -> ConditionFact:
    """A confirmed diagnosis of this kind."""
    return ConditionFact(kind, status, "confirmed", "x", str(kind), None, None, f"Condition/{kind}")


def record(
    *,
    age: int | None = 52,
    sex: AdministrativeSex = AdministrativeSex.FEMALE,
    measurements: tuple[Measurement, ...] = (
        measurement(Measure.BMI, 31.0),
        measurement(Measure.WAIST_CIRCUMFERENCE, 98.0),
        measurement(Measure.HDL_CHOLESTEROL, 44.0, days=200),
        measurement(Measure.TOTAL_CHOLESTEROL, 205.0, days=200),
    ),
    blood_pressure: tuple[BloodPressureReading, ...] = (
        reading(124, 78, days=20),
        reading(128, 76, days=90),
    ),
    smoking: SmokingStatus | None = SmokingStatus.NEVER,
    conditions: tuple[ConditionFact, ...] = (),
    medications: tuple[DrugClass, ...] = (),
    parents_with_hypertension: int = 0,
) -> PatientRecord:
    """A middle-aged woman with a typical chart, changed by the keyword arguments."""
    birth = None if age is None else date(AS_OF.year - age, 1, 1)
    relationships = ("mother", "father")[:parents_with_hypertension]
    return PatientRecord(
        patient_id="p1",
        as_of=AS_OF,
        demographics=Demographics(birth, age, sex),
        measurements=measurements,
        blood_pressure=blood_pressure,
        smoking=()
        if smoking is None
        else (SmokingObservation(smoking, days_ago(100), "Observation/smoking"),),
        conditions=conditions,
        medications=tuple(
            MedicationFact(drug, "metformin", "metformin 500 mg", None, f"MedicationRequest/{drug}")
            for drug in medications
        ),
        family_history=tuple(
            FamilyHistoryFact(ConditionKind.HYPERTENSION, Kinship.PARENT, who, f"FMH/{who}")
            for who in relationships
        ),
        notes=(),
        data_issues=(),
    )


def with_bmi(base: PatientRecord, bmi: float) -> PatientRecord:
    """The same record with its BMI replaced."""
    others = tuple(item for item in base.measurements if item.measure is not Measure.BMI)
    return replace(base, measurements=(measurement(Measure.BMI, bmi), *others))
