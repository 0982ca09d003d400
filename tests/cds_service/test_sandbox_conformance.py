"""The public CDS Hooks sandbox's requests, replayed exactly, against `cdss serve` and sekmet.

What the sandbox sends, and from which of its source files, is written down in
tests/sandbox_client.py (github.com/cds-hooks/sandbox, commit 3b7e255). The service here is
configured as docs/sandbox.md says: `[auth] sandbox = true`, the issuer
`https://sandbox.cds-hooks.org` with `jwks_builtin = "cds-hooks-sandbox"`, and the sandbox's
origin in `cors_allowed_origins`. Tokens are signed with the sandbox's own published private
key (tests/data/cds_hooks_sandbox/signing-key.json), so the pinned key set is what verifies them.

Facts from the sandbox's source that these tests do not exercise, written down for the docs:
- Its default FHIR server is `https://launch.smarthealthit.org/v/r2/fhir`, a DSTU2 (FHIR 1.0.2)
  server (`src/reducers/fhir-server-reducers.js`: `defaultFhirServer`, `fhirVersion: '1.0.2'`);
  an R4 server must be picked in the sandbox, e.g. `https://launch.smarthealthit.org/v/r4/fhir`.
  Its default patient is `smart-1288992` and its user `Practitioner/COREPRACTITIONER1`
  (`src/reducers/patient-reducers.js`); its default services are
  `https://sandbox-services.cds-hooks.org/cds-services` (`src/reducers/cds-services-reducers.js`).
- SMART links: for each `smart` link on a card the sandbox asks the FHIR server for a launch
  context, `POST {fhirServer}/_services/smart/Launch` with `{launchUrl, parameters: {patient,
  smart_messaging_origin, appContext}}`, the endpoint of the old HSPC sandboxes
  (`src/retrieve-data-helpers/launch-context-retrieval.js`, "for HSPC Sandboxes only"), and
  appends `launch={launch_id}&iss={fhirServer}` to the link. Any other FHIR server (the SMART
  launcher's, sekmet, HAPI) has no such endpoint, so the link has no launch URL and is drawn
  disabled, titled "Cannot launch SMART link without a SMART-enabled FHIR server"
  (`src/components/CardList/card-list.jsx`, `remapUrl`).
- Sekmet needs a bearer token where the launcher's open server needs none; the calls "without
  fhirAuthorization" below still read sekmet with its token, standing for an open server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from card_rules import check_response
from fhir_servers import Fault, FaultyFhirServer
from sandbox_client import (
    DISCOVERY_PREFLIGHT_HEADERS,
    POST_PREFLIGHT_HEADERS,
    SANDBOX_ALGORITHM,
    SANDBOX_ISSUER,
    SANDBOX_JKU,
    SANDBOX_KID,
    SANDBOX_ORIGIN,
    TOKEN_LIFETIME_SECONDS,
    PrefetchResolution,
    accepted_feedback,
    overridden_feedback,
    patient_view_request,
    preflight_refusal,
    resolve_prefetch,
    response_refusal,
    sandbox_call,
    sandbox_fhir_authorization,
    sandbox_jwt,
)
from support import CdssServer

import cds_service.trust
from cds_service.access_settings import token_digest
from demo_ehr.fhir_server import SekmetServer
from demo_ehr.patients import carebundle_patient

SERVICE_IDS = ("diabetes-risk", "hypertension-risk", "note-summary")
RISK_SERVICES = ("diabetes-risk", "hypertension-risk")
PINNED_SANDBOX_KEYS = Path(cds_service.trust.__file__).parent / "cds-hooks-sandbox-jwks.json"
# The carebundle charts these tests read, and what each gives (tests/data/golden_cards/): the
# hypertension profile is on lisinopril with no reading since it began, the healthy one gets
# no card. Two more copies of the hypertension chart are for the feedback test alone, so that
# what it accepts and overrides never changes what the other tests' calls give.
HYPERTENSION, HEALTHY, ACCEPTED, OVERRIDDEN = "hypertension", "healthy", "accepted", "overridden"
CHART_PROFILES = {
    HYPERTENSION: "hypertension",
    HEALTHY: "healthy",
    ACCEPTED: "hypertension",
    OVERRIDDEN: "hypertension",
}
TREATED_UNMEASURED = "treated-blood-pressure-unmeasured"
TREATED_UNMEASURED_SUMMARY = (
    "On lisinopril, no BP since treatment began: measure to check the 130/80 goal"
)
MEASURE_BP = "Measure blood pressure"
MEDICATION_ORDERS_UNREAD = "- Medication orders could not be read"


@pytest.fixture(scope="module")
def charts(fhir_server: SekmetServer) -> dict[str, str]:
    """Patient ids on the suite's sekmet of the carebundle charts used here (loaded alone:
    `loaded_patients` would first build every Synthea history, ~20 s)."""
    bundles = {profile: carebundle_patient(profile) for profile in set(CHART_PROFILES.values())}
    return {name: fhir_server.load(bundles[profile]) for name, profile in CHART_PROFILES.items()}


@pytest.fixture(scope="module")
def failing_front(fhir_server: SekmetServer) -> Iterator[FaultyFhirServer]:
    """Sekmet behind a front whose faults each test sets: the FHIR server a key fails on."""
    front = FaultyFhirServer(fhir_server).start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def admin_token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def sandbox_service(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[str], str],
    fhir_server: SekmetServer,
    failing_front: FaultyFhirServer,
    admin_token: str,
) -> Iterator[CdssServer]:
    """`cdss serve` configured for the public sandbox as docs/sandbox.md says."""
    digest = token_digest(admin_token)
    server = CdssServer(
        workdir=tmp_path_factory.mktemp("cdss-sandbox"),
        database_url=new_database("sqlite"),
        config={
            "server": {"cors_allowed_origins": [SANDBOX_ORIGIN]},
            # The default clock skew (60 s): the sandbox's iat may be half a second ahead.
            "auth": {"sandbox": True},
            "fhir": {"fetch_budget_seconds": 2.0},
            "notes": {"answer_within_seconds": 30},
            "admin": {"token_sha256": [digest], "token_names": {digest: "sandbox-tests"}},
        },
        issuers=[
            {
                "iss": SANDBOX_ISSUER,
                "jwks_builtin": "cds-hooks-sandbox",
                "fhir_servers": [fhir_server.base_url, failing_front.base_url],
            }
        ],
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser_page() -> Iterator[httpx.Client]:
    """The sandbox page's HTTP: one client for every call it makes."""
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def discovery(sandbox_service: CdssServer, browser_page: httpx.Client) -> dict[str, Any]:
    """The discovery document as the sandbox read it (checked in its own test)."""
    url = sandbox_service.base_url + "/cds-services"
    _, response = sandbox_call(browser_page, "GET", url)
    document: dict[str, Any] = response.json()
    return document


