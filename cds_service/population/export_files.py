"""Reading a FHIR Bulk Data export folder: one NDJSON file per resource type, sorted by patient.

A resource is a patient's when it is that Patient, or when the element FHIR R4 gives its type for
the patient (`subject`; `patient` for FamilyMemberHistory, `patient_links.PATIENT_ELEMENT`) is a
relative reference `Patient/{id}`, as a Bulk export writes them. Anything else (no link, a
`urn:uuid:`, an identifier alone, a type the record does not read) is no patient's and is left
out, as the hook path sets it aside. The one exception is a Medication (`Medication.ndjson`),
which names no patient: it joins the chart of each patient whose MedicationRequest or
MedicationStatement names it (`medicationReference`), as an EHR includes it with the orders, so
that a patient treated with a referenced drug is read as treated.

The files are per type, so a chart is complete only once every file is read. Rather than hold
the whole population, `patient_charts` indexes each file by patient (the byte offset of each
line, a few bytes a resource) and then reads each patient's lines back, one chart in memory at
a time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from fhir_adapters.fhir_values import Resource
from fhir_adapters.patient_links import PATIENT, PATIENT_ELEMENT, SHARED_RESOURCES, PatientScope

NDJSON = ".ndjson"
PATIENT_FILE = f"{PATIENT}{NDJSON}"
MEDICATION = "Medication"
_MEDICATION_USES = frozenset({"MedicationRequest", "MedicationStatement"})
# Reading patient links needs no patient in scope: any `Patient/{id}` names its id.
_ANY_PATIENT = PatientScope(None)


def patient_of(resource: Resource) -> str | None:
    """The id of the patient whose resource this is, or None when it names no patient."""
    resource_type = resource.get("resourceType")
    if resource_type == PATIENT:
        patient_id = resource.get("id")
        return patient_id if isinstance(patient_id, str) and patient_id else None
    element = PATIENT_ELEMENT.get(resource_type) if isinstance(resource_type, str) else None
    value = resource.get(element) if element is not None else None
    reference = value.get("reference") if isinstance(value, Mapping) else None
    if not isinstance(reference, str) or reference.startswith("urn:"):
        return None
    return _ANY_PATIENT.patient_named(reference)


def medication_named(resource: Resource) -> str | None:
    """The `Medication/{id}` a MedicationRequest or MedicationStatement names, if any."""
    if resource.get("resourceType") not in _MEDICATION_USES:
        return None
    value = resource.get("medicationReference")
    reference = value.get("reference") if isinstance(value, Mapping) else None
    if not isinstance(reference, str) or not reference.startswith(f"{MEDICATION}/"):
        return None
    return reference.split("/_history/")[0]


def medications_named(chart: Iterable[Resource]) -> list[str]:
    """Every `Medication/{id}` the chart's orders and statements name, each once, sorted."""
    return sorted({ref for resource in chart if (ref := medication_named(resource)) is not None})


def shared_reference(resource: Resource) -> str | None:
    """`Medication/{id}` for a resource shared between patients, else None."""
    resource_type = resource.get("resourceType")
    resource_id = resource.get("id")
    if resource_type in SHARED_RESOURCES and isinstance(resource_id, str) and resource_id:
        return f"{resource_type}/{resource_id}"
    return None


def group_by_patient(resources: Iterable[Resource]) -> dict[str, list[Resource]]:
    """The resources by patient id, each chart with the Medications its orders name; those
    that name no patient and no patient's order names are left out."""
    charts: dict[str, list[Resource]] = defaultdict(list)
    shared: dict[str, Resource] = {}
    for resource in resources:
        patient_id = patient_of(resource)
        if patient_id is not None:
            charts[patient_id].append(resource)
        elif (reference := shared_reference(resource)) is not None:
            shared[reference] = resource
    for chart in charts.values():
        chart.extend(shared[ref] for ref in medications_named(chart) if ref in shared)
    return dict(charts)


def read_ndjson(path: Path) -> Iterator[Resource]:
    """The resources of one NDJSON file, one a line (blank lines skipped)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                resource: Resource = json.loads(line)
                yield resource


def export_files(input_dir: Path) -> list[Path]:
    """The export's NDJSON files, Patient first, then by name."""
    files = sorted(input_dir.glob(f"*{NDJSON}"))
    return sorted(files, key=lambda path: path.name != PATIENT_FILE)


def patient_charts(input_dir: Path) -> Iterator[tuple[str, list[Resource]]]:
    """Each patient's resources (with the Medications its orders name), in the order of
    `Patient.ndjson`; a patient with resources but no Patient resource is not scored (nothing
    says their age or sex)."""
    files = export_files(input_dir)
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)
    shared: dict[str, tuple[int, int]] = {}
    order: list[str] = []
    for number, path in enumerate(files):
        with path.open("rb") as handle:
            offset = handle.tell()
            for line in iter(handle.readline, b""):
                if line.strip():
                    resource = json.loads(line)
                    patient_id = patient_of(resource)
                    if patient_id is not None:
                        if path.name == PATIENT_FILE and patient_id not in index:
                            order.append(patient_id)
                        index[patient_id].append((number, offset))
                    elif (reference := shared_reference(resource)) is not None:
                        shared[reference] = (number, offset)
                offset = handle.tell()
    handles = [path.open("rb") for path in files]

    def read(number: int, offset: int) -> Resource:
        handles[number].seek(offset)
        resource: Resource = json.loads(handles[number].readline())
        return resource

    try:
        for patient_id in order:
            chart = [read(number, offset) for number, offset in index.pop(patient_id)]
            chart.extend(read(*shared[ref]) for ref in medications_named(chart) if ref in shared)
            yield patient_id, chart
    finally:
        for handle in handles:
            handle.close()
