"""The wrong-patient filter fails closed (issue 18, item 8): a resource is this patient's only
when its patient element is a literal reference to this patient's Patient.

The gatherer reads prefetched Bundles here (no server is asked); `test_fhir_server_records.py`
shows the real FHIR server's patients keep every resource.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx
import pytest

from cards.note_card import unread_notes
from fhir_adapters.codes import LOINC, UCUM, Measure
from fhir_adapters.fhir_server import FhirAccess, FhirFetcher
from fhir_adapters.gathering import GatheredData, PatientDataGatherer
from fhir_adapters.patient_links import PATIENT_ELEMENT
from fhir_adapters.prefetch import PrefetchTemplate
from fhir_adapters.record_builder import record_from_gathered

BASE = "https://ehr.example.test/fhir"
PATIENT_ID = "p1"
CONTEXT = {"patientId": PATIENT_ID, "userId": "Practitioner/u1"}
AS_OF = date(2026, 11, 1)
PATIENT_URN = "urn:uuid:8c5b1e0e-3f0c-4a55-9a57-2b7f0d0c1a11"
BUDGET = 5.0

# Each way of attaching a resource that does not say it is this patient's.
UNLINKED_SHAPES: dict[str, dict[str, Any] | None] = {
    "no reference": None,
    "display only": {"display": "Jane Doe"},
    "identifier only": {"identifier": {"system": "urn:oid:1.2.36.146.595.217", "value": "12345"}},
    "urn:uuid naming no Patient here": {"reference": "urn:uuid:0d3b6f0e-5c1e-4b0a-8f1e-9a1b2c3d"},
    "a Group": {"reference": "Group/1"},
    "a contained resource": {"reference": "#pat"},
    "lowercase patient": {"reference": f"patient/{PATIENT_ID}"},
    "another server's Patient": {"reference": f"https://other.example.test/fhir/Patient/{PATIENT_ID}"},
    "a Patient with a query": {"reference": f"Patient/{PATIENT_ID}?_format=json"},
}  # fmt: skip
# Each way of naming this patient that the filter accepts.
LINKED_SHAPES = {
    "relative": f"Patient/{PATIENT_ID}",
    "relative with version": f"Patient/{PATIENT_ID}/_history/3",
    "absolute on the request's server": f"{BASE}/Patient/{PATIENT_ID}",
    "absolute on the request's server, with version": f"{BASE}/Patient/{PATIENT_ID}/_history/2",
}
# What the card says for one and for two set-aside resources of each type.
CLINICAL_WORDS = {
    "Observation": ("observation", "observations"),
    "Condition": ("problem-list entry", "problem-list entries"),
    "MedicationRequest": ("medication order", "medication orders"),
    "MedicationStatement": ("medication list entry", "medication list entries"),
    "FamilyMemberHistory": ("family history entry", "family history entries"),
    "DocumentReference": ("note", "notes"),
    "DiagnosticReport": ("report", "reports"),
}
TEMPLATE = PrefetchTemplate("chart", "Observation?patient={{context.patientId}}")
PATIENT_TEMPLATE = PrefetchTemplate("patient", "Patient/{{context.patientId}}")


def resource(resource_type: str, number: int, link: dict[str, Any] | None) -> dict[str, Any]:
    """A resource of a type with its patient element (FHIR R4's name for it) set to `link`."""
    made: dict[str, Any] = {"resourceType": resource_type, "id": f"r{number}"}
    if link is not None:
        made[PATIENT_ELEMENT[resource_type]] = link
    return made


def bundle(*resources: dict[str, Any], bundle_type: str = "searchset") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": bundle_type,
            "entry": [{"resource": item} for item in resources]}  # fmt: skip


@pytest.fixture
def gatherer() -> Iterator[PatientDataGatherer]:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no server call expected: {request.url}")

    with (
        ThreadPoolExecutor(2) as pool,
        httpx.Client(transport=httpx.MockTransport(refuse)) as client,
    ):
        yield PatientDataGatherer(FhirFetcher(client, pool))