def _templates(discovery: dict[str, Any], service_id: str) -> dict[str, str]:
    [entry] = [item for item in discovery["services"] if item["id"] == service_id]
    templates: dict[str, str] = entry["prefetch"]
    return templates


def test_a_token_is_what_the_sandbox_jwt_generator_makes() -> None:
    audience = "https://cds.example.org/cds-services/diabetes-risk"
    # The public half the service pins must verify the published private half's signature.
    key_set = jwt.PyJWKSet.from_json(PINNED_SANDBOX_KEYS.read_text(encoding="utf-8"))

    token, other = sandbox_jwt(audience), sandbox_jwt(audience)
    header = jwt.get_unverified_header(token)
    # Math.round(Date.now() / 1000) may put `iat` up to half a second in the future.
    claims = jwt.decode(
        token,
        key_set[header["kid"]].key,
        algorithms=[SANDBOX_ALGORITHM],
        audience=audience,
        leeway=1,
    )

    assert header == {"alg": "ES384", "typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU}
    assert sorted(claims) == ["aud", "exp", "iat", "iss", "jti"]
    assert claims["iss"] == SANDBOX_ISSUER
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME_SECONDS
    assert claims["jti"] != jwt.decode(other, options={"verify_signature": False})["jti"]


def test_discovery_is_read_cross_origin_with_a_bearer_token(
    sandbox_service: CdssServer, browser_page: httpx.Client
) -> None:
    url = sandbox_service.base_url + "/cds-services"

    checked, response = sandbox_call(browser_page, "GET", url)

    assert preflight_refusal(checked, "GET", DISCOVERY_PREFLIGHT_HEADERS) is None
    assert response.status_code == 200
    assert response_refusal(response) is None
    services = {entry["id"]: entry for entry in response.json()["services"]}
    assert sorted(services) == sorted(SERVICE_IDS)
    for entry in services.values():
        assert entry["hook"] == "patient-view"
        # The sandbox skips a template whose tokens it cannot fill from the context.
        for template in entry["prefetch"].values():
            assert template.count("{{") == template.count("{{context.patientId}}")


def _posted(
    page: httpx.Client, url: str, body: dict[str, Any], *, accept_json: bool = True
) -> httpx.Response:
    """A POST from the sandbox's page: preflighted, and its answer readable by the page."""
    checked, response = sandbox_call(page, "POST", url, body, accept_json=accept_json)
    assert preflight_refusal(checked, "POST", POST_PREFLIGHT_HEADERS) is None
    assert response_refusal(response) is None, response.status_code
    return response


def _service_url(server: CdssServer, service_id: str) -> str:
    # The sandbox's service URL: the discovery URL it was given, "/", the service's id.
    return f"{server.base_url}/cds-services/{service_id}"


def _smart_launched_call(
    server: CdssServer,
    page: httpx.Client,
    fhir: SekmetServer,
    discovery: dict[str, Any],
    service_id: str,
    patient_id: str,
) -> tuple[PrefetchResolution, httpx.Response]:
    """A call from a sandbox SMART-launched against sekmet: prefetch read with its token, and
    `fhirAuthorization` handing that token on."""
    templates = _templates(discovery, service_id)
    resolution = resolve_prefetch(
        fhir.base_url, templates, {"patientId": patient_id}, fhir.access_token
    )
    authorization = sandbox_fhir_authorization(fhir.access_token, expires_in=3600)
    body = patient_view_request(fhir.base_url, patient_id, resolution.prefetch, authorization)
    return resolution, _posted(page, _service_url(server, service_id), body)


# (chart, service, each card's summary, indicator and suggestion labels)
EXPECTED_CARDS: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    (HYPERTENSION, "hypertension-risk", [(TREATED_UNMEASURED_SUMMARY, "info", [MEASURE_BP])]),
    (HYPERTENSION, "diabetes-risk", []),
    (HYPERTENSION, "note-summary", []),
    (HEALTHY, "hypertension-risk", []),
    (HEALTHY, "diabetes-risk", []),
]


