"""The synthetic patients are valid, reproducible FHIR, and the test FHIR servers behave."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir_servers import Fault, FaultyFhirServer, SekmetServer
from patient_variants import (
    RADIOLOGY_BINARY_ID,
    RADIOLOGY_TEXT,
    blood_pressure_variant,
    messy_variant,
    units_variant,
)
from synthetic_patients import CAREBUNDLE_PROFILES, carebundle_patient

VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "units": units_variant,
    "blood-pressure": blood_pressure_variant,
    "messy": messy_variant,
}


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """The bundle's resources of one type."""
    return [
        item["resource"]
        for item in bundle["entry"]
        if item["resource"]["resourceType"] == resource_type
    ]


def loinc_codes(resource: dict[str, Any]) -> set[str]:
    """The codes of a resource's `code`."""
    return {coding["code"] for coding in resource["code"].get("coding", [])}


@pytest.mark.parametrize("profile", CAREBUNDLE_PROFILES)
def test_carebundle_patients_are_valid_r4b(profile: str) -> None:
    Bundle.model_validate(carebundle_patient(profile))


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_are_valid_r4b(variant: str) -> None:
    # The messy variant's unusable values (BMI 900, weight in 'stone') are still valid FHIR.
    Bundle.model_validate(VARIANTS[variant]())


def test_r4b_validation_rejects_a_malformed_value() -> None:
    # The control for the two tests above: a value that is not a decimal does fail.
    bundle = carebundle_patient("healthy")
    resources(bundle, "Observation")[0]["valueQuantity"]["value"] = "12,5"

    with pytest.raises(pydantic.ValidationError):
        Bundle.model_validate(bundle)


def test_generation_is_deterministic() -> None:
    assert messy_variant() == messy_variant()
    assert carebundle_patient("type2_diabetes") == carebundle_patient("type2_diabetes")


def test_units_variant_reexpresses_values_and_drops_bmi() -> None:
    source = carebundle_patient("type2_diabetes")
    bundle = units_variant()

    percent = next(o for o in resources(source, "Observation") if "4548-4" in loinc_codes(o))
    (ifcc,) = (o for o in resources(bundle, "Observation") if "59261-8" in loinc_codes(o))
    expected = round((percent["valueQuantity"]["value"] - 2.152) / 0.09148)
    assert ifcc["valueQuantity"] == {
        "value": expected,
        "unit": "mmol/mol",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/mol",
    }
    codes = set().union(*(loinc_codes(o) for o in resources(bundle, "Observation")))
    assert not codes & {"4548-4", "39156-5"}


def test_messy_variant_dates_follow_the_encounter() -> None:
    bundle = messy_variant()

    dates = {o["status"]: o["effectiveDateTime"] for o in resources(bundle, "Observation")}
    assert dates["entered-in-error"] == "2026-01-02T09:00:00Z"
    notes = resources(bundle, "DocumentReference")
    assert notes[0]["date"] == "2025-11-01T10:00:00Z"
    (report,) = (r for r in resources(bundle, "DiagnosticReport") if r.get("conclusion"))
    assert report["effectiveDateTime"] == "2025-10-15T08:00:00Z"


def test_messy_notes_hold_the_promised_bytes() -> None:
    notes = resources(messy_variant(), "DocumentReference")
    attachments = {note["content"][0]["attachment"]["contentType"]: note for note in notes}

    def data(content_type: str) -> bytes:
        return base64.b64decode(attachments[content_type]["content"][0]["attachment"]["data"])

    assert data("text/plain; charset=ISO-8859-1").decode("iso-8859-1").startswith("Café au lait")
    assert data("text/plain; charset=UTF-16").startswith(b"\xff\xfe")
    assert data("text/plain; charset=UTF-16").decode("utf-16").startswith("Telehealth visit.")
    assert b"\\n1. Prediabetes" in data("text/plain; charset=utf-8")


# --- Against a real FHIR server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sekmet(fhir_server: SekmetServer) -> SekmetServer:
    """The suite's sekmet server."""
    return fhir_server


@pytest.fixture(scope="module")
def loaded(loaded_patients: dict[str, str]) -> dict[str, str]:
    """The messy variant's and carebundle's healthy patient's ids in it."""
    return {
        "messy": loaded_patients["variant-messy"],
        "healthy": loaded_patients["carebundle-healthy"],
    }


@pytest.fixture
def faulty(sekmet: SekmetServer) -> Iterator[FaultyFhirServer]:
    """A fault-injecting server in front of sekmet, with no faults yet."""
    server = FaultyFhirServer(sekmet).start()
    yield server
    server.stop()


