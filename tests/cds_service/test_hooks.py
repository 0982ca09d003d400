"""Hook calls (`POST /cds-services/{id}`): validation, 404, 412 and prefetch, over real HTTP."""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from card_rules import check_response
from conftest import Mint, patient_view_request
from support import CdssServer, free_port

SERVICE_PATH = "/cds-services/diabetes-risk"
PATIENT_NAME = "Zebulon Quixotic-Pemberton"  # a name that must never be echoed back


def _post(
    http: httpx.Client, server: CdssServer, mint: Mint, body: Any, path: str = SERVICE_PATH
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {mint(server, path)}"}
    if isinstance(body, bytes | str):
        return http.post(server.base_url + path, content=body, headers=headers)
    return http.post(server.base_url + path, json=body, headers=headers)


def _issue_locations(response: httpx.Response) -> list[str]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [location for issue in outcome["issue"] for location in issue.get("expression", [])]


def test_complete_prefetch_is_answered_with_cards(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    response = _post(http, cdss_server, mint, patient_view_request())

    assert response.status_code == 200
    cards = check_response(response.json(), "pat-1")
    # A chart with nothing in it: no number, and a card that says what would make one possible.
    assert [(card["indicator"], card["summary"]) for card in cards] == [
        (
            "info",
            "Diabetes risk not estimated: no date of birth or BMI (or weight and height) recorded",
        )
    ]


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"hook": "patient-view",}', b"\xff\xfe\x00", b"[" * 100_000],
    ids=["empty", "truncated", "text", "trailing comma", "not utf-8", "deep nesting"],
)
def test_malformed_json_is_400(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, raw: bytes
) -> None:
    response = _post(http, cdss_server, mint, raw)

    assert response.status_code == 400
    assert _issue_locations(response) == ["body"]


@pytest.mark.parametrize(
    ("field", "location"),
    [
        ("hook", "hook"),
        ("hookInstance", "hookInstance"),
        ("context", "context"),
        ("context.userId", "context.userId"),
        ("context.patientId", "context.patientId"),
    ],
)
def test_each_missing_required_field_is_named(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, field: str, location: str
) -> None:
    body = patient_view_request()
    container = body
    *parents, leaf = field.split(".")
    for parent in parents:
        container = container[parent]
    del container[leaf]

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 400
    assert location in _issue_locations(response)


INVALID_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("hookInstance not a UUID", {"hookInstance": "42"}, "hookInstance"),
    ("hook of another service", {"hook": "order-sign"}, "hook"),
    ("context not an object", {"context": ["pat-1"]}, "context"),
    (
        "patientId not a FHIR id",
        {"context": {"userId": "Practitioner/1", "patientId": "../Patient?x=1"}},
        "context.patientId",
    ),
    (
        "userId not a reference",
        {"context": {"userId": "dr smith", "patientId": "p"}},
        "context.userId",
    ),
    ("fhirServer not a URL", {"fhirServer": "ftp:/nowhere"}, "fhirServer"),
    ("prefetch not an object", {"prefetch": "everything"}, "prefetch"),
    (
        "fhirAuthorization without fhirServer",
        {
            "fhirAuthorization": {
                "access_token": "t",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "c",
            }
        },
        "body",
    ),
    (
        "fhirAuthorization missing its subject",
        {
            "fhirServer": "http://127.0.0.1:9/fhir",
            "fhirAuthorization": {
                "access_token": "t",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "s",
            },
        },
        "fhirAuthorization.subject",
    ),
    (
        "fhirAuthorization with a token type other than Bearer",
        {
            "fhirServer": "http://127.0.0.1:9/fhir",
            "fhirAuthorization": {
                "access_token": "t",
                "token_type": "MAC",
                "expires_in": 300,
                "scope": "s",
                "subject": "c",
            },
        },
        "fhirAuthorization.token_type",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "location"), INVALID_FIELDS, ids=[c[0] for c in INVALID_FIELDS]
)
def test_invalid_fields_are_400_naming_the_field(
    cdss_server: CdssServer,
    http: httpx.Client,
    mint: Mint,
    case: str,
    change: dict[str, Any],
    location: str,
) -> None:
    response = _post(http, cdss_server, mint, patient_view_request(**change))

    assert response.status_code == 400, case
    assert location in _issue_locations(response)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("patient", {"resourceType": "Observation", "id": "o"}),
        ("observations", {"resourceType": "Patient", "name": [{"text": PATIENT_NAME}]}),
        ("conditions", [PATIENT_NAME]),
        ("patient", {"name": [{"text": PATIENT_NAME}]}),
    ],
)
def test_prefetch_of_the_wrong_shape_is_400_without_echoing_it(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, key: str, value: Any
) -> None:
    body = patient_view_request()
    body["prefetch"][key] = value

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 400
    assert _issue_locations(response) == [f"prefetch.{key}"]
    assert PATIENT_NAME not in response.text
    assert PATIENT_NAME not in cdss_server.log_file.read_text()