@pytest.mark.parametrize(("chart", "service_id", "expected"), EXPECTED_CARDS)
def test_a_smart_launched_sandbox_gets_the_charts_cards(
    sandbox_service: CdssServer,
    browser_page: httpx.Client,
    fhir_server: SekmetServer,
    discovery: dict[str, Any],
    charts: dict[str, str],
    chart: str,
    service_id: str,
    expected: list[tuple[str, str, list[str]]],
) -> None:
    patient_id = charts[chart]

    resolution, response = _smart_launched_call(
        sandbox_service, browser_page, fhir_server, discovery, service_id, patient_id
    )

    # Sekmet answers the sandbox's POST _search (so no GET fallback) and its DSTU2 Accept: one
    # read per key, a GET only for an instance read (a template without a query).
    templates = _templates(discovery, service_id)
    methods = [method for method, _, _ in resolution.reads]
    assert len(methods) == len(templates)
    assert methods.count("GET") == sum("?" not in query for query in templates.values())
    assert all(url.endswith("/_search") for method, url, _ in resolution.reads if method == "POST")
    assert all(status == 200 for _, _, status in resolution.reads), resolution.reads
    assert sorted(resolution.prefetch) == sorted(templates)
    assert response.status_code == 200, response.text
    cards = check_response(response.json(), patient_id)
    shown = [
        (card["summary"], card["indicator"], [s["label"] for s in card.get("suggestions", [])])
        for card in cards
    ]
    assert shown == expected


def _open_server_call(
    server: CdssServer,
    page: httpx.Client,
    front: FaultyFhirServer,
    discovery: dict[str, Any],
    service_id: str,
    patient_id: str,
    failing_type: str,
) -> tuple[PrefetchResolution, dict[str, Any], httpx.Response]:
    """A call from a sandbox that was not SMART-launched (no `fhirAuthorization`), its FHIR
    server failing every read of one resource type: what it read, sent and got."""
    front.faults = {failing_type: Fault.SERVER_ERROR}
    try:
        # Sekmet's token stands for an open server's anonymous access (see the docstring).
        resolution = resolve_prefetch(
            front.base_url,
            _templates(discovery, service_id),
            {"patientId": patient_id},
            front.upstream.access_token,
        )
    finally:
        front.faults = {}
    body = patient_view_request(front.base_url, patient_id, resolution.prefetch)
    return resolution, body, _posted(page, _service_url(server, service_id), body)


def _failed_reads(resolution: PrefetchResolution, failing_type: str) -> list[str]:
    return [
        method
        for method, url, status in resolution.reads
        if f"/{failing_type}" in url and status == 500
    ]


# (resource type whose reads fail, the prefetch key that is then left out)
REQUIRED_KEYS_LEFT_OUT = [
    ("Condition", "conditions"),
    ("Observation", "observations"),
    ("Patient", "patient"),
]


