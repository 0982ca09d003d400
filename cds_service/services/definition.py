"""What a CDS service is made of: its discovery entry, the data it needs, and how it advises.

Prefetch templates use only what CDS Hooks 2.0 allows (`{{context.patientId}}`, `_sort`,
`_count`, token parameters). A template marked required is one without which the service
cannot give honest advice: when it is neither prefetched nor fetchable, the call is answered
412.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cards.card_parts import IssuedCard
from cards.policy import NO_HISTORY, CardPolicy, FeedbackHistory
from fhir_adapters.codes import LOINC, RISK_OBSERVATION_LOINCS
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.prefetch import PrefetchTemplate
from models.registry import RiskModels

if TYPE_CHECKING:
    from cds_service.services.note_summary import NoteSummaries

PATIENT_VIEW = "patient-view"

# Every observation the risk models and their cards read, in one query per service.
_RISK_OBSERVATION_CODES = ",".join(f"{LOINC}|{code}" for code in RISK_OBSERVATION_LOINCS)

PATIENT = PrefetchTemplate("patient", "Patient/{{context.patientId}}")
RISK_OBSERVATIONS = PrefetchTemplate(
    "observations",
    f"Observation?patient={{{{context.patientId}}}}&code={_RISK_OBSERVATION_CODES}"
    "&_sort=-date&_count=500",
)
CONDITIONS = PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}&_count=200")
MEDICATIONS = PrefetchTemplate(
    "medications",
    "MedicationRequest?patient={{context.patientId}}&status=active&_count=200",
    required=False,
)
# What the patient reports taking (home medications), which many EHRs keep apart from orders.
MEDICATION_STATEMENTS = PrefetchTemplate(
    "medicationStatements",
    "MedicationStatement?patient={{context.patientId}}&status=active&_count=200",
    required=False,
)
FAMILY_HISTORY = PrefetchTemplate(
    "familyHistory", "FamilyMemberHistory?patient={{context.patientId}}", required=False
)
# What both risk services read: the chart's measurements, problems, medications, family.
RISK_PREFETCH = (
    PATIENT,
    RISK_OBSERVATIONS,
    CONDITIONS,
    MEDICATIONS,
    MEDICATION_STATEMENTS,
    FAMILY_HISTORY,
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
    # The bands, indicators and periods in force for this call (the admin may change them).
    policy: CardPolicy
    # What clinicians said about this patient's earlier cards of the service, still in force.
    history: FeedbackHistory = NO_HISTORY


Advisor = Callable[[ServiceInput], Sequence[IssuedCard]]


@dataclass(frozen=True)
class LoadedParts:
    """What the advisors draw on, loaded once per process at start-up."""

    risk_models: RiskModels
    note_summaries: NoteSummaries


@dataclass(frozen=True)
class CdsServiceDefinition:
    """One CDS service: its discovery entry, the data it needs, and how its advisor is made."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: tuple[PrefetchTemplate, ...]
    # Makes the advisor from the parts loaded at start-up (models, the note reader).
    advisor: Callable[[LoadedParts], Advisor] = field(compare=False, repr=False)

    def discovery_entry(self) -> dict[str, Any]:
        """The service as `GET /cds-services` lists it."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {template.key: template.query for template in self.prefetch},
        }


@dataclass(frozen=True)
class CdsService:
    """A service on offer: its definition, with its advisor made."""

    definition: CdsServiceDefinition
    advise: Advisor

    @property
    def id(self) -> str:
        """The service id (the path segment of its hook URL)."""
        return self.definition.id

    @property
    def title(self) -> str:
        """The service's name, as discovery gives it."""
        return self.definition.title

    @property
    def hook(self) -> str:
        """The hook it answers."""
        return self.definition.hook

    @property
    def prefetch(self) -> tuple[PrefetchTemplate, ...]:
        """The data it needs, as prefetch templates."""
        return self.definition.prefetch
