"""Every operation of /openapi.json, fuzzed by schemathesis against `cdss serve`: no 5xx, and every
answer is one the document promises (status, media type and body schema).

Requests are generated from the served document itself: bodies, query strings and path
parameters that fit it (positive) and that break it (negative, which must then be refused with
a 4xx on the JSON APIs). Each call carries valid credentials, a fresh CDS Hooks JWT minted for
its exact URL or the admin token, so the generated data reaches the parsing and validation code
behind authentication. Bounded and derandomized: the same requests on every run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from conftest import Mint, patient_view_request
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from support import CdssServer

from cds_service.access_settings import token_digest
from cds_service.web.openapi import DOCUMENT_PATH
from cds_service.web.openapi_operations import (
    ADMIN_API,
    ADMIN_TOKEN,
    CDS_HOOKS,
    CDS_HOOKS_JWT,
    JSON,
)
from cds_service.web.openapi_paths import all_paths

pytestmark = pytest.mark.fuzz

# Per operation and generation mode: the CDS Hooks calls, which carry patient data from any EHR,
# get more; ~2,200 requests in all.
CASES_PER_MODE = 30
CDS_HOOKS_CASES_PER_MODE = 120
# The most refused admin attempts the settings allow before an address is throttled.
MAX_REFUSALS = 1000
# The operations every answer of which is JSON, and which must refuse what breaks the schema.
JSON_APIS = frozenset({CDS_HOOKS, ADMIN_API})
ALWAYS_CHECKED = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS = [(path, method) for path, item in all_paths(["a-service"]).items() for method in item]


@pytest.fixture(scope="module")
def admin_token() -> str:
    """The one admin token the fuzzed service trusts."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def fuzzed_server(start_server: Callable[..., CdssServer], admin_token: str) -> CdssServer:
    """A service with an admin token; refused attempts are not throttled (the fuzz sends many)."""
    admin = {"token_sha256": [token_digest(admin_token)], "max_refusals": MAX_REFUSALS}
    server: CdssServer = start_server("sqlite", admin=admin)
    return server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: CdssServer) -> Any:
    """The document the service serves, loaded by schemathesis."""
    return schemathesis.openapi.from_url(fuzzed_server.base_url + DOCUMENT_PATH)


def security_schemes(operation: Any) -> set[str]:
    """The names of the security schemes the operation requires."""
    return {name for need in operation.definition.raw.get("security", []) for name in need}


def credentials(
    operation: Any, case: Any, server: CdssServer, mint: Mint, admin_token: str
) -> dict[str, str]:
    """The Authorization header the operation's security scheme asks for, valid for this call."""
    schemes = security_schemes(operation)
    if CDS_HOOKS_JWT in schemes:
        return {"Authorization": f"Bearer {mint(server, case.formatted_path)}"}
    if ADMIN_TOKEN in schemes:
        return {"Authorization": f"Bearer {admin_token}"}
    return {}


def can_break_schema(operation: dict[str, Any]) -> bool:
    """Whether a request can break the operation's schema: a JSON body, or a parameter with a
    type or set of values (any text fits a plain string in a query, path or form)."""
    json_body = JSON in operation.get("requestBody", {}).get("content", {})
    typed = any(
        parameter["schema"] != {"type": "string"}
        for parameter in operation.get("parameters", [])
        if parameter["in"] != "header"
    )
    return json_body or typed


def fuzz(
    operation: Any,
    mode: GenerationMode,
    checks: list[Any],
    base_url: str,
    headers_for: Callable[[Any], dict[str, str]],
) -> None:
    """Send generated requests to the operation (a bounded number); each answer must pass
    `checks`."""
    tags = set(operation.definition.raw.get("tags", []))
    # The Authorization header is given, so that a negative case breaks the data rather than
    # drop the credentials (the valid token replaces this placeholder when the case is sent).
    given_headers = {"Authorization": "Bearer placeholder"} if security_schemes(operation) else None

    @settings(
        max_examples=CDS_HOOKS_CASES_PER_MODE if CDS_HOOKS in tags else CASES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=given_headers))
    def call(case: Any) -> None:
        headers = headers_for(case)
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=checks, headers=headers)

    call()


@pytest.mark.parametrize(
    ("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS]
)
def test_no_operation_answers_5xx_or_off_the_document(
    path: str,
    method: str,
    api_schema: Any,
    fuzzed_server: CdssServer,
    mint: Mint,
    admin_token: str,
) -> None:
    operation = api_schema[path][method]
    tags = set(operation.definition.raw.get("tags", []))

    def headers_for(case: Any) -> dict[str, str]:
        return credentials(operation, case, fuzzed_server, mint, admin_token)

    fuzz(operation, GenerationMode.POSITIVE, ALWAYS_CHECKED, fuzzed_server.base_url, headers_for)
    # What breaks the schema must be refused with a 4xx where the API is JSON; the pages and
    # the SMART app answer a request without a session by sending the browser elsewhere.
    negative_checks = [*ALWAYS_CHECKED, *([negative_data_rejection] if tags & JSON_APIS else [])]
    if not can_break_schema(operation.definition.raw):
        return
    fuzz(operation, GenerationMode.NEGATIVE, negative_checks, fuzzed_server.base_url, headers_for)


def test_card_answers_to_valid_hook_calls_match_the_document(
    api_schema: Any, fuzzed_server: CdssServer, mint: Mint
) -> None:
    # Generated bodies seldom make a valid hook call; a valid one per service shows that the
    # cards themselves are what the document says (`CdsHooksResponse`, `Card`).
    operation = api_schema["/cds-services/{service_id}"]["post"]
    (service_id,) = operation.definition.raw["parameters"]
    answered_with_cards = 0
    for service in service_id["schema"]["enum"]:
        case = operation.Case(
            path_parameters={"service_id": service},
            body=patient_view_request(),
            media_type=JSON,
        )
        token = mint(fuzzed_server, case.formatted_path)
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=fuzzed_server.base_url, headers=headers, timeout=30)
        assert response.status_code == 200, service
        case.validate_response(response, checks=ALWAYS_CHECKED, headers=headers)
        answered_with_cards += bool(response.json()["cards"])
    assert answered_with_cards > 0
