"""The demo EHR's SMART authorization server: launches, codes with PKCE, patient-bound tokens.

In a SMART EHR launch the EHR is the authorization server; the FHIR server of the test suite
(sekmet) only offers backend services, so the demo EHR plays this part itself, in front of it.
It approves every request of a registered client at once (the demo's user is always signed in
and consents), and is strict about everything else: the redirect URI registered for the
client, PKCE S256 with a verifier on every code, codes and launches used once, tokens bound to
one patient and expiring.

A launch from a card may carry the card link's `appContext` (CDS Hooks 2.0): it travels with
the launch into the code and comes back to the app in the token answer, as SMART App Launch
2.0 returns launch context. A standalone launch has none; its patient is picked by the user.

Nothing here is kept on disk: a restart of the demo forgets its launches and tokens.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from cds_service.smart.launch import (
    EHR_LAUNCH_SCOPE,
    PKCE_METHOD,
    STANDALONE_LAUNCH_SCOPE,
    code_challenge,
)

CODE_SECONDS = 60
TOKEN_SECONDS = 3600
LAUNCH_SECONDS = 600
# appContext arrives in a query string and is handed back in every token answer: bounded.
APP_CONTEXT_MAX_CHARS = 2000


class AuthorizationError(Exception):
    """An OAuth error (RFC 6749 5.2): `code` is the error code, the message its description."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class _LaunchContext:
    patient: str
    app_context: str | None


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    context: _LaunchContext
    scope: str
    challenge: str
    expires: float


@dataclass(frozen=True)
class IssuedToken:
    """An access token's patient and scopes."""

    patient: str
    scopes: frozenset[str]
    expires: float


@dataclass
class DemoAuthorizationServer:
    """Launch contexts, authorization codes and access tokens, in memory."""

    fhir_base_url: str
    # client_id -> its registered redirect URIs
    clients: Mapping[str, tuple[str, ...]]
    _launches: dict[str, tuple[_LaunchContext, float]] = field(default_factory=dict)
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, IssuedToken] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def smart_configuration(self, authorize_url: str, token_url: str) -> dict[str, object]:
        """`.well-known/smart-configuration` (SMART App Launch 2.0)."""
        return {
            "issuer": self.fhir_base_url,
            "authorization_endpoint": authorize_url,
            "token_endpoint": token_url,
            "grant_types_supported": ["authorization_code"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": [PKCE_METHOD],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": [EHR_LAUNCH_SCOPE, STANDALONE_LAUNCH_SCOPE, "patient/*.rs"],
            "capabilities": [
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "context-ehr-patient",
                "context-standalone-patient",
                "permission-patient",
                "permission-v2",
            ],
        }

    def create_launch(self, patient: str, app_context: str | None = None) -> str:
        """A launch id that stands for "this patient's chart is open", with any appContext."""
        if app_context is not None and len(app_context) > APP_CONTEXT_MAX_CHARS:
            raise AuthorizationError(
                "invalid_request", f"appContext is longer than {APP_CONTEXT_MAX_CHARS} characters"
            )
        launch = secrets.token_urlsafe(16)
        context = _LaunchContext(patient, app_context or None)
        with self._lock:
            self._launches[launch] = (context, time.monotonic() + LAUNCH_SECONDS)
        return launch

    def needs_patient_choice(
        self, query: Mapping[str, str], standalone_patient: str | None
    ) -> bool:
        """Whether a valid standalone request waits for the user to pick its patient."""
        self._registered_redirect(query)
        return (
            not standalone_patient
            and "launch" not in query
            and STANDALONE_LAUNCH_SCOPE in query.get("scope", "").split()
            and self._request_problem(query) is None
        )

    def authorize(self, query: Mapping[str, str], standalone_patient: str | None) -> str:
        """Where to send the browser: the client's redirect URI with a code, or an error."""
        redirect_uri = self._registered_redirect(query)
        state = query.get("state", "")

        def refuse(code: str, description: str) -> str:
            error = {"error": code, "error_description": description, "state": state}
            return f"{redirect_uri}?{urlencode(error)}"

        problem = self._request_problem(query)
        if problem is not None:
            return refuse(*problem)
        scopes = query.get("scope", "").split()
        context = self._context_for(query.get("launch"), scopes, standalone_patient)
        if context is None:
            return refuse("invalid_request", "no patient in context")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                query["client_id"],
                redirect_uri,
                context,
                " ".join(scopes),
                query["code_challenge"],
                time.monotonic() + CODE_SECONDS,
            )
        return f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"

    def _registered_redirect(self, query: Mapping[str, str]) -> str:
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if redirect_uri not in self.clients.get(client_id, ()):
            # Never redirect to an unregistered URI (RFC 6749 4.1.2.1): answered directly.
            raise AuthorizationError("invalid_request", "unknown client or redirect_uri")
        return redirect_uri

    def _request_problem(self, query: Mapping[str, str]) -> tuple[str, str] | None:
        if query.get("response_type") != "code":
            return "unsupported_response_type", "only the code flow is offered"
        if query.get("code_challenge_method") != PKCE_METHOD or not query.get("code_challenge"):
            return "invalid_request", "PKCE with S256 is required"
        if query.get("aud", "").rstrip("/") != self.fhir_base_url:
            return "invalid_request", "aud is not this FHIR server"
        return None

    def _context_for(
        self, launch: str | None, scopes: list[str], standalone_patient: str | None
    ) -> _LaunchContext | None:
        if launch is not None:
            with self._lock:
                found = self._launches.pop(launch, None)
            if found is None or found[1] < time.monotonic() or EHR_LAUNCH_SCOPE not in scopes:
                return None
            return found[0]
        if standalone_patient and STANDALONE_LAUNCH_SCOPE in scopes:
            return _LaunchContext(standalone_patient, None)
        return None

    def token(self, form: Mapping[str, str]) -> dict[str, object]:
        """The token answer for an authorization code; `AuthorizationError` otherwise."""
        if form.get("grant_type") != "authorization_code":
            raise AuthorizationError("unsupported_grant_type", "only authorization_code")
        verifier = form.get("code_verifier")
        if not verifier:
            raise AuthorizationError("invalid_request", "code_verifier is required (PKCE)")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.monotonic():
            raise AuthorizationError("invalid_grant", "unknown, used or expired code")
        if (
            form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            raise AuthorizationError("invalid_grant", "client or redirect_uri differ")
        if not secrets.compare_digest(code_challenge(verifier), grant.challenge):
            raise AuthorizationError("invalid_grant", "code_verifier does not match")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = IssuedToken(
                grant.context.patient,
                frozenset(grant.scope.split()),
                time.monotonic() + TOKEN_SECONDS,
            )
        answer: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "scope": grant.scope,
            "patient": grant.context.patient,
            # The app opens in a window of its own, with no banner of the EHR's around it.
            "need_patient_banner": True,
        }
        if grant.context.app_context is not None:
            answer["appContext"] = grant.context.app_context
        return answer

    def token_holder(self, token: str) -> IssuedToken | None:
        """Whom a bearer token was issued for, while it is valid."""
        with self._lock:
            issued = self._tokens.get(token)
        return issued if issued is not None and issued.expires > time.monotonic() else None