def test_unknown_extensions_and_members_are_accepted(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request(
        extension={"com.example.ehr": {"anything": [1, 2, 3]}}, someFutureMember={"x": 1}
    )
    body["context"]["com.example.extra"] = "kept"
    body["prefetch"]["somethingWeDidNotAskFor"] = {"resourceType": "Patient"}

    assert _post(http, cdss_server, mint, body).status_code == 200


def test_unknown_service_is_404(cdss_server: CdssServer, http: httpx.Client, mint: Mint) -> None:
    response = _post(
        http, cdss_server, mint, patient_view_request(), path="/cds-services/no-such-service"
    )

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_missing_required_prefetch_without_fhir_access_is_412(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request()
    del body["prefetch"]["observations"]
    del body["prefetch"]["patient"]

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 412
    assert sorted(_issue_locations(response)) == ["prefetch.observations", "prefetch.patient"]


def test_no_prefetch_at_all_without_fhir_access_is_412(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request()
    del body["prefetch"]

    assert _post(http, cdss_server, mint, body).status_code == 412


def test_null_prefetch_means_no_data_not_missing(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request()
    for key in body["prefetch"]:
        if key != "patient":
            body["prefetch"][key] = None

    assert _post(http, cdss_server, mint, body).status_code == 200


OPERATION_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "prefetch query timed out"}],
}


def test_operation_outcome_for_a_required_key_is_412_without_fhir_access(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request()
    body["prefetch"]["observations"] = OPERATION_OUTCOME

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 412
    assert _issue_locations(response) == ["prefetch.observations"]


def test_operation_outcome_for_an_optional_key_still_answers(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = patient_view_request()
    body["prefetch"]["familyHistory"] = OPERATION_OUTCOME
    del body["prefetch"]["medications"]

    assert _post(http, cdss_server, mint, body).status_code == 200


def _with_fhir_access(fhir_server: str, patient: str | None = None) -> dict[str, Any]:
    body = patient_view_request()
    del body["prefetch"]["observations"]
    body["fhirServer"] = fhir_server
    body["fhirAuthorization"] = {
        "access_token": "secret-access-token-4f9a",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Observation.rs",
        "subject": "cds-service",
    }
    if patient is not None:
        body["fhirAuthorization"]["patient"] = patient
    return body


@pytest.fixture(scope="module")
def silent_fhir_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a hung FHIR server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture(scope="module")
def closed_fhir_server() -> str:
    """A FHIR base URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="module")
def fhir_service(
    start_server: Callable[..., CdssServer], silent_fhir_server: str, closed_fhir_server: str
) -> CdssServer:
    """`cdss serve` whose trusted issuers may name the hung and the closed FHIR server."""
    server: CdssServer = start_server(
        "sqlite", fhir_servers=[silent_fhir_server, closed_fhir_server]
    )
    return server


def test_unreachable_fhir_server_gives_412(
    fhir_service: CdssServer, http: httpx.Client, mint: Mint, closed_fhir_server: str
) -> None:
    response = _post(http, fhir_service, mint, _with_fhir_access(closed_fhir_server))

    assert response.status_code == 412
    assert _issue_locations(response) == ["prefetch.observations"]
    log = fhir_service.log_file.read_text()
    assert "could not be reached" in log
    assert "secret-access-token-4f9a" not in log


def test_hung_fhir_server_gives_412_within_the_budget(
    fhir_service: CdssServer, http: httpx.Client, mint: Mint, silent_fhir_server: str
) -> None:
    headers = {"Authorization": f"Bearer {mint(fhir_service, SERVICE_PATH)}"}

    # The service's budget is 0.5 s here; a call that waited on the hung server would outlast
    # this client timeout and fail the test with a timeout error, not an answer.
    response = http.post(
        fhir_service.base_url + SERVICE_PATH,
        json=_with_fhir_access(silent_fhir_server),
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 412
    assert _issue_locations(response) == ["prefetch.observations"]


def test_token_limited_to_another_patient_is_not_used(
    fhir_service: CdssServer, http: httpx.Client, mint: Mint, closed_fhir_server: str
) -> None:
    # With fhirAuthorization.patient naming someone else the service may not fetch, so the
    # missing data is a 412 rather than a request to the FHIR server.
    response = _post(
        http,
        fhir_service,
        mint,
        _with_fhir_access(closed_fhir_server, patient="someone-else"),
    )

    assert response.status_code == 412
    assert "grants no FHIR server access" in response.text


def test_error_bodies_carry_no_request_values(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    body = copy.deepcopy(patient_view_request())
    body["hookInstance"] = PATIENT_NAME

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 400
    assert PATIENT_NAME not in response.text


def test_oversized_body_is_413(cdss_server: CdssServer, http: httpx.Client, mint: Mint) -> None:
    body = b'{"hook": "' + b"x" * (33 * 1024 * 1024) + b'"}'

    response = _post(http, cdss_server, mint, body)

    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"
