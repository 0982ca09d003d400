"""SMART App Launch 2.0 for the detail app: EHR launch and standalone launch, code flow + PKCE.

    EHR:      GET /smart/launch?iss=<FHIR base>&launch=<opaque>
    app:      iss on the allow-list? -> GET {iss}/.well-known/smart-configuration
              -> 302 to its authorization_endpoint with state, PKCE S256 challenge, scopes, aud;
                 the browser gets a launch cookie (its binding) the state is bound to
    EHR:      GET /smart/callback?code=...&state=...   (the launch cookie comes along)
    app:      state known, unused and bound to this browser's launch cookie?
              -> POST token_endpoint with the code and the PKCE verifier
              -> the access token and the patient, kept server-side; the browser gets a cookie

The token, the verifier and the code never reach the page or a URL the app makes; `state` and
the verifier are single use. A launch is kept under its state joined to a digest of the browser
binding (RFC 6749 10.12, RFC 9700 4.7.1: the state ties the callback to the user agent), so a
callback link opened in another browser finds no launch: it is refused, opens no session and
leaves the launch for the browser that started it. The raw binding is never stored.
The app asks for no `openid` scope, so no ID token comes back and no OIDC nonce is needed;
PKCE (S256) binds the code to this launch's verifier.
Anything that does not fit is refused with `SmartLaunchRefused`, whose message says why
without echoing what was sent.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlencode

import httpx

from cds_service.errors import SmartLaunchRefused
from cds_service.settings import SmartSettings
from cds_service.storage.smart_records import PendingLaunch, SmartRecords, SmartSession

PKCE_METHOD = "S256"
SMART_CONFIGURATION = "/.well-known/smart-configuration"
# EHR launch asks for the EHR's context; a standalone launch asks the server to pick a patient.
EHR_LAUNCH_SCOPE = "launch"
STANDALONE_LAUNCH_SCOPE = "launch/patient"
# The app only reads a card type from `appContext`; anything longer is cut, not stored whole.
APP_CONTEXT_MAX = 256
# The launch cookie's value: 32 random bytes, base64url without padding (43 characters).
BROWSER_BINDING_BYTES = 32
BROWSER_BINDING_LENGTH = 43
BASE64URL_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def browser_binding(presented: str | None) -> str:
    """The launch cookie's value for a new launch: the browser's own if it has a well-formed
    one (a second tab's launch then does not orphan the first's while both are pending), else
    a new random one."""
    if _is_binding(presented):
        return presented
    return secrets.token_urlsafe(BROWSER_BINDING_BYTES)


def _is_binding(value: str | None) -> TypeGuard[str]:
    return (
        value is not None
        and len(value) == BROWSER_BINDING_LENGTH
        and set(value) <= BASE64URL_ALPHABET
    )


def _launch_key(state: str, binding: str) -> str:
    # Only a digest of the binding goes into the key (which the records hash once more): the
    # database never holds the cookie's value, and no state finds its launch without it.
    binding_digest = hashlib.sha256(binding.encode("ascii")).hexdigest()
    return f"{state}.{binding_digest}"


class SmartLauncher:
    """Starts and completes launches of the detail app."""

    def __init__(self, settings: SmartSettings, client: httpx.Client, records: SmartRecords):
        self._settings = settings
        self._client = client
        self._records = records
        self._allowed = frozenset(settings.allowed_issuers)

    def begin(self, iss: str, launch: str | None, redirect_uri: str, binding: str) -> str:
        """The authorize URL to send the browser to, its state bound to the browser's launch
        cookie value `binding`; refused for an issuer not allowed."""
        iss = iss.rstrip("/")
        if iss not in self._allowed:
            raise SmartLaunchRefused("this FHIR server (iss) is not allowed to launch the app")
        configuration = self._smart_configuration(iss)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
        self._records.remember_launch(
            _launch_key(state, binding),
            PendingLaunch(iss, configuration["token_endpoint"], verifier),
            datetime.now(UTC) + timedelta(minutes=self._settings.launch_minutes),
        )
        context_scope = STANDALONE_LAUNCH_SCOPE if launch is None else EHR_LAUNCH_SCOPE
        parameters = {
            "response_type": "code",
            "client_id": self._settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join((context_scope, *self._settings.read_scopes)),
            "state": state,
            "aud": iss,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        if launch is not None:
            parameters["launch"] = launch
        endpoint = configuration["authorization_endpoint"]
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(parameters)}"

    def complete(self, state: str, code: str, redirect_uri: str, binding: str | None) -> str:
        """Exchange the code for a token; the new session's id. Refused, before anything is
        used up, when the state is unknown, old, used or not this browser's (`binding`)."""
        if not _is_binding(binding):
            raise SmartLaunchRefused("this browser did not start this launch (no launch cookie)")
        # A binding that is not this state's finds no launch and so removes none.
        pending = self._records.take_launch(_launch_key(state, binding))
        if pending is None:
            raise SmartLaunchRefused(
                "this launch was not started in this browser, or it has expired or been used"
            )
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self._settings.client_id,
            "code_verifier": pending.code_verifier,
        }
        answer = self._post_form(pending.token_endpoint, form)
        token, patient = answer.get("access_token"), answer.get("patient")
        if not isinstance(token, str) or not token or not isinstance(patient, str) or not patient:
            raise SmartLaunchRefused("the EHR's token answer has no access token or no patient")
        lifetime = timedelta(minutes=self._settings.session_minutes)
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
            lifetime = min(lifetime, timedelta(seconds=expires_in))
        scope, app_context = answer.get("scope"), answer.get("appContext")
        banner = answer.get("need_patient_banner")
        return self._records.open_session(
            SmartSession(
                iss=pending.iss,
                patient=patient,
                access_token=token,
                scope=scope if isinstance(scope, str) else None,
                expires_at=datetime.now(UTC) + lifetime,
                # CDS Hooks: the launching card's `appContext` comes back in the token answer.
                app_context=app_context[:APP_CONTEXT_MAX] if isinstance(app_context, str) else None,
                need_patient_banner=banner if isinstance(banner, bool) else None,
            )
        )

    def session(self, session_id: str) -> SmartSession | None:
        """The launched session of this cookie value, or None."""
        return self._records.session(session_id) if session_id else None

    def _smart_configuration(self, iss: str) -> Mapping[str, Any]:
        document = self._get_json(iss + SMART_CONFIGURATION)
        endpoints = [document.get("authorization_endpoint"), document.get("token_endpoint")]
        if not all(isinstance(endpoint, str) and endpoint for endpoint in endpoints):
            raise SmartLaunchRefused("the FHIR server's SMART configuration has no endpoints")
        if PKCE_METHOD not in (document.get("code_challenge_methods_supported") or ()):
            raise SmartLaunchRefused("the FHIR server's SMART configuration does not offer PKCE")
        return document

    def _get_json(self, url: str) -> Mapping[str, Any]:
        try:
            response = self._client.get(
                url,
                headers={"Accept": "application/json"},
                timeout=self._settings.discovery_timeout_seconds,
            )
        except httpx.HTTPError:
            raise SmartLaunchRefused("the SMART configuration cannot be read") from None
        return _json_object(response, "SMART configuration")

    def _post_form(self, url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
        try:
            response = self._client.post(
                url,
                data=dict(form),
                headers={"Accept": "application/json"},
                timeout=self._settings.discovery_timeout_seconds,
            )
        except httpx.HTTPError:
            raise SmartLaunchRefused("the EHR's token endpoint cannot be reached") from None
        return _json_object(response, "token answer")


def _json_object(response: httpx.Response, what: str) -> Mapping[str, Any]:
    if response.status_code != 200:
        raise SmartLaunchRefused(f"the EHR answered {response.status_code} for the {what}")
    try:
        document = response.json()
    except ValueError:
        raise SmartLaunchRefused(f"the EHR's {what} is not JSON") from None
    if not isinstance(document, dict):
        raise SmartLaunchRefused(f"the EHR's {what} is not a JSON object")
    return document
