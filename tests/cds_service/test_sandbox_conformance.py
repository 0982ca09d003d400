"""The public CDS Hooks sandbox's requests, replayed exactly, against `cdss serve` and sekmet.

What the sandbox sends, and from which of its source files, is written down in
tests/sandbox_client.py (github.com/cds-hooks/sandbox, commit 3b7e255). The service here is
configured as docs/sandbox.md says: `[auth] sandbox = true`, the issuer
`https://sandbox.cds-hooks.org` with `jwks_builtin = "cds-hooks-sandbox"`, and the sandbox's
origin in `cors_allowed_origins`. Tokens are signed with the sandbox's own published private
key (tests/data/cds_hooks_sandbox/signing-key.json), so the pinned key set is what verifies them.

The sandbox's default FHIR server (DSTU2), its SMART links and other facts these tests do not
exercise are in tests/sandbox_client.py as well. Sekmet needs a bearer token where the SMART
launcher's open server needs none: the calls "not SMART-launched" below read sekmet with its
token all the same, standing for an open server, and send no `fhirAuthorization`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from card_rules import check_response
from fhir_servers import Fault, FaultyFhirServer
from sandbox_client import (
    DISCOVERY_PREFLIGHT_HEADERS,
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
    preflight,
    resolve_prefetch,
    sandbox_fetch,
    sandbox_fhir_authorization,
    sandbox_jwt,
)
from support import CdssServer

import cds_service.trust
from cds_service.access_settings import token_digest
from demo_ehr.fhir_server import SekmetServer
from demo_ehr.patients import carebundle_patient

SERVICE_IDS = ("diabetes-risk", "hypertension-risk", "note-summary")
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


@dataclass(frozen=True)
class Sandbox:
    """The sandbox's page with the service added, and what stands behind it here."""

    service: CdssServer
    page: httpx.Client
    fhir: SekmetServer
    # Sekmet behind a front whose faults a test sets: a FHIR server a key's reads fail on.
    front: FaultyFhirServer
    discovery: dict[str, Any]
    # Patient ids on sekmet of the carebundle charts used here, by CHART_PROFILES' names.
    charts: dict[str, str]
    admin_token: str

    def service_url(self, service_id: str) -> str:
        """The sandbox's URL for a service: the discovery URL it was given, "/", the id."""
        return f"{self.service.base_url}/cds-services/{service_id}"

    def templates(self, service_id: str) -> dict[str, str]:
        """The service's prefetch templates, as discovery listed them."""
        [entry] = [item for item in self.discovery["services"] if item["id"] == service_id]
        templates: dict[str, str] = entry["prefetch"]
        return templates


@pytest.fixture(scope="module")
def front(fhir_server: SekmetServer) -> Iterator[FaultyFhirServer]:
    """Sekmet behind a front without faults until a test sets one."""
    started = FaultyFhirServer(fhir_server).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[str], str],
    fhir_server: SekmetServer,
    front: FaultyFhirServer,
) -> Iterator[Sandbox]:
    """`cdss serve` configured for the public sandbox as docs/sandbox.md says, discovered by
    the sandbox's page (discovery itself is checked in its own test)."""
    admin_token = secrets.token_urlsafe(32)
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
                "fhir_servers": [fhir_server.base_url, front.base_url],
            }
        ],
    )
    # Loaded alone: `loaded_patients` would first build every Synthea history (~20 s).
    bundles = {profile: carebundle_patient(profile) for profile in set(CHART_PROFILES.values())}
    charts = {name: fhir_server.load(bundles[profile]) for name, profile in CHART_PROFILES.items()}
    server.start()
    try:
        with httpx.Client(timeout=60) as page:
            url = server.base_url + "/cds-services"
            discovery = sandbox_fetch(page, "GET", url).json()
            yield Sandbox(server, page, fhir_server, front, discovery, charts, admin_token)
    finally:
        server.stop()


