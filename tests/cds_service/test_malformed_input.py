"""Inputs the fuzzer found answered 500, each through `cdss serve` over real HTTP.

A malformed request is the caller's fault and is answered 4xx naming the problem; a prefetched
resource that cannot be read is the chart's, and becomes a data note on the card (a 200).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from conftest import TRUSTED_ISSUER, Mint, patient_view_request
from hook_calls import DIABETES_PATH, TODAY, UCUM, diabetes_chart
from support import CdssServer

from cds_service.access_settings import token_digest

FEEDBACK_PATH = DIABETES_PATH + "/feedback"
LOINC_HBA1C = "4548-4"
TEN_TO_THE_400 = 10**400


def _post(
    http: httpx.Client, server: CdssServer, mint: Mint, body: bytes | dict[str, Any], path: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {mint(server, path)}", "Content-Type": "application/json"}
    if isinstance(body, bytes):
        return http.post(server.base_url + path, content=body, headers=headers)
    return http.post(server.base_url + path, json=body, headers=headers)


def _diagnostics(response: httpx.Response) -> list[str]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [issue["diagnostics"] for issue in outcome["issue"]]


def _hba1c(**members: Any) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "hba1c-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": LOINC_HBA1C}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": TODAY.isoformat(),
        "valueQuantity": {"value": 6.1, "unit": "%", "system": UCUM, "code": "%"},
    }
    observation.update(members)
    return observation


def _chart_with(observation: dict[str, Any]) -> dict[str, Any]:
    prefetch = diabetes_chart("pat-1", 23.0)
    prefetch["observations"]["entry"].append({"resource": observation})
    prefetch["observations"]["total"] += 1
    return prefetch


# --- Prefetched resources that cannot be read: the card is answered, the resource set aside.


@pytest.mark.parametrize(
    "observation",
    [
        _hba1c(status=[]),
        _hba1c(status={}),
        _hba1c(valueQuantity={"value": TEN_TO_THE_400, "unit": "%", "system": UCUM, "code": "%"}),
        _hba1c(code={"coding": 5}),
        _hba1c(effectiveDateTime="0001-01-01T00:00:00+14:00"),
        _hba1c(effectiveDateTime="9999-12-31T23:59:59-14:00"),
    ],
    ids=[
        "status-list",
        "status-object",
        "value-beyond-float-range",
        "coding-not-a-list",
        "date-before-year-1-in-utc",
        "date-after-year-9999-in-utc",
    ],
)
def test_an_unreadable_prefetched_observation_is_set_aside_and_the_cards_still_answered(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, observation: dict[str, Any]
) -> None:
    # Python's json writes 10**400 as its 401 digits, as the fuzzer sent it.
    body = patient_view_request("pat-1", prefetch=_chart_with(observation))

    response = _post(http, cdss_server, mint, body, DIABETES_PATH)

    assert response.status_code == 200, response.text
    assert response.json()["cards"]


# --- Malformed requests: 4xx naming the problem.


def test_a_token_whose_exp_is_a_string_of_digits_is_refused_401(
    cdss_server: CdssServer, http: httpx.Client, signing_keys: dict[str, dict[str, Any]]
) -> None:
    now = int(time.time())
    private = signing_keys["ES384"]
    claims = {
        "iss": TRUSTED_ISSUER,
        "aud": cdss_server.base_url + DIABETES_PATH,
        "iat": now,
        "exp": str(now + 300),
        "jti": str(uuid.uuid4()),
    }
    key = jwt.PyJWK(dict(private), algorithm="ES384")
    token = jwt.encode(claims, key.key, algorithm="ES384", headers={"kid": private["kid"]})

    response = http.post(
        cdss_server.base_url + DIABETES_PATH,
        json=patient_view_request(),
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 401


def _overridden(**members: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "declined"}},
        "outcomeTimestamp": "2026-11-20T09:15:00Z",
    }
    entry.update(members)
    return entry


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_feedback_timestamp_outside_the_representable_range_is_400_naming_the_field(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, timestamp: str
) -> None:
    body = {"feedback": [_overridden(outcomeTimestamp=timestamp)]}

    response = _post(http, cdss_server, mint, body, FEEDBACK_PATH)

    assert response.status_code == 400, response.text
    assert any("outcomeTimestamp" in text for text in _diagnostics(response))


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json_and_are_refused_400(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, constant: bytes
) -> None:
    # Python's json reads these; PostgreSQL's json type does not, so they once reached the
    # database and came back as a DataError.
    raw = (
        b'{"feedback": [{"card": "' + str(uuid.uuid4()).encode() + b'", "outcome": "overridden",'
        b' "overrideReason": {"reason": {"code": "declined", "weight": ' + constant + b"}},"
        b' "outcomeTimestamp": "2026-11-20T09:15:00Z"}]}'
    )

    response = _post(http, cdss_server, mint, raw, FEEDBACK_PATH)

    assert response.status_code == 400, response.text
    assert any(constant.decode().lstrip("-") in text for text in _diagnostics(response))


@pytest.mark.parametrize(
    ("where", "text"),
    [("userComment", "\ud800"), ("display", "\ud800"), ("display", "a\x00b")],
    ids=["unpaired-surrogate-comment", "unpaired-surrogate-display", "nul-display"],
)
def test_feedback_text_postgresql_cannot_store_is_refused_400(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, where: str, text: str
) -> None:
    reason: dict[str, Any] = {"reason": {"code": "declined"}}
    if where == "userComment":
        reason["userComment"] = text
    else:
        reason["reason"]["display"] = text
    # json.dumps escapes to ASCII: "\\ud800" on the wire, valid JSON that no UTF-8 text holds.
    body = json.dumps({"feedback": [_overridden(overrideReason=reason)]}).encode()

    response = _post(http, cdss_server, mint, body, FEEDBACK_PATH)

    assert response.status_code == 400, response.text
    assert any("overrideReason" in text for text in _diagnostics(response))


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (
            DIABETES_PATH,
            b'{"hook": "patient-view", "context": {"patientId": "pat-1"}, '
            b'"context": {"patientId": "pat-2"}}',
        ),
        (
            FEEDBACK_PATH,
            b'{"feedback": [{"card": "c", "outcome": "accepted", "outcome": "overridden"}]}',
        ),
    ],
    ids=["hook-context-twice", "feedback-outcome-twice"],
)
def test_a_body_with_a_key_sent_twice_is_400_naming_the_key(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, path: str, raw: bytes
) -> None:
    response = _post(http, cdss_server, mint, raw, path)

    assert response.status_code == 400, response.text
    diagnostics = " ".join(_diagnostics(response))
    duplicated = "context" if path == DIABETES_PATH else "outcome"
    assert f"'{duplicated}'" in diagnostics
    # The name, never the value sent with it.
    assert "pat-2" not in diagnostics
    assert "overridden" not in diagnostics


@pytest.fixture(scope="module")
def admin_token() -> str:
    """A fresh admin token."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def admin_server(start_server: Callable[..., CdssServer], admin_token: str) -> CdssServer:
    """A service that trusts `admin_token`."""
    digest = token_digest(admin_token)
    server: CdssServer = start_server(
        "postgresql", admin={"token_sha256": [digest], "token_names": {digest: "committee"}}
    )
    return server


@pytest.mark.parametrize("before", ["99999999999999999999999999", "-1", "²"])
def test_audit_before_that_is_not_an_entry_id_is_400_naming_it(
    admin_server: CdssServer, http: httpx.Client, admin_token: str, before: str
) -> None:
    response = http.get(
        admin_server.base_url + "/admin/audit",
        params={"before": before},
        headers={"Authorization": f"Bearer {admin_token}"},
    )

    assert response.status_code == 400, response.text
    assert any(text.startswith("before:") for text in _diagnostics(response))
