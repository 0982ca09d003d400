"""Which gathered resources are this patient's: the wrong-patient filter, and it fails closed.

A resource counts for the patient of the hook call only when the element FHIR R4 gives it for its
patient (`subject`; `patient` for FamilyMemberHistory) is a literal reference to that Patient:
`Patient/{id}`, `Patient/{id}/_history/{version}`, or either as an absolute URL on the request's
own FHIR server. Everything else is set aside, because nothing in it says whose data it is: no
reference, an identifier or a display alone, a contained `#ref`, a Group, `patient/{id}` (FHIR
resource types are case-sensitive), a Patient on another FHIR server, or a `urn:uuid:` that
names no Patient of this chart. An HbA1c attached any of those ways once gave "Possible
undiagnosed diabetes" (issue 18, item 8).

A `urn:uuid:` reference (a transaction-style Bundle's) is resolved only within the search result
it came in: the prefetched Bundle and the pages that complete it. It names this patient when an
entry of that Bundle has the reference as its fullUrl and holds this patient's Patient resource
(its id is the request's patientId). A Bundle whose Patient has no id, or another id, names
nobody the service can check, so its entries are set aside.

Medication resources (read through a MedicationRequest's reference) name no patient and are kept;
other resource types the record does not read are dropped without a note.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_adapters.fhir_values import JSON_OBJECT, NO_ID, Resource, reference_of
from fhir_adapters.patient_record import DataIssue

# The element that names a resource's patient, by resource type, as FHIR R4 defines it.
PATIENT_ELEMENT = {
    "Observation": "subject",
    "Condition": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "FamilyMemberHistory": "patient",
    "DocumentReference": "subject",
    "DiagnosticReport": "subject",
}
PATIENT = "Patient"
# Resources shared between patients, read through a reference from the patient's own resources.
SHARED_RESOURCES = frozenset({"Medication"})
URN_UUID = "urn:uuid:"
# An id or version id in a literal reference: one path segment. Whether it is the patient's is
# decided by comparing it with the request's patientId, not by its form.
_FHIR_ID = r"[^/?#\s]+"
_PATIENT_REFERENCE = re.compile(rf"Patient/(?P<id>{_FHIR_ID})(?:/_history/{_FHIR_ID})?")
_ABSOLUTE_PATIENT = re.compile(rf"(?P<base>https?://\S+)/{_PATIENT_REFERENCE.pattern}")
# Why resources were set aside, as the card and the log say it.
NOT_LINKED = "not linked to this patient"
ANOTHER_PATIENTS = "naming another patient"
# How much of an unusable reference the integrator's note repeats.
_SHOWN = 100
# What a clinician calls one and several resources of a type, for the card's data notes.
_CLINICAL_NOUNS = {
    "Observation": ("observation", "observations"),
    "Condition": ("problem-list entry", "problem-list entries"),
    "MedicationRequest": ("medication order", "medication orders"),
    "MedicationStatement": ("medication list entry", "medication list entries"),
    "FamilyMemberHistory": ("family history entry", "family history entries"),
    "DocumentReference": ("note", "notes"),
    "DiagnosticReport": ("report", "reports"),
}


@dataclass(frozen=True)
class PatientScope:
    """Whose chart is gathered: the request's patient and FHIR server, and the urn:uuid fullUrls
    that name that Patient in the Bundle being read."""

    patient_id: str | None
    fhir_server: str | None = None
    patient_urns: frozenset[str] = frozenset()

    def patient_named(self, reference: str) -> str | None:
        """The id of the Patient a reference names, if it is a literal reference this service
        can check (relative, or absolute on the request's own server); None otherwise."""
        if reference.startswith(URN_UUID):
            return self.patient_id if reference in self.patient_urns else None
        relative = _PATIENT_REFERENCE.fullmatch(reference)
        if relative is not None:
            return relative.group("id")
        absolute = _ABSOLUTE_PATIENT.fullmatch(reference)
        if (
            absolute is not None
            and self.fhir_server is not None
            and absolute.group("base") == self.fhir_server.rstrip("/")
        ):
            return absolute.group("id")
        return None


@dataclass(frozen=True)
class SetAside:
    """A resource left out of the record because it is not linked to this patient, and why
    (the integrator's words: they may hold the reference, never for a log)."""

    reference: str
    resource_type: str
    why: str


@dataclass
class PatientSorting:
    """The outcome of sorting gathered resources by patient: what names another patient (by
    reference), and what is linked to no patient the service can check."""

    other_patients: list[str] = field(default_factory=list)
    unlinked: list[SetAside] = field(default_factory=list)

    def keep_this_patients(
        self, resources: Iterable[Resource], scope: PatientScope
    ) -> tuple[Resource, ...]:
        """The resources that are the scope's patient's; the others are noted here."""
        kept = []
        # A chart's resources name the same few patients: each reference is read once.
        named_by_reference: dict[str, str | None] = {}
        for resource in resources:
            resource_type = resource.get("resourceType")
            if not isinstance(resource_type, str):
                continue  # not a FHIR resource: nothing the record could read
            if resource_type in SHARED_RESOURCES:
                kept.append(resource)
            elif resource_type == PATIENT:
                if scope.patient_id is not None and resource.get("id") == scope.patient_id:
                    kept.append(resource)
                else:
                    self.other_patients.append(reference_of(resource))
            elif resource_type in PATIENT_ELEMENT and self._is_this_patients(
                resource, resource_type, scope, named_by_reference
            ):
                kept.append(resource)
        return tuple(kept)

    def _is_this_patients(
        self,
        resource: Resource,
        resource_type: str,
        scope: PatientScope,
        named_by_reference: dict[str, str | None],
    ) -> bool:
        element = PATIENT_ELEMENT[resource_type]
        value = resource.get(element)
        target = value.get("reference") if isinstance(value, JSON_OBJECT) else None
        if not isinstance(target, str):
            why = _unreferenced(element, value)
        else:
            if target in named_by_reference:
                named = named_by_reference[target]
            else:
                named = named_by_reference[target] = scope.patient_named(target)
            if named is not None and named == scope.patient_id:
                return True
            if named is not None:
                self.other_patients.append(reference_of(resource))
                return False
            why = f"{element} {target[:_SHOWN]!r} is not a reference to this patient's Patient"
        self.unlinked.append(SetAside(reference_of(resource), resource_type, why))
        return False


def _unreferenced(element: str, value: Any) -> str:
    if value is None:
        return f"no {element}"
    if isinstance(value, Mapping) and "identifier" in value:
        return f"{element} is an identifier, not a literal reference"
    return f"{element} has no literal reference"


def patient_urns(bundle: Mapping[str, Any], patient_id: str | None) -> frozenset[str]:
    """The urn:uuid fullUrls under which a Bundle holds this patient's Patient resource."""
    entries = bundle.get("entry")
    if patient_id is None or not isinstance(entries, list):
        return frozenset()
    return frozenset(
        entry["fullUrl"]
        for entry in entries
        if isinstance(entry, JSON_OBJECT)
        and isinstance(entry.get("fullUrl"), str)
        and entry["fullUrl"].startswith(URN_UUID)
        and isinstance(entry.get("resource"), Mapping)
        and entry["resource"].get("resourceType") == PATIENT
        and entry["resource"].get("id") == patient_id
    )


def set_aside_issues(
    unlinked: Sequence[SetAside], other_patients: Sequence[str] = ()
) -> list[DataIssue]:
    """One data issue per resource type set aside and why: a count in the clinician's words,
    the references (and reasons) for the integrator, and a log note with neither.

    The path is the resource type alone, so a note set aside is not read as a note that could
    not be read (`cards.note_card.unread_notes`).
    """
    unlinked_by_type: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for item in unlinked:
        if item.reference in seen:
            continue  # the same resource from two queries, or from pages that overlapped
        if not item.reference.endswith(NO_ID):
            seen.add(item.reference)
        unlinked_by_type[item.resource_type].append(f"{item.reference} ({item.why})")
    others_by_type: dict[str, list[str]] = defaultdict(list)
    for reference in other_patients:
        others_by_type[reference.split("/", 1)[0]].append(reference)
    return [
        *_counted(unlinked_by_type, NOT_LINKED),
        *_counted(others_by_type, ANOTHER_PATIENTS),
    ]


def _counted(by_type: Mapping[str, list[str]], why: str) -> list[DataIssue]:
    issues = []
    for resource_type, notes in sorted(by_type.items()):
        count = len(notes)
        if resource_type == PATIENT:
            words = f"the details of {count} other patient{'s' if count != 1 else ''}"
        else:
            one, several = _CLINICAL_NOUNS[resource_type]
            words = f"{count} {one if count == 1 else several} {why}"
        issues.append(
            DataIssue(
                resource_type,
                f"{why}, set aside: " + "; ".join(notes),
                clinician=f"Set aside: {words}",
                log_note=f"{count} {resource_type} set aside: {why}",
            )
        )
    return issues
