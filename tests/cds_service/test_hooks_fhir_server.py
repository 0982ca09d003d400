"""Hooks driven the way an EHR drives them, with a real FHIR server (sekmet) behind the request.

The EHR reads discovery, resolves each prefetch template against its FHIR server and calls the
hook; or sends no prefetch and only `fhirServer` with a token. Faults of the FHIR server are
answered with 412 (or an answer without the optional part) within the fetch budget, never 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from card_rules import check_response, without_uuids
from conftest import Mint, patient_view_request
from fhir_servers import Fault, FaultyFhirServer, SekmetServer, resolve_prefetch_as_an_ehr
from support import CdssServer

from fhir_adapters.fhir_server import FHIR_SERVER_UNREADABLE

BUDGET_SECONDS = 0.8  # the service's default
# A call that waited on a slow server past the budget fails the test with a client timeout.
CLIENT_TIMEOUT_SECONDS = BUDGET_SECONDS + 4
SERVICES = ("diabetes-risk", "hypertension-risk", "note-summary")
FAST_PATIENTS = (
    "carebundle-healthy",
    "carebundle-hypertension",
    "carebundle-type2_diabetes",
    "variant-units",
    "variant-messy",
)


@pytest.fixture(scope="module")
def faulty_front(fhir_server: SekmetServer) -> Iterator[FaultyFhirServer]:
    """A faulty front of the FHIR server, for the whole module: the service lists it."""
    front = FaultyFhirServer(fhir_server, slow_seconds=BUDGET_SECONDS + 10).start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def stopped_front(fhir_server: SekmetServer) -> str:
    """The base URL of a faulty front that has stopped (the service lists it)."""
    front = FaultyFhirServer(fhir_server).start()
    front.stop()
    return front.base_url


@pytest.fixture(scope="module")
def service(
    start_server: Callable[..., CdssServer],
    fhir_server: SekmetServer,
    faulty_front: FaultyFhirServer,
    stopped_front: str,
) -> CdssServer:
    server: CdssServer = start_server(
        "sqlite",
        fhir_servers=[fhir_server.base_url, faulty_front.base_url, stopped_front],
        fhir={"fetch_budget_seconds": BUDGET_SECONDS},
    )
    return server


@pytest.fixture(scope="module")
def discovery(service: CdssServer) -> dict[str, dict[str, str]]:
    with httpx.Client() as client:
        listed = client.get(service.base_url + "/cds-services").json()["services"]
    return {entry["id"]: entry["prefetch"] for entry in listed}


def hook_call(
    patient_id: str,
    fhir_server: str | None,
    access_token: str,
    prefetch: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = patient_view_request(patient_id)
    body["prefetch"] = prefetch or {}
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.rs",
            "subject": "cds-service",
            "patient": patient_id,
        }
    return body


def post(service: CdssServer, mint: Mint, service_id: str, body: dict[str, Any]) -> httpx.Response:
    path = f"/cds-services/{service_id}"
    return httpx.post(
        service.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {mint(service, path)}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def locations(response: httpx.Response) -> list[str]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return sorted(loc for issue in outcome["issue"] for loc in issue.get("expression", []))


@pytest.mark.parametrize("service_id", SERVICES)
@pytest.mark.parametrize("name", [*FAST_PATIENTS, "synthea-1"])
def test_an_ehr_that_prefetches_gets_an_answer(
    name: str,
    service_id: str,
    service: CdssServer,
    discovery: dict[str, dict[str, str]],
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
) -> None:
    patient_id = loaded_patients[name]
    prefetch = resolve_prefetch_as_an_ehr(fhir_server, discovery[service_id], patient_id)
    body = hook_call(patient_id, fhir_server.base_url, fhir_server.access_token, prefetch)

    response = post(service, mint, service_id, body)

    assert response.status_code == 200, response.text
    check_response(response.json(), patient_id)


@pytest.mark.parametrize("service_id", SERVICES)
@pytest.mark.parametrize("name", FAST_PATIENTS)
def test_an_ehr_that_only_hands_over_its_fhir_server_gets_the_same_answer(
    name: str,
    service_id: str,
    service: CdssServer,
    discovery: dict[str, dict[str, str]],
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
) -> None:
    patient_id = loaded_patients[name]
    body = hook_call(patient_id, fhir_server.base_url, fhir_server.access_token)

    response = post(service, mint, service_id, body)

    assert response.status_code == 200, response.text
    # The same chart read by the service itself gives the same advice as a full prefetch.
    prefetch = resolve_prefetch_as_an_ehr(fhir_server, discovery[service_id], patient_id)
    prefetched = post(
        service,
        mint,
        service_id,
        hook_call(patient_id, fhir_server.base_url, fhir_server.access_token, prefetch),
    )
    cards = check_response(response.json(), patient_id)
    assert without_uuids(cards) == without_uuids(prefetched.json()["cards"])


@pytest.fixture
def faulty(faulty_front: FaultyFhirServer) -> Iterator[FaultyFhirServer]:
    """The module's faulty front, with no faults and no requests seen when a test starts."""
    yield faulty_front
    faulty_front.faults.clear()
    faulty_front.fail_after_first_page.clear()
    faulty_front.requests.clear()