def test_a_token_is_what_the_sandbox_jwt_generator_makes() -> None:
    audience = "https://cds.example.org/cds-services/diabetes-risk"
    # The public half the service pins must verify the published private half's signature.
    key_set = jwt.PyJWKSet.from_json(PINNED_SANDBOX_KEYS.read_text(encoding="utf-8"))

    token, other = sandbox_jwt(audience), sandbox_jwt(audience)
    header = jwt.get_unverified_header(token)
    # Math.round(Date.now() / 1000) may put `iat` up to half a second in the future.
    claims = jwt.decode(
        token, key_set[SANDBOX_KID].key, algorithms=[SANDBOX_ALGORITHM], audience=audience, leeway=1
    )

    assert header == {"alg": "ES384", "typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU}
    assert sorted(claims) == ["aud", "exp", "iat", "iss", "jti"]
    assert claims["iss"] == SANDBOX_ISSUER
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME_SECONDS
    assert claims["jti"] != jwt.decode(other, options={"verify_signature": False})["jti"]


def test_discovery_is_read_cross_origin_with_a_bearer_token(sandbox: Sandbox) -> None:
    url = sandbox.service.base_url + "/cds-services"

    checked = preflight(sandbox.page, url, "GET", DISCOVERY_PREFLIGHT_HEADERS)
    response = sandbox_fetch(sandbox.page, "GET", url)

    assert checked.status_code == 200
    assert checked.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    assert "authorization" in checked.headers["Access-Control-Allow-Headers"].lower()
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    services = {entry["id"]: entry for entry in response.json()["services"]}
    assert sorted(services) == sorted(SERVICE_IDS)
    for entry in services.values():
        assert entry["hook"] == "patient-view"
        # The sandbox skips a template whose tokens it cannot fill from the context.
        for template in entry["prefetch"].values():
            assert template.count("{{") == template.count("{{context.patientId}}")


def _smart_launched_call(
    sandbox: Sandbox, service_id: str, patient_id: str
) -> tuple[PrefetchResolution, httpx.Response]:
    """A call from a sandbox SMART-launched against sekmet: prefetch read with its token, and
    `fhirAuthorization` handing that token on."""
    fhir = sandbox.fhir
    resolution = resolve_prefetch(
        fhir.base_url, sandbox.templates(service_id), {"patientId": patient_id}, fhir.access_token
    )
    authorization = sandbox_fhir_authorization(fhir.access_token, expires_in=3600)
    body = patient_view_request(fhir.base_url, patient_id, resolution.prefetch, authorization)
    return resolution, sandbox_fetch(sandbox.page, "POST", sandbox.service_url(service_id), body)


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
    sandbox: Sandbox, chart: str, service_id: str, expected: list[tuple[str, str, list[str]]]
) -> None:
    patient_id = sandbox.charts[chart]

    resolution, response = _smart_launched_call(sandbox, service_id, patient_id)

    # Sekmet answers the sandbox's POST _search (so no GET fallback) and its DSTU2 Accept: one
    # read per key, a GET only for an instance read (a template without a query).
    templates = sandbox.templates(service_id)
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


def _call_after_a_failed_read(
    sandbox: Sandbox, failing_type: str, smart_launched: bool = False
) -> tuple[PrefetchResolution, dict[str, Any], httpx.Response]:
    """A hypertension-risk call for the hypertension chart after the sandbox's FHIR server
    failed every read of one resource type while it prefetched (and only then): what the
    sandbox read, what it sent, and the answer."""
    patient_id, token, front = (
        sandbox.charts[HYPERTENSION],
        sandbox.fhir.access_token,
        sandbox.front,
    )
    templates = sandbox.templates("hypertension-risk")
    front.faults = {failing_type: Fault.SERVER_ERROR}
    try:
        # Not SMART-launched, sekmet's token stands for an open server's anonymous access.
        resolution = resolve_prefetch(front.base_url, templates, {"patientId": patient_id}, token)
    finally:
        front.faults = {}
    authorization = sandbox_fhir_authorization(token, expires_in=3600) if smart_launched else None
    body = patient_view_request(front.base_url, patient_id, resolution.prefetch, authorization)
    url = sandbox.service_url("hypertension-risk")
    return resolution, body, sandbox_fetch(sandbox.page, "POST", url, body)


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
    sandbox: Sandbox, failing_type: str, key: str
) -> None:
    resolution, body, response = _call_after_a_failed_read(sandbox, failing_type)

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


def test_an_optional_key_the_sandbox_left_out_is_a_line_on_the_card(sandbox: Sandbox) -> None:
    resolution, body, response = _call_after_a_failed_read(sandbox, "MedicationRequest")

    assert _failed_reads(resolution, "MedicationRequest") == ["POST", "GET"]
    assert "medications" not in body["prefetch"]
    assert "fhirAuthorization" not in body
    assert response.status_code == 200, response.text
    [card] = check_response(response.json(), sandbox.charts[HYPERTENSION])
    assert MEDICATION_ORDERS_UNREAD in card["detail"].splitlines()
    # The chart's lisinopril is among the orders not read: the card may not say none is taken.
    assert "no antihypertensive" not in card["summary"], card["summary"]
    assert "treatment unknown" in card["summary"], card["summary"]