def test_sekmet_serves_the_loaded_patients(sekmet: SekmetServer, loaded: dict[str, str]) -> None:
    source = messy_variant()
    patient = sekmet.get(f"Patient/{loaded['messy']}")
    assert patient["name"] == resources(source, "Patient")[0]["name"]

    page = sekmet.get("Observation", patient=loaded["messy"], _count=5)
    assert page["total"] == len(resources(source, "Observation"))
    assert len(page["entry"]) == 5
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert len(sekmet.get_url(next_url)["entry"]) == 5

    healthy = sekmet.get("Observation", patient=loaded["healthy"], _count=5)
    assert healthy["total"] == len(resources(carebundle_patient("healthy"), "Observation"))


def test_sekmet_serves_the_binary_a_note_points_at(
    sekmet: SekmetServer, loaded: dict[str, str]
) -> None:
    notes = sekmet.get("DocumentReference", patient=loaded["messy"])["entry"]
    urls = [n["resource"]["content"][0]["attachment"].get("url") for n in notes]
    (url,) = (u for u in urls if u)

    binary = sekmet.get(url)

    assert binary["id"] == RADIOLOGY_BINARY_ID
    assert base64.b64decode(binary["data"]).decode() == RADIOLOGY_TEXT


def test_sekmet_refuses_a_request_without_the_token(
    sekmet: SekmetServer, loaded: dict[str, str]
) -> None:
    response = httpx.get(f"{sekmet.base_url}/Patient/{loaded['healthy']}", timeout=10)

    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.SERVER_ERROR, 500), (Fault.UNAUTHORIZED, 401), (Fault.NOT_FOUND, 404)],
)
def test_faulty_server_answers_with_the_fault(
    sekmet: SekmetServer,
    loaded: dict[str, str],
    faulty: FaultyFhirServer,
    fault: Fault,
    status: int,
) -> None:
    faulty.faults["Patient"] = fault
    with httpx.Client(headers=sekmet.headers, timeout=10) as client:
        failed = client.get(f"{faulty.base_url}/Patient/{loaded['healthy']}")
        proxied = client.get(f"{faulty.base_url}/Observation", params={"_count": 1})

    assert failed.status_code == status
    assert failed.json()["resourceType"] == "OperationOutcome"
    assert proxied.status_code == 200  # other resource types pass through untouched
    assert faulty.requests == [f"/fhir/Patient/{loaded['healthy']}", "/fhir/Observation?_count=1"]


def test_faulty_server_sends_truncated_json(
    sekmet: SekmetServer, loaded: dict[str, str], faulty: FaultyFhirServer
) -> None:
    faulty.faults["*"] = Fault.INVALID_JSON

    response = httpx.get(
        f"{faulty.base_url}/Condition",
        params={"patient": loaded["messy"]},
        headers=sekmet.headers,
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_faulty_server_is_slow(
    sekmet: SekmetServer, loaded: dict[str, str], faulty: FaultyFhirServer
) -> None:
    faulty.faults["Patient"] = Fault.SLOW
    faulty.slow_seconds = 0.5
    url = f"{faulty.base_url}/Patient/{loaded['healthy']}"

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, headers=sekmet.headers, timeout=0.1)
    started = time.monotonic()
    response = httpx.get(url, headers=sekmet.headers, timeout=10)

    assert response.status_code == 200
    assert response.json()["id"] == loaded["healthy"]
    assert time.monotonic() - started >= 0.5


def test_stopping_the_faulty_server_releases_slow_requests(
    sekmet: SekmetServer, loaded: dict[str, str]
) -> None:
    server = FaultyFhirServer(sekmet, slow_seconds=60).start()
    server.faults["*"] = Fault.SLOW
    statuses: list[int] = []

    def ask() -> None:
        url = f"{server.base_url}/Patient/{loaded['healthy']}"
        statuses.append(httpx.get(url, headers=sekmet.headers, timeout=30).status_code)

    waiter = threading.Thread(target=ask)
    waiter.start()
    while not server.requests:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    waiter.join(timeout=10)

    assert not waiter.is_alive()
    assert time.monotonic() - started < 5
    assert statuses == [503]


def test_faulty_server_pages_through_itself_and_fails_page_two(
    sekmet: SekmetServer, loaded: dict[str, str], faulty: FaultyFhirServer
) -> None:
    search = f"{faulty.base_url}/Observation"
    params: dict[str, str | int] = {"patient": loaded["messy"], "_count": 5}
    with httpx.Client(headers=sekmet.headers, timeout=10) as client:
        first = client.get(search, params=params).json()
        next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
        second = client.get(next_url)
        faulty.fail_after_first_page.add("Observation")
        first_again = client.get(search, params=params)
        second_again = client.get(next_url)

    assert next_url.startswith(f"{faulty.base_url}/Observation?")
    assert all(item["fullUrl"].startswith(faulty.base_url) for item in first["entry"])
    assert second.status_code == 200
    assert len(second.json()["entry"]) == 5
    assert first_again.status_code == 200
    assert second_again.status_code == 500
    assert second_again.json()["resourceType"] == "OperationOutcome"