REQUIRED_KEYS = ["prefetch.conditions", "prefetch.observations", "prefetch.patient"]


@pytest.mark.parametrize(
    ("resource_type", "fault", "status", "missing"),
    [
        ("*", Fault.SERVER_ERROR, 412, REQUIRED_KEYS),
        ("*", Fault.INVALID_JSON, 412, REQUIRED_KEYS),
        ("*", Fault.UNAUTHORIZED, 412, REQUIRED_KEYS),
        ("*", Fault.NOT_FOUND, 412, REQUIRED_KEYS),
        ("*", Fault.SLOW, 412, REQUIRED_KEYS),
        ("Observation", Fault.SLOW, 412, ["prefetch.observations"]),
        # Medications are optional: the answer comes without them.
        ("MedicationRequest", Fault.SERVER_ERROR, 200, []),
        ("MedicationRequest", Fault.SLOW, 200, []),
    ],
)
def test_a_failing_fhir_server_is_answered_within_the_budget(
    resource_type: str,
    fault: Fault,
    status: int,
    missing: list[str],
    faulty: FaultyFhirServer,
    service: CdssServer,
    loaded_patients: dict[str, str],
    fhir_server: SekmetServer,
    mint: Mint,
) -> None:
    faulty.faults[resource_type] = fault
    body = hook_call(loaded_patients["carebundle-type2_diabetes"], faulty.base_url,
                     fhir_server.access_token)  # fmt: skip

    response = post(service, mint, "diabetes-risk", body)

    assert response.status_code == status
    if missing:
        assert locations(response) == missing
    log = service.log_file.read_text()
    assert fhir_server.access_token not in log
    # FHIR search URLs name the patient: the HTTP client must not log them.
    assert loaded_patients["carebundle-type2_diabetes"] not in log


def test_a_stopped_fhir_server_gives_412(
    stopped_front: str,
    service: CdssServer,
    loaded_patients: dict[str, str],
    fhir_server: SekmetServer,
    mint: Mint,
) -> None:
    body = hook_call(loaded_patients["carebundle-healthy"], stopped_front,
                     fhir_server.access_token)  # fmt: skip

    response = post(service, mint, "hypertension-risk", body)

    assert response.status_code == 412
    assert locations(response) == REQUIRED_KEYS


def test_an_expired_token_gives_412(
    service: CdssServer, fhir_server: SekmetServer, loaded_patients: dict[str, str], mint: Mint
) -> None:
    body = hook_call(loaded_patients["carebundle-healthy"], fhir_server.base_url, "expired")

    response = post(service, mint, "diabetes-risk", body)

    assert response.status_code == 412
    # The caller is told that the server could not be read, as for any fault; the log says why.
    assert FHIR_SERVER_UNREADABLE in response.text
    assert "401" not in response.text
    assert "refused the token (401)" in service.log_file.read_text()


def test_a_token_for_another_patient_is_not_used(
    faulty: FaultyFhirServer,
    service: CdssServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    mint: Mint,
) -> None:
    body = hook_call(loaded_patients["carebundle-healthy"], faulty.base_url,
                     fhir_server.access_token)  # fmt: skip
    body["fhirAuthorization"]["patient"] = loaded_patients["carebundle-hypertension"]

    response = post(service, mint, "diabetes-risk", body)

    assert response.status_code == 412
    assert faulty.requests == []  # the FHIR server was never asked