def test_a_key_a_smart_launched_sandbox_left_out_is_fetched_with_its_token(
    sandbox: Sandbox,
) -> None:
    sandbox.front.requests.clear()

    resolution, body, response = _call_after_a_failed_read(
        sandbox, "Condition", smart_launched=True
    )

    assert "conditions" not in body["prefetch"]
    assert response.status_code == 200, response.text
    [card] = check_response(response.json(), sandbox.charts[HYPERTENSION])
    # The problem list the service read itself is what makes this the treated-hypertension card.
    assert card["summary"] == TREATED_UNMEASURED_SUMMARY
    fetched = sandbox.front.requests[len(resolution.reads) :]
    assert [target.split("?")[0] for target in fetched] == ["/fhir/Condition"]


def _treated_unmeasured_card(sandbox: Sandbox, chart: str) -> dict[str, Any]:
    patient_id = sandbox.charts[chart]
    _, response = _smart_launched_call(sandbox, "hypertension-risk", patient_id)
    [card] = check_response(response.json(), patient_id)
    assert card["summary"] == TREATED_UNMEASURED_SUMMARY
    return card


def test_feedback_on_accept_and_on_dismiss_is_stored(sandbox: Sandbox) -> None:
    feedback_url = sandbox.service_url("hypertension-risk") + "/feedback"
    taken = _treated_unmeasured_card(sandbox, ACCEPTED)
    dismissed = _treated_unmeasured_card(sandbox, OVERRIDDEN)
    [suggestion] = taken["suggestions"]
    # The sandbox's dismiss menu lists the card's own override reasons; one is picked.
    reason = next(r for r in dismissed["overrideReasons"] if r["code"] == "patient-declined")
    accept = accepted_feedback(taken["uuid"], suggestion["uuid"])
    dismiss = overridden_feedback(dismissed["uuid"], reason)

    # Each its own preflight and fresh token; feedback sends no Accept header.
    accepted = sandbox_fetch(sandbox.page, "POST", feedback_url, accept, accept_json=False)
    overridden = sandbox_fetch(sandbox.page, "POST", feedback_url, dismiss, accept_json=False)

    receipt = {"stored": 1, "duplicates": 0, "unknownCards": 0}
    assert (accepted.status_code, accepted.json()) == (200, receipt)
    assert (overridden.status_code, overridden.json()) == (200, receipt)
    summary = sandbox.page.get(
        sandbox.service.base_url + "/admin/feedback/summary",
        headers={"Authorization": f"Bearer {sandbox.admin_token}"},
    ).json()
    [row] = [
        row
        for row in summary["byIssuer"]
        if row["service"] == "hypertension-risk" and row["cardType"] == TREATED_UNMEASURED
    ]
    assert row["issuer"] == SANDBOX_ISSUER
    assert (row["accepted"], row["overridden"]) == (1, 1)
    # The sandbox sends the reason's code (and system, had it one), never its display; the
    # summary names it as the card offered it.
    [stored] = row["overrideReasons"]
    assert (stored["code"], stored["system"], stored["cards"]) == ("patient-declined", None, 1)
    assert stored["display"] == reason["display"]


def test_a_sandbox_whose_every_read_failed_sends_no_prefetch_and_gets_every_required_key_named(
    sandbox: Sandbox,
) -> None:
    # Pointed at a secured FHIR server without being SMART-launched, the sandbox reads with no
    # token: every read is refused, and the call carries no `prefetch` member at all.
    patient_id, fhir = sandbox.charts[HYPERTENSION], sandbox.fhir
    templates = sandbox.templates("hypertension-risk")
    resolution = resolve_prefetch(fhir.base_url, templates, {"patientId": patient_id}, None)
    body = patient_view_request(fhir.base_url, patient_id, resolution.prefetch)

    response = sandbox_fetch(sandbox.page, "POST", sandbox.service_url("hypertension-risk"), body)

    assert {status for _, _, status in resolution.reads} == {401}
    assert "prefetch" not in body
    assert response.status_code == 412
    named = sorted(loc for issue in response.json()["issue"] for loc in issue["expression"])
    # The required keys, each once; the optional ones (medications, family history) are not.
    assert named == ["prefetch.conditions", "prefetch.observations", "prefetch.patient"]
