"""Reading a FHIR Bulk Data export folder: one NDJSON file per resource type, sorted by patient.

A resource is a patient's when it is that Patient, or when the element FHIR R4 gives its type for
the patient (`subject`; `patient` for FamilyMemberHistory, `patient_links.PATIENT_ELEMENT`) is a
relative reference `Patient/{id}`, as a Bulk export writes them. Anything else (no link, a
`urn:uuid:`, an identifier alone, a type the record does not read) is no patient's and is left
out, as the hook path sets it aside.

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
from fhir_adapters.patient_links import PATIENT, PATIENT_ELEMENT, PatientScope

NDJSON = ".ndjson"
PATIENT_FILE = f"{PATIENT}{NDJSON}"
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


def group_by_patient(resources: Iterable[Resource]) -> dict[str, list[Resource]]:
    """The resources by patient id; those that name no patient are left out."""
    charts: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        patient_id = patient_of(resource)
        if patient_id is not None:
            charts[patient_id].append(resource)
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
    """Each patient's resources, in the order of `Patient.ndjson`; a patient with resources
    but no Patient resource is not scored (nothing says their age or sex)."""
    files = export_files(input_dir)
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)
    order: list[str] = []
    for number, path in enumerate(files):
        with path.open("rb") as handle:
            offset = handle.tell()
            for line in iter(handle.readline, b""):
                if line.strip():
                    patient_id = patient_of(json.loads(line))
                    if patient_id is not None:
                        if path.name == PATIENT_FILE and patient_id not in index:
                            order.append(patient_id)
                        index[patient_id].append((number, offset))
                offset = handle.tell()
    handles = [path.open("rb") for path in files]
    try:
        for patient_id in order:
            chart = []
            for number, offset in index.pop(patient_id):
                handles[number].seek(offset)
                chart.append(json.loads(handles[number].readline()))
            yield patient_id, chart
    finally:
        for handle in handles:
            handle.close()
