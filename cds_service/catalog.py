"""The CDS services this server offers: their discovery entries and the data each one needs.

Each service's prefetch templates use only what CDS Hooks 2.0 allows (`{{context.patientId}}`,
`_sort`, `_count`, token parameters). A template marked required is one without which the
service cannot give honest advice: when it is neither prefetched nor fetchable, the call is
answered 412.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cards.card_parts import IssuedCard
from cards.policy import NO_HISTORY, CardPolicy, FeedbackHistory
from fhir_adapters.codes import LOINC, RISK_OBSERVATION_LOINCS
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.prefetch import PrefetchTemplate

PATIENT_VIEW = "patient-view"

# Every observation the risk models and their cards read, in one query per service.
_RISK_OBSERVATIONS = ",".join(f"{LOINC}|{code}" for code in RISK_OBSERVATION_LOINCS)

_PATIENT = PrefetchTemplate("patient", "Patient/{{context.patientId}}")
_CONDITIONS = PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}&_count=200")
_MEDICATIONS = PrefetchTemplate(
    "medications",
    "MedicationRequest?patient={{context.patientId}}&status=active&_count=200",
    required=False,
)
# What the patient reports taking (home medications), which many EHRs keep apart from orders.
_MEDICATION_STATEMENTS = PrefetchTemplate(
    "medicationStatements",
    "MedicationStatement?patient={{context.patientId}}&status=active&_count=200",
    required=False,
)
_FAMILY_HISTORY = PrefetchTemplate(
    "familyHistory", "FamilyMemberHistory?patient={{context.patientId}}", required=False
)


@dataclass(frozen=True)
class ServiceInput:
    """What a service's advice is computed from: the request and the data gathered for it."""

    service_id: str
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    # The patient's data; what could not be gathered is in its `data_issues`.
    record: PatientRecord
    # What clinicians said about this patient's earlier cards of the service, still in force.
    history: FeedbackHistory = NO_HISTORY
    # The bands, indicators and periods in force for this call (the admin may change them).
    policy: CardPolicy = field(default_factory=CardPolicy)


Advisor = Callable[[ServiceInput], Sequence[IssuedCard]]


def no_advice_yet(_: ServiceInput) -> Sequence[IssuedCard]:
    """The advice of a service whose model has not landed yet: no cards."""
    return ()


@dataclass(frozen=True)
class CdsServiceDefinition:
    """One CDS service: its discovery entry and how it advises."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: tuple[PrefetchTemplate, ...]
    advise: Advisor = field(default=no_advice_yet, compare=False)

    def discovery_entry(self) -> dict[str, Any]:
        """The service as `GET /cds-services` lists it."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {template.key: template.query for template in self.prefetch},
        }


DIABETES_RISK = CdsServiceDefinition(
    id="diabetes-risk",
    hook=PATIENT_VIEW,
    title="Undiagnosed diabetes and prediabetes risk",
    description=(
        "Estimates the probability that an adult without diagnosed diabetes has undiagnosed "
        "dysglycemia (HbA1c >= 5.7%) or diabetes (HbA1c >= 6.5%), explains the estimate and "
        "suggests screening when it is high."
    ),
    prefetch=(
        _PATIENT,
        PrefetchTemplate(
            "observations",
            f"Observation?patient={{{{context.patientId}}}}&code={_RISK_OBSERVATIONS}"
            "&_sort=-date&_count=500",
        ),
        _CONDITIONS,
        _MEDICATIONS,
        _MEDICATION_STATEMENTS,
        _FAMILY_HISTORY,
    ),
)

HYPERTENSION_RISK = CdsServiceDefinition(
    id="hypertension-risk",
    hook=PATIENT_VIEW,
    title="Hypertension detection and risk",
    description=(
        "Flags recorded blood pressure in the hypertensive range without a diagnosis, estimates "
        "the probability of raised blood pressure when none was measured in 12 months, and the "
        "1- to 4-year risk of hypertension (Framingham) when blood pressure is recent and normal."
    ),
    prefetch=(
        _PATIENT,
        PrefetchTemplate(
            "observations",
            f"Observation?patient={{{{context.patientId}}}}&code={_RISK_OBSERVATIONS}"
            "&_sort=-date&_count=500",
        ),
        _CONDITIONS,
        _MEDICATIONS,
        _MEDICATION_STATEMENTS,
        _FAMILY_HISTORY,
    ),
)

NOTE_SUMMARY = CdsServiceDefinition(
    id="note-summary",
    hook=PATIENT_VIEW,
    title="Summary of recent clinical notes",
    description=(
        "An extractive, negation-aware summary of the patient's recent notes: every line is "
        "quoted from its source, with the note's date and type."
    ),
    prefetch=(
        _PATIENT,
        # The 20 most recent of each: the first page is what the summary wants.
        PrefetchTemplate(
            "documents",
            "DocumentReference?patient={{context.patientId}}&_sort=-date&_count=20",
            all_pages=False,
        ),
        PrefetchTemplate(
            "reports",
            "DiagnosticReport?patient={{context.patientId}}&_sort=-date&_count=20",
            required=False,
            all_pages=False,
        ),
    ),
)

SERVICES: tuple[CdsServiceDefinition, ...] = (DIABETES_RISK, HYPERTENSION_RISK, NOTE_SUMMARY)


class ServiceCatalog:
    """The services on offer, by id."""

    def __init__(self, services: Sequence[CdsServiceDefinition] = SERVICES) -> None:
        self._services = {service.id: service for service in services}

    def get(self, service_id: str) -> CdsServiceDefinition | None:
        """The service with this id, or None."""
        return self._services.get(service_id)

    def all(self) -> tuple[CdsServiceDefinition, ...]:
        """Every service, in discovery order."""
        return tuple(self._services.values())

    def discovery_document(self, offered: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
        """The body of `GET /cds-services`, listing the services `offered` says yes to."""
        return {
            "services": [service.discovery_entry() for service in self.all() if offered(service.id)]
        }
