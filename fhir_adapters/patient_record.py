"""`PatientRecord`: everything the models and cards may use about one patient, in plain types.

Values are in canonical units (see `units`), dated, and carry the FHIR reference they came from
("Observation/123"), so a card can cite its evidence. What was present but could not be used is
in `data_issues`: each has a note for the integrator (the FHIR path and the technical reason,
which may hold patient values, so it never reaches a log as such; `log_text` is its loggable
part) and plain words for the clinician, which is all a card shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from fhir_adapters.codes import ConditionKind, DrugClass, Kinship, Measure, SmokingStatus

# A data issue's kind as a metric may carry it: a FHIR resource type or a prefetch key.
_DATA_KIND = re.compile(r"prefetch\.[A-Za-z]{1,40}|[A-Z][A-Za-z]{1,40}")


class AdministrativeSex(StrEnum):
    """FHIR `Patient.gender`."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DataIssue:
    """Something present in the data that was not used: where and why for the integrator, and
    what it means for the clinician in plain words."""

    # The integrator's note: the FHIR path ("prefetch.familyHistory", "Observation/7.valueQuantity")
    # and the technical reason ("the FHIR server answered 400", "unknown unit 'st'").
    path: str
    reason: str
    # The clinician's words ("Family history could not be read"); empty: said from the path.
    clinician: str = ""
    # A note free of patient data, for the service log; empty: the path without ids or values.
    log_note: str = ""

    @property
    def for_clinician(self) -> str:
        """What a card says: plain words, no FHIR path, no server's answer."""
        return self.clinician or _plain_words(self.path)

    @property
    def for_integrator(self) -> str:
        """The technical note: path and reason (may hold patient values; not for logs)."""
        return f"{self.path}: {self.reason}"

    @property
    def kind(self) -> str:
        """What kind of data it was, with no id or value: the resource type ("Observation") or
        the prefetch key ("prefetch.familyHistory"); "other" for anything else, so a metric
        label can carry it."""
        first = self.path.split(" and ")[0]
        candidate = first if first.startswith("prefetch.") else first.split("/")[0].split(".")[0]
        return candidate if _DATA_KIND.fullmatch(candidate) else "other"

    @property
    def log_text(self) -> str:
        """What the service log may say: no resource ids, no values."""
        if self.log_note:
            return self.log_note
        kinds = dict.fromkeys(_without_id(part) for part in self.path.split(" and "))
        return "data not used: " + ", ".join(kinds)


# What a clinician calls the data at a FHIR path, by resource type (and element).
_PLAIN_WORDS = (
    ("Patient/", ".birthDate", "The date of birth could not be used"),
    ("Patient/", ".gender", "The recorded sex could not be used"),
    ("Patient/", "", "The patient's details could not be read"),
    ("Observation/", "", "A result or measurement could not be used"),
    ("MedicationRequest/", "", "A medication order could not be used"),
    ("MedicationStatement/", "", "A medication list entry could not be used"),
    ("Condition/", "", "A problem-list entry could not be used"),
    ("FamilyMemberHistory/", "", "A family history entry could not be used"),
    ("DocumentReference/", "", "A note could not be read"),
    ("DiagnosticReport/", "", "A report could not be read"),
)


def _plain_words(path: str) -> str:
    for resource, element, words in _PLAIN_WORDS:
        if path.startswith(resource) and element in path:
            return words
    return "An entry in the chart could not be used"


def _without_id(path: str) -> str:
    """ "Observation/7.valueQuantity" -> "Observation.valueQuantity"."""
    resource, _, rest = path.partition("/")
    if not rest:
        return resource
    _, dot, element = rest.partition(".")
    return f"{resource}{dot}{element}"


@dataclass(frozen=True)
class Demographics:
    """Age at the record's date, and administrative sex."""

    birth_date: date | None
    age_years: int | None
    sex: AdministrativeSex


@dataclass(frozen=True)
class Measurement:
    """One dated value of a measure, in the measure's canonical unit, and as it was reported."""

    measure: Measure
    value: float
    unit: str
    effective: datetime
    source: str
    # For values computed rather than recorded (BMI from weight and height), what they came from.
    derived_from: tuple[str, ...] = ()
    # The number and UCUM unit the laboratory reported (47 "mmol/mol" for an IFCC HbA1c), so a
    # card can show the result as reported beside the converted value; None when derived.
    reported_value: float | None = None
    reported_unit: str | None = None

    @property
    def converted(self) -> bool:
        """Whether the reported unit differs from the canonical one (the value was converted)."""
        return self.reported_unit is not None and self.reported_unit != self.unit


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
    # When it ended (abatementDateTime or abatementPeriod's end), if the EHR says: for a
    # pregnancy, the delivery or loss.
    abated: date | None = None


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


class Treatment(StrEnum):
    """What the record tells of treatment with a drug class."""

    # An active medication of the class was read (in any list that could be read).
    TAKEN = "taken"
    # Every medication list was read in full, and none of the class is in them.
    NOT_TAKEN = "not-taken"
    # None of the class in what was read, but a medication list could not be read in full: the
    # patient may take one, and no card may say that none is taken.
    UNKNOWN = "unknown"


# What a clinician calls each medication list, by the FHIR resource type that holds it.
MEDICATION_LISTS = {
    "MedicationRequest": "medication orders",
    "MedicationStatement": "the medication list",
}


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
    # The medication lists (`MEDICATION_LISTS` resource types) that could not be read in full:
    # with any, the absence of a drug from `medications` says nothing (`treatment`).
    unread_medication_lists: tuple[str, ...] = ()

    @property
    def office_blood_pressure(self) -> tuple[BloodPressureReading, ...]:
        """The readings taken in the office (neither home nor ambulatory), newest first: the
        ones ACC/AHA 2017's office categories, AAP 2017's and the models' inputs are read from.
        Home and ambulatory readings have their own thresholds (`models.home_blood_pressure`)."""
        return tuple(
            reading
            for reading in self.blood_pressure
            if reading.setting is MeasurementSetting.NOT_STATED
        )

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

    def treatment(self, drug_class: DrugClass) -> Treatment:
        """Whether the patient takes a drug of this class, as far as the record can tell."""
        if self.takes(drug_class):
            return Treatment.TAKEN
        return Treatment.UNKNOWN if self.unread_medication_lists else Treatment.NOT_TAKEN

    @property
    def unread_medications(self) -> str:
        """The medication lists that could not be read in full, in a clinician's words
        ("medication orders and the medication list"); "" when every list was read."""
        return " and ".join(
            MEDICATION_LISTS.get(kind, "a medication list") for kind in self.unread_medication_lists
        )

    @property
    def smoking_status(self) -> SmokingStatus | None:
        """The newest recorded smoking status, or None."""
        return self.smoking[0].status if self.smoking else None
