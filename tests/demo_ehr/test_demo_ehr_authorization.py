"""The demo EHR's SMART authorization server on its own: a launch's appContext comes back in the
token answer, and a standalone request without a patient waits for the user to pick one."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cds_service.smart.launch import code_challenge
from demo_ehr.authorization import (
    APP_CONTEXT_MAX_CHARS,
    AuthorizationError,
    DemoAuthorizationServer,
)

FHIR_BASE = "https://ehr.example.test/fhir"
CLIENT_ID = "cdss-detail"
REDIRECT_URI = "https://cds.example.test/smart/callback"
VERIFIER = "v" * 64
PATIENT = "pat-1"


@pytest.fixture
def server() -> DemoAuthorizationServer:
    """An authorization server that knows one client."""
    return DemoAuthorizationServer(FHIR_BASE, {CLIENT_ID: (REDIRECT_URI,)})


def authorize_query(**overrides: str) -> dict[str, str]:
    """A valid authorize request for an EHR launch (add `launch`) with PKCE S256."""
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "launch patient/Patient.rs",
        "state": "the-state",
        "aud": FHIR_BASE,
        "code_challenge": code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    query.update(overrides)
    return query


def standalone_query(**overrides: str) -> dict[str, str]:
    """A valid authorize request for a standalone launch."""
    return authorize_query(scope="launch/patient patient/Patient.rs", **overrides)


def redirected(target: str) -> dict[str, str]:
    """The query the client's redirect URI was given."""
    assert target.startswith(REDIRECT_URI + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(target).query).items()}


def token_answer(
    server: DemoAuthorizationServer, query: dict[str, str], patient: str | None = None
) -> dict[str, Any]:
    """Authorize, then exchange the code with its PKCE verifier, as the app does."""
    code = redirected(server.authorize(query, patient))["code"]
    return server.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "code_verifier": VERIFIER,
        }
    )


def test_a_launch_with_app_context_gives_it_back_in_the_token_answer(
    server: DemoAuthorizationServer,
) -> None:
    launch = server.create_launch(PATIENT, "diabetes-risk&card=1")
    answer = token_answer(server, authorize_query(launch=launch))
    assert answer["appContext"] == "diabetes-risk&card=1"
    assert answer["patient"] == PATIENT
    assert answer["need_patient_banner"] is True
    holder = server.token_holder(str(answer["access_token"]))
    assert holder is not None
    assert holder.patient == PATIENT


@pytest.mark.parametrize("app_context", [None, ""])
def test_a_launch_without_app_context_has_no_app_context_key(
    server: DemoAuthorizationServer, app_context: str | None
) -> None:
    launch = server.create_launch(PATIENT, app_context)
    answer = token_answer(server, authorize_query(launch=launch))
    assert "appContext" not in answer
    assert answer["patient"] == PATIENT
    assert answer["need_patient_banner"] is True


def test_app_context_is_bounded(server: DemoAuthorizationServer) -> None:
    longest = "x" * APP_CONTEXT_MAX_CHARS
    answer = token_answer(server, authorize_query(launch=server.create_launch(PATIENT, longest)))
    assert answer["appContext"] == longest
    with pytest.raises(AuthorizationError) as refused:
        server.create_launch(PATIENT, longest + "x")
    assert refused.value.code == "invalid_request"


def test_a_launch_and_its_app_context_serve_one_authorization(
    server: DemoAuthorizationServer,
) -> None:
    launch = server.create_launch(PATIENT, "diabetes-risk")
    token_answer(server, authorize_query(launch=launch))
    again = redirected(server.authorize(authorize_query(launch=launch), None))
    assert again["error"] == "invalid_request"
    assert "code" not in again


def test_a_standalone_launch_with_a_patient_has_no_app_context(
    server: DemoAuthorizationServer,
) -> None:
    assert not server.needs_patient_choice(standalone_query(), PATIENT)
    answer = token_answer(server, standalone_query(), PATIENT)
    assert answer["patient"] == PATIENT
    assert "appContext" not in answer


def test_a_valid_standalone_request_without_a_patient_waits_for_a_choice(
    server: DemoAuthorizationServer,
) -> None:
    assert server.needs_patient_choice(standalone_query(), None)
    assert server.needs_patient_choice(standalone_query(), "")
    # Without a choice, going on is refused, never a token for nobody.
    assert redirected(server.authorize(standalone_query(), ""))["error"] == "invalid_request"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(authorize_query(launch="some-launch"), id="ehr-launch"),
        pytest.param(authorize_query(), id="no-patient-scope"),
        pytest.param(standalone_query(code_challenge_method="plain"), id="no-pkce-s256"),
        pytest.param(standalone_query(response_type="token"), id="implicit-flow"),
        pytest.param(standalone_query(aud="https://other.example/fhir"), id="other-aud"),
    ],
)
def test_no_choice_is_offered_for_a_request_that_is_refused_or_needs_none(
    server: DemoAuthorizationServer, query: dict[str, str]
) -> None:
    assert not server.needs_patient_choice(query, None)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(standalone_query(client_id="someone-else"), id="unknown-client"),
        pytest.param(
            standalone_query(redirect_uri="https://evil.example/callback"), id="other-redirect"
        ),
    ],
)
def test_an_unknown_client_or_redirect_is_refused_before_any_choice(
    server: DemoAuthorizationServer, query: dict[str, str]
) -> None:
    with pytest.raises(AuthorizationError) as refused:
        server.needs_patient_choice(query, None)
    assert refused.value.code == "invalid_request"