def gather_chart(
    gatherer: PatientDataGatherer,
    chart: dict[str, Any],
    context: dict[str, Any] | None = None,
    access: FhirAccess | None = None,
) -> GatheredData:
    return gatherer.gather((TEMPLATE,), {"chart": chart}, context or CONTEXT, access, BUDGET)


def kept_ids(gathered: GatheredData) -> list[str]:
    return [item["id"] for item in gathered.resources["chart"]]


def notes(gathered: GatheredData) -> list[str]:
    return [issue.for_clinician for issue in gathered.issues()]


@pytest.mark.parametrize("resource_type", PATIENT_ELEMENT)
@pytest.mark.parametrize("shape", UNLINKED_SHAPES)
def test_a_resource_not_linked_to_the_patient_is_set_aside_and_counted(
    gatherer: PatientDataGatherer, resource_type: str, shape: str
) -> None:
    link = UNLINKED_SHAPES[shape]
    chart = bundle(resource(resource_type, 1, link), resource(resource_type, 2, link))

    gathered = gather_chart(gatherer, chart, access=FhirAccess(BASE, "token", PATIENT_ID))

    assert kept_ids(gathered) == []
    assert [item.reference for item in gathered.unlinked] == [
        f"{resource_type}/r1",
        f"{resource_type}/r2",
    ]
    several = CLINICAL_WORDS[resource_type][1]
    assert notes(gathered) == [f"Set aside: 2 {several} not linked to this patient"]


@pytest.mark.parametrize("resource_type", PATIENT_ELEMENT)
@pytest.mark.parametrize("shape", LINKED_SHAPES)
def test_a_literal_reference_to_this_patient_is_kept(
    gatherer: PatientDataGatherer, resource_type: str, shape: str
) -> None:
    chart = bundle(resource(resource_type, 1, {"reference": LINKED_SHAPES[shape]}))

    gathered = gather_chart(gatherer, chart, access=FhirAccess(BASE, "token", PATIENT_ID))

    assert kept_ids(gathered) == ["r1"]
    assert gathered.issues() == []


def test_each_type_is_read_from_the_element_fhir_r4_names() -> None:
    # FamilyMemberHistory names its patient in `patient`; the others, MedicationStatement
    # included, in `subject` (R4: MedicationStatement.subject; `patient` was DSTU2's).
    assert {t for t, element in PATIENT_ELEMENT.items() if element == "patient"} == {
        "FamilyMemberHistory"
    }


def test_a_reference_in_another_element_does_not_link(gatherer: PatientDataGatherer) -> None:
    statement = resource("MedicationStatement", 1, None)
    statement["patient"] = {"reference": f"Patient/{PATIENT_ID}"}
    history = resource("FamilyMemberHistory", 2, None)
    history["subject"] = {"reference": f"Patient/{PATIENT_ID}"}

    gathered = gather_chart(gatherer, bundle(statement, history))

    assert kept_ids(gathered) == []
    assert len(gathered.unlinked) == 2


def test_an_absolute_reference_needs_the_request_fhir_server(
    gatherer: PatientDataGatherer,
) -> None:
    chart = bundle(resource("Observation", 1, {"reference": f"{BASE}/Patient/{PATIENT_ID}"}))

    without_server = gather_chart(gatherer, chart)
    named_server = gatherer.gather((TEMPLATE,), {"chart": chart}, CONTEXT, None, BUDGET, BASE)

    assert kept_ids(without_server) == []
    assert kept_ids(named_server) == ["r1"]


def test_another_patient_on_the_request_server_is_another_patient(
    gatherer: PatientDataGatherer,
) -> None:
    chart = bundle(
        resource("Observation", 1, {"reference": "Patient/p2"}),
        resource("Observation", 2, {"reference": f"{BASE}/Patient/p2/_history/1"}),
    )

    gathered = gather_chart(gatherer, chart, access=FhirAccess(BASE, "token", PATIENT_ID))

    assert kept_ids(gathered) == []
    assert gathered.other_patients == ("Observation/r1", "Observation/r2")
    assert gathered.unlinked == ()
    assert notes(gathered) == ["Set aside: 2 observations naming another patient"]


