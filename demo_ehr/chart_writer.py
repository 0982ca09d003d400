"""Writing a demo patient's chart as the FHIR R4 resources an EHR holds, dated from today.

The demo's cast (`demo_ehr.cast`) is written with this: each chart is the premise of the cards
it should get, in the codes the service reads (`fhir_adapters.codes` and its value sets), and
every date is counted back from the day the demo starts, since the cards read a chart as of
today (a reading "in the last 12 months", a pregnancy "in the last 6 weeks").

Every resource has a fixed id, derived from the patient's, and is written with `PUT`: the
server takes the id as given, so a chart's URL stays the same from one demo start to the next.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fhir_adapters.codes import (
    ICD10_CM,
    LOINC,
    LOINC_BMI,
    LOINC_BP_PANEL,
    LOINC_DIASTOLIC,
    LOINC_HDL,
    LOINC_SMOKING_STATUS,
    LOINC_SYSTOLIC,
    LOINC_TOTAL_CHOLESTEROL,
    LOINC_WAIST,
    RXNORM,
    SNOMED,
    UCUM,
)

Json = dict[str, Any]
# Marks the demo's patients, and names each (the cast member's slug) on the patient list.
CAST_IDENTIFIER_SYSTEM = "https://cdss.example.test/demo-cast"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FAMILY_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# Where the demo's home readings say they came from: the adapter reads a reading whose performer
# is the patient, from a device named as a home monitor, as a home reading.
HOME_MONITOR = "Home blood pressure monitor"
OFFICE_HOUR = 10
DAYS_IN_YEAR = 365


def _concept(system: str, code: str, display: str) -> Json:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _years_before(day: date, years: int) -> date:
    """The same day `years` years earlier (29 February becomes the 28th)."""
    return day.replace(year=day.year - years, day=min(day.day, 28) if day.month == 2 else day.day)


@dataclass(frozen=True)
class CastMember:
    """One demo patient: why they are in the demo, the cards they get, their chart."""

    slug: str
    # The patient list's line: what the chart shows that the cards answer, in clinical words.
    reason: str
    # The card types every service answers this chart with (each card's type), in no order.
    cards: tuple[str, ...]
    bundle: Json
    # The patient list's heading it is shown under (`demo_ehr.cast` sets it by the module that
    # writes it).
    group: str = ""


@dataclass
class ChartWriter:
    """One patient's chart, resource by resource; `bundle()` gives the transaction to load."""

    slug: str
    today: date
    given: str
    family: str
    sex: str
    age: int
    _resources: list[Json] = field(default_factory=list)
    _serial: int = 0

    def __post_init__(self) -> None:
        # The last birthday 1 to 364 days ago, a different day for each patient (by the slug,
        # so the same from one start to the next): the age is `age` on the day the demo starts.
        birthday_days_ago = 1 + zlib.crc32(self.slug.encode()) % (DAYS_IN_YEAR - 1)
        last_birthday = self.today - timedelta(days=birthday_days_ago)
        born = _years_before(last_birthday, self.age)
        self._resources.append(
            {
                "resourceType": "Patient",
                "id": self.patient_id,
                "identifier": [{"system": CAST_IDENTIFIER_SYSTEM, "value": self.slug}],
                "name": [{"use": "official", "family": self.family, "given": [self.given]}],
                "gender": self.sex,
                "birthDate": born.isoformat(),
            }
        )

    @property
    def patient_id(self) -> str:
        return f"cast-{self.slug}"

    @property
    def patient(self) -> Json:
        return {"reference": f"Patient/{self.patient_id}"}

    def moment(self, days_ago: int, hour: int = OFFICE_HOUR, minute: int = 0) -> str:
        """An instant `days_ago` days before today, at that time (UTC)."""
        day = datetime.combine(self.today - timedelta(days=days_ago), datetime.min.time(), UTC)
        return (day + timedelta(hours=hour, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def day(self, days_ago: int) -> str:
        return (self.today - timedelta(days=days_ago)).isoformat()

    def add(self, resource: Json) -> Json:
        """Add a resource under the next id of this chart; it is returned for further fields."""
        self._serial += 1
        resource["id"] = f"{self.patient_id}-{self._serial}"
        self._resources.append(resource)
        return resource

    # --- Observations ---------------------------------------------------------------------

    def quantity(
        self, loinc: str, display: str, value: float, unit: str, days_ago: int,
        category: str = "laboratory",
    ) -> Json:  # fmt: skip
        """A final result with a UCUM quantity."""
        return self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [_concept(OBSERVATION_CATEGORY, category, category.title())],
                "code": _concept(LOINC, loinc, display),
                "subject": self.patient,
                "effectiveDateTime": self.moment(days_ago),
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            }
        )

    def body_measures(self, bmi: float, waist_cm: float, days_ago: int = 30) -> None:
        self.quantity(LOINC_BMI, "Body mass index", bmi, "kg/m2", days_ago, "vital-signs")
        self.quantity(LOINC_WAIST, "Waist circumference", waist_cm, "cm", days_ago, "vital-signs")

    def lipids(self, hdl: float, total: float, days_ago: int = 200) -> None:
        self.quantity(LOINC_HDL, "HDL cholesterol", hdl, "mg/dL", days_ago)
        self.quantity(LOINC_TOTAL_CHOLESTEROL, "Total cholesterol", total, "mg/dL", days_ago)

    def blood_pressure(
        self, systolic: float, diastolic: float, days_ago: int, hour: int = OFFICE_HOUR,
        minute: int = 0, at_home: bool = False,
    ) -> Json:  # fmt: skip
        """A blood pressure panel; `at_home`: taken by the patient on a home monitor."""

        def part(loinc: str, display: str, value: float) -> Json:
            quantity = {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
            return {"code": _concept(LOINC, loinc, display), "valueQuantity": quantity}

        panel: Json = {
            "resourceType": "Observation",
            "status": "final",
            "category": [_concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
            "code": _concept(LOINC, LOINC_BP_PANEL, "Blood pressure panel"),
            "subject": self.patient,
            "effectiveDateTime": self.moment(days_ago, hour, minute),
            "component": [
                part(LOINC_SYSTOLIC, "Systolic blood pressure", systolic),
                part(LOINC_DIASTOLIC, "Diastolic blood pressure", diastolic),
            ],
        }
        if at_home:
            panel["performer"] = [self.patient]
            panel["device"] = {"display": HOME_MONITOR}
        return self.add(panel)

    def home_week(self, systolic: float, diastolic: float, last_day_ago: int = 1) -> None:
        """A complete home series (ACC/AHA 2017, Table 12): seven days, two readings a minute
        apart each morning and evening, ending `last_day_ago` days ago."""
        for days in range(last_day_ago + 6, last_day_ago - 1, -1):
            for hour in (7, 19):
                for minute in (0, 1):
                    self.blood_pressure(systolic, diastolic, days, hour, minute, at_home=True)

    def smoking_status(self, snomed: str, display: str, days_ago: int = 30) -> Json:
        return self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [_concept(OBSERVATION_CATEGORY, "social-history", "Social History")],
                "code": _concept(LOINC, LOINC_SMOKING_STATUS, "Tobacco smoking status"),
                "subject": self.patient,
                "effectiveDateTime": self.moment(days_ago),
                "valueCodeableConcept": _concept(SNOMED, snomed, display),
            }
        )

    # --- Conditions, medications, family history --------------------------------------------

    def condition(
        self, system: str, code: str, display: str, onset_days_ago: int | None = None,
        clinical: str = "active", abatement_days_ago: int | None = None,
    ) -> Json:  # fmt: skip
        """A confirmed problem-list entry."""
        resource: Json = {
            "resourceType": "Condition",
            "clinicalStatus": _concept(CONDITION_CLINICAL, clinical, clinical.title()),
            "verificationStatus": _concept(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
            "category": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "problem-list-item",
                    "Problem List Item",
                )
            ],
            "code": _concept(system, code, display),
            "subject": self.patient,
        }
        if onset_days_ago is not None:
            resource["onsetDateTime"] = self.day(onset_days_ago)
        if abatement_days_ago is not None:
            resource["abatementDateTime"] = self.day(abatement_days_ago)
        return self.add(resource)

    def diagnosis(self, icd10_cm: str, display: str, onset_days_ago: int = 900) -> Json:
        return self.condition(ICD10_CM, icd10_cm, display, onset_days_ago)

    def medication_order(self, rxnorm: str, display: str, days_ago: int = 200) -> Json:
        """An active order of a drug, as RxNorm's clinical-drug display names it."""
        return self.add(
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": _concept(RXNORM, rxnorm, display),
                "subject": self.patient,
                "authoredOn": self.day(days_ago),
            }
        )

    def family_history(self, role: str, relation: str, snomed: str, display: str) -> Json:
        """A relative's condition (role: HL7 v3 RoleCode, e.g. FTH, MTH)."""
        return self.add(
            {
                "resourceType": "FamilyMemberHistory",
                "status": "completed",
                "patient": self.patient,
                "relationship": _concept(FAMILY_ROLE, role, relation),
                "condition": [{"code": _concept(SNOMED, snomed, display)}],
            }
        )

    # --- The whole chart -------------------------------------------------------------------

    def resources(self) -> list[Json]:
        return list(self._resources)

    def member(self, reason: str, *cards: str) -> CastMember:
        """This chart as a cast member: its line on the patient list and the cards it gets."""
        return CastMember(self.slug, reason, cards, self.bundle())

    def bundle(self) -> Json:
        """The chart as a transaction Bundle, each resource written (`PUT`) under its own id."""
        entries = [
            {
                "resource": resource,
                "request": {
                    "method": "PUT",
                    "url": f"{resource['resourceType']}/{resource['id']}",
                },
            }
            for resource in self._resources
        ]
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