@pytest.mark.parametrize(("failing_type", "key"), REQUIRED_KEYS_LEFT_OUT)
def test_a_required_key_the_sandbox_left_out_is_a_412_naming_it(
    sandbox_service: CdssServer,
    browser_page: httpx.Client,
    failing_front: FaultyFhirServer,
    discovery: dict[str, Any],
    charts: dict[str, str],
    failing_type: str,
    key: str,
) -> None:
    resolution, body, response = _open_server_call(
        sandbox_service,
        browser_page,
        failing_front,
        discovery,
        "hypertension-risk",
        charts[HYPERTENSION],
        failing_type,
    )

    # A search is tried by POST, then GET; an instance read only by GET. Both left it out.
    assert _failed_reads(resolution, failing_type) == (
        ["GET"] if failing_type == "Patient" else ["POST", "GET"]
    )
    assert key not in body["prefetch"]
    assert "fhirAuthorization" not in body
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert issue["expression"] == [f"prefetch.{key}"]
    assert issue["diagnostics"].startswith(f"prefetch.{key}: not prefetched")


def test_an_optional_key_the_sandbox_left_out_is_a_line_on_the_card(
    sandbox_service: CdssServer,
    browser_page: httpx.Client,
    failing_front: FaultyFhirServer,
    discovery: dict[str, Any],
    charts: dict[str, str],
) -> None:
    patient_id = charts[HYPERTENSION]

    resolution, body, response = _open_server_call(
        sandbox_service,
        browser_page,
        failing_front,
        discovery,
        "hypertension-risk",
        patient_id,
        "MedicationRequest",
    )

    assert _failed_reads(resolution, "MedicationRequest") == ["POST", "GET"]
    assert "medications" not in body["prefetch"]
    assert "fhirAuthorization" not in body
    assert response.status_code == 200, response.text
    [card] = check_response(response.json(), patient_id)
    assert MEDICATION_ORDERS_UNREAD in card["detail"].splitlines()


def _treated_unmeasured_card(
    server: CdssServer,
    page: httpx.Client,
    fhir: SekmetServer,
    discovery: dict[str, Any],
    patient_id: str,
) -> dict[str, Any]:
    _, response = _smart_launched_call(
        server, page, fhir, discovery, "hypertension-risk", patient_id
    )
    [card] = check_response(response.json(), patient_id)
    assert card["summary"] == TREATED_UNMEASURED_SUMMARY
    return card


def test_feedback_on_accept_and_on_dismiss_is_stored(
    sandbox_service: CdssServer,
    browser_page: httpx.Client,
    fhir_server: SekmetServer,
    discovery: dict[str, Any],
    charts: dict[str, str],
    admin_token: str,
) -> None:
    feedback_url = _service_url(sandbox_service, "hypertension-risk") + "/feedback"
    taken = _treated_unmeasured_card(
        sandbox_service, browser_page, fhir_server, discovery, charts[ACCEPTED]
    )
    dismissed = _treated_unmeasured_card(
        sandbox_service, browser_page, fhir_server, discovery, charts[OVERRIDDEN]
    )
    [suggestion] = taken["suggestions"]
    # The sandbox's dismiss menu lists the card's own override reasons; one is picked.
    reason = next(r for r in dismissed["overrideReasons"] if r["code"] == "patient-declined")

    accepted = _posted(
        browser_page,
        feedback_url,
        accepted_feedback(taken["uuid"], suggestion["uuid"]),
        accept_json=False,
    )
    overridden = _posted(
        browser_page,
        feedback_url,
        overridden_feedback(dismissed["uuid"], reason),
        accept_json=False,
    )

    receipt = {"stored": 1, "duplicates": 0, "unknownCards": 0}
    assert (accepted.status_code, accepted.json()) == (200, receipt)
    assert (overridden.status_code, overridden.json()) == (200, receipt)
    summary = httpx.get(
        sandbox_service.base_url + "/admin/feedback/summary",
        headers={"Authorization": f"Bearer {admin_token}"},
    ).json()
    [row] = [
        row
        for row in summary["byIssuer"]
        if row["service"] == "hypertension-risk" and row["cardType"] == TREATED_UNMEASURED
    ]
    assert row["issuer"] == SANDBOX_ISSUER
    assert (row["accepted"], row["overridden"]) == (1, 1)
    # The sandbox sends the reason's code (and system, had it one), never its display.
    [stored_reason] = row["overrideReasons"]
    assert (stored_reason["code"], stored_reason["system"], stored_reason["cards"]) == (
        "patient-declined",
        None,
        1,
    )