def test_a_note_of_another_patient_is_not_a_note_that_could_not_be_read(
    gatherer: PatientDataGatherer,
) -> None:
    chart = bundle(
        {"resourceType": "Patient", "id": "p2"},
        resource("DocumentReference", 1, {"reference": "Patient/p2"}),
        resource("DiagnosticReport", 2, None),
    )

    gathered = gather_chart(gatherer, chart)

    assert notes(gathered) == [
        "Set aside: 1 report not linked to this patient",
        "Set aside: 1 note naming another patient",
        "Set aside: the details of 1 other patient",
    ]
    assert unread_notes(gathered.issues()) == []


def test_without_a_patient_id_nothing_is_the_patients(gatherer: PatientDataGatherer) -> None:
    chart = bundle(
        {"resourceType": "Patient", "id": PATIENT_ID},
        resource("Observation", 1, {"reference": f"Patient/{PATIENT_ID}"}),
    )

    gathered = gather_chart(gatherer, chart, context={"userId": "Practitioner/u1"})

    assert kept_ids(gathered) == []


def test_medications_are_kept_and_other_types_dropped_without_a_note(
    gatherer: PatientDataGatherer,
) -> None:
    chart = bundle(
        {"resourceType": "Medication", "id": "m1"},
        {"resourceType": "Encounter", "id": "e1"},
        {"resourceType": "Patient", "id": PATIENT_ID},
    )

    gathered = gather_chart(gatherer, chart)

    assert kept_ids(gathered) == ["m1", PATIENT_ID]
    assert gathered.issues() == []


