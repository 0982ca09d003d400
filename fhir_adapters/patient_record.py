"""`PatientRecord`: everything the models and cards may use about one patient, in plain types.

Values are in canonical units (see `units`), dated, and carry the FHIR reference they came from
("Observation/123"), so a card can cite its evidence. What was present but could not be used is
in `data_issues`, each with the FHIR path and the reason; it may hold patient values, so it goes
to cards, never to logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from fhir_adapters.codes import ConditionKind, DrugClass, Kinship, Measure, SmokingStatus


class AdministrativeSex(StrEnum):
    """FHIR `Patient.gender`."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DataIssue:
    """Something present in the data that was not used, where it was, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Demographics:
    """Age at the record's date, and administrative sex."""

    birth_date: date | None
    age_years: int | None
    sex: AdministrativeSex


@dataclass(frozen=True)
class Measurement:
    """One dated value of a measure, in the measure's canonical unit."""

    measure: Measure
    value: float
    unit: str
    effective: datetime
    source: str
    # For values computed rather than recorded (BMI from weight and height), what they came from.
    derived_from: tuple[str, ...] = ()


class MeasurementSetting(StrEnum):
    """Where a blood pressure was taken, when the EHR says."""

    HOME = "home"
    AMBULATORY = "ambulatory"
    NOT_STATED = "not-stated"


@dataclass(frozen=True)
class BloodPressureReading:
    """One blood pressure reading in mm[Hg]; either part may be missing from loose readings."""

    systolic: float | None
    diastolic: float | None
    effective: datetime
    setting: MeasurementSetting
    sources: tuple[str, ...]


@dataclass(frozen=True)
class SmokingObservation:
    """A recorded tobacco smoking status."""

    status: SmokingStatus
    effective: datetime
    source: str


class ClinicalStatus(StrEnum):
    """Whether a condition is current, collapsed from FHIR's clinical status."""

    ACTIVE = "active"  # active, recurrence, relapse
    RESOLVED = "resolved"  # inactive, remission, resolved
    NOT_STATED = "not-stated"


@dataclass(frozen=True)
class ConditionFact:
    """A diagnosis of interest on the patient's record (refuted and entered-in-error excluded)."""

    kind: ConditionKind
    clinical_status: ClinicalStatus
    verification: str
    code: str
    display: str
    onset: date | None
    recorded: date | None
    source: str


@dataclass(frozen=True)
class MedicationFact:
    """An active medication of a class of interest."""

    drug_class: DrugClass
    ingredient: str
    display: str
    authored: date | None
    source: str


@dataclass(frozen=True)
class FamilyHistoryFact:
    """A relative with a condition of interest."""

    kind: ConditionKind
    kinship: Kinship
    relationship: str
    source: str


@dataclass(frozen=True)
class ClinicalNote:
    """The text of one note or report attachment, with what it needs for provenance."""

    source: str
    # Where in the resource the text was, e.g. "content[0].attachment" or "conclusion".
    element: str
    date: datetime | None
    title: str
    content_type: str
    text: str


@dataclass(frozen=True)
class PatientRecord:
    """One patient's data as of a date; every tuple is newest first."""

    patient_id: str
    as_of: date
    demographics: Demographics
    measurements: tuple[Measurement, ...]
    blood_pressure: tuple[BloodPressureReading, ...]
    smoking: tuple[SmokingObservation, ...]
    conditions: tuple[ConditionFact, ...]
    medications: tuple[MedicationFact, ...]
    family_history: tuple[FamilyHistoryFact, ...]
    notes: tuple[ClinicalNote, ...]
    data_issues: tuple[DataIssue, ...]

    def history(self, measure: Measure) -> Iterator[Measurement]:
        """Every value of the measure, newest first."""
        return (item for item in self.measurements if item.measure is measure)

    def latest(self, measure: Measure) -> Measurement | None:
        """The newest value of the measure, or None."""
        return next(self.history(measure), None)

    def has_condition(self, kind: ConditionKind) -> bool:
        """Whether an active (or undated-status) diagnosis of this kind is recorded."""
        return any(
            item.kind is kind and item.clinical_status is not ClinicalStatus.RESOLVED
            for item in self.conditions
        )

    @property
    def pregnancy(self) -> ConditionFact | None:
        """The newest pregnancy recorded as active (not resolved, not ended), or None."""
        return next(
            (
                item
                for item in self.conditions
                if item.kind is ConditionKind.PREGNANCY
                and item.clinical_status is ClinicalStatus.ACTIVE
            ),
            None,
        )

    def takes(self, drug_class: DrugClass) -> bool:
        """Whether an active medication of this class is recorded."""
        return any(item.drug_class is drug_class for item in self.medications)

    @property
    def smoking_status(self) -> SmokingStatus | None:
        """The newest recorded smoking status, or None."""
        return self.smoking[0].status if self.smoking else None
