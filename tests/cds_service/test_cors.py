"""CORS for browser-based clients such as the public CDS Hooks sandbox."""

from __future__ import annotations

import httpx
import pytest
from conftest import SANDBOX_ORIGIN, Mint, patient_view_request
from support import CdssServer

PREFLIGHT_HEADERS = {
    "Origin": SANDBOX_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.mark.parametrize(
    "path", ["/cds-services", "/cds-services/diabetes-risk", "/cds-services/diabetes-risk/feedback"]
)
def test_preflight_from_an_allowed_origin_is_answered(
    cdss_server: CdssServer, http: httpx.Client, path: str
) -> None:
    response = http.options(cdss_server.base_url + path, headers=PREFLIGHT_HEADERS)

    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers


def test_preflight_from_another_origin_gets_no_grant(
    cdss_server: CdssServer, http: httpx.Client
) -> None:
    headers = dict(PREFLIGHT_HEADERS, Origin="https://evil.example.test")

    response = http.options(cdss_server.base_url + "/cds-services/diabetes-risk", headers=headers)

    assert "Access-Control-Allow-Origin" not in response.headers


def test_answers_to_an_allowed_origin_carry_the_grant(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    path = "/cds-services/diabetes-risk"
    headers = {"Origin": SANDBOX_ORIGIN, "Authorization": f"Bearer {mint(cdss_server, path)}"}

    answered = http.post(cdss_server.base_url + path, json=patient_view_request(), headers=headers)
    refused = http.post(
        cdss_server.base_url + path, json=patient_view_request(), headers={"Origin": SANDBOX_ORIGIN}
    )

    assert answered.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    # A browser client must be able to read a refusal too, or it cannot tell the user why.
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