def transaction(patient: dict[str, Any], observation: dict[str, Any]) -> dict[str, Any]:
    """A transaction-style Bundle: the Patient under a urn:uuid fullUrl, referenced by it."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": PATIENT_URN, "resource": patient},
            {"fullUrl": "urn:uuid:5f0c7f57-6c1e-4f34-bb2a-0f0e0d0c0b0a", "resource": observation},
        ],
    }


@pytest.mark.parametrize(
    ("patient", "kept"),
    [
        ({"resourceType": "Patient", "id": PATIENT_ID}, [PATIENT_ID, "r1"]),
        ({"resourceType": "Patient"}, []),
        ({"resourceType": "Patient", "id": "p2"}, []),
        ({"resourceType": "Group", "id": PATIENT_ID}, []),
    ],
    ids=["this patient", "no id", "another id", "not a Patient"],
)
def test_a_urn_uuid_counts_only_for_this_patients_patient_in_the_same_bundle(
    gatherer: PatientDataGatherer, patient: dict[str, Any], kept: list[str]
) -> None:
    observation = resource("Observation", 1, {"reference": PATIENT_URN})

    gathered = gather_chart(gatherer, transaction(patient, observation))

    assert kept_ids(gathered) == kept


def test_a_urn_uuid_does_not_resolve_across_prefetch_keys(gatherer: PatientDataGatherer) -> None:
    # The Patient under the urn:uuid is in one Bundle, the Observation in another.
    patient = {"resourceType": "Patient", "id": PATIENT_ID}
    patient_bundle = {"resourceType": "Bundle", "type": "collection",
                      "entry": [{"fullUrl": PATIENT_URN, "resource": patient}]}  # fmt: skip
    other = PrefetchTemplate("patients", "Patient?_id={{context.patientId}}")
    chart = bundle(resource("Observation", 1, {"reference": PATIENT_URN}))

    gathered = gatherer.gather(
        (other, TEMPLATE), {"patients": patient_bundle, "chart": chart}, CONTEXT, None, BUDGET
    )

    assert kept_ids(gathered) == []
    assert [item.reference for item in gathered.unlinked] == ["Observation/r1"]


def test_the_notes_count_each_type_in_clinical_words(gatherer: PatientDataGatherer) -> None:
    chart = bundle(
        resource("Observation", 1, None),
        resource("Observation", 2, {"reference": "Group/1"}),
        resource("Condition", 3, {"identifier": {"value": "x"}}),
    )

    gathered = gather_chart(gatherer, chart)

    assert notes(gathered) == [
        "Set aside: 1 problem-list entry not linked to this patient",
        "Set aside: 2 observations not linked to this patient",
    ]
    condition, observations = gathered.issues()
    assert condition.kind == "Condition"
    assert "Condition/r3 (subject is an identifier, not a literal reference)" in condition.reason
    assert "Observation/r1 (no subject)" in observations.reason
    assert "'Group/1'" in observations.reason


def test_the_log_says_what_was_set_aside_without_patient_data(
    gatherer: PatientDataGatherer, caplog: pytest.LogCaptureFixture
) -> None:
    chart = bundle(
        resource("Observation", 1, {"reference": f"patient/{PATIENT_ID}"}),
        resource("Observation", 2, {"identifier": {"value": "MRN-77"}}),
    )

    with caplog.at_level(logging.INFO, logger="fhir_adapters.gathering"):
        gather_chart(gatherer, chart)

    logged = [record.getMessage() for record in caplog.records]
    assert logged == ["2 Observation set aside: not linked to this patient"]


def hba1c(link: dict[str, Any] | None) -> dict[str, Any]:
    made = resource("Observation", 7, link)
    made.update(
        status="final",
        code={"coding": [{"system": LOINC, "code": "4548-4"}]},
        effectiveDateTime="2026-10-01",
        valueQuantity={"value": 7.2, "unit": "%", "system": UCUM, "code": "%"},
    )
    return made


@pytest.mark.parametrize("shape", UNLINKED_SHAPES)
def test_a_set_aside_hba1c_does_not_reach_the_record(
    gatherer: PatientDataGatherer, shape: str
) -> None:
    prefetch = {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "gender": "male"},
        "chart": bundle(hba1c(UNLINKED_SHAPES[shape])),
    }
    gathered = gatherer.gather((PATIENT_TEMPLATE, TEMPLATE), prefetch, CONTEXT, None, BUDGET)

    record = record_from_gathered(PATIENT_ID, gathered, AS_OF)

    assert not [m for m in record.measurements if m.measure is Measure.HBA1C]
    assert [issue.for_clinician for issue in record.data_issues] == [
        "Set aside: 1 observation not linked to this patient"
    ]


def test_a_linked_hba1c_reaches_the_record(gatherer: PatientDataGatherer) -> None:
    prefetch = {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "gender": "male"},
        "chart": bundle(hba1c({"reference": f"Patient/{PATIENT_ID}"})),
    }
    gathered = gatherer.gather((PATIENT_TEMPLATE, TEMPLATE), prefetch, CONTEXT, None, BUDGET)

    record = record_from_gathered(PATIENT_ID, gathered, AS_OF)

    assert [m.value for m in record.measurements if m.measure is Measure.HBA1C] == [7.2]
    assert record.data_issues == ()


def test_a_resource_in_two_keys_is_counted_once_and_resources_without_id_each(
    gatherer: PatientDataGatherer,
) -> None:
    unlinked = resource("Observation", 1, {"reference": "Group/1"})
    without_id = {"resourceType": "Observation", "subject": {"reference": "Group/1"}}
    other = PrefetchTemplate("recent", "Observation?patient={{context.patientId}}&_count=5")
    prefetch = {
        "chart": bundle(unlinked, without_id, dict(without_id)),
        "recent": bundle(unlinked),
    }

    gathered = gatherer.gather((TEMPLATE, other), prefetch, CONTEXT, None, BUDGET)

    assert notes(gathered) == ["Set aside: 3 observations not linked to this patient"]
