"""Requests made exactly as the public CDS Hooks sandbox makes them, for the conformance tests.

Written from the sandbox's source (github.com/cds-hooks/sandbox, commit
3b7e25546771c6e7fc5e360aa7db6eb64af0b8b6), apart from the service's own code, as a client's
would be. Each fact names the file it comes from (paths in that repository).

Tokens (`src/retrieve-data-helpers/jwt-generator.js`):
- header `{alg: "ES384", typ: "JWT", kid: "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f",
  jku: "https://sandbox.cds-hooks.org/.well-known/jwks.json"}`;
- claims `{iss: "https://sandbox.cds-hooks.org", aud, exp: iat + 300, iat, jti: uuid v4}`, and
  nothing else: no `sub`, no `tenant`;
- signed with `keys/ecprivkey.pem`, the P-384 key whose pair is `keys/jwk-keypair.json` and whose
  public half is `build/.well-known/jwks.json` (kept here in tests/data/cds_hooks_sandbox/);
- `aud` is the URL being called: the discovery URL the user typed
  (`discovery-services-retrieval.js`), `{discovery URL}/{service id}` for a hook call
  (`service-exchange.js`, the service URL from `src/reducers/cds-services-reducers.js`), and
  `{service URL}/feedback` for feedback (`src/components/CardList/card-list.jsx`).

Calls (axios 1.x from the browser, so each is cross-origin and preflighted):
- discovery: `GET` with `Accept: application/json` and `Authorization: Bearer <jwt>`
  (`discovery-services-retrieval.js`);
- hook call: `POST` of a JSON object (axios sets `Content-Type: application/json`) with
  `Accept: application/json` and the Bearer JWT (`service-exchange.js`);
- feedback: `POST` with `Content-Type: application/json` and the Bearer JWT, body
  `{feedback: [one entry]}` (`card-list.jsx`, `sendFeedback`).

The hook request (`service-exchange.js`, `callServices`): `hookInstance` (uuid v4), `hook`,
`fhirServer` (always), `context` `{patientId, userId}` (`patient-view` adds nothing:
`src/components/PatientView/patient-view.jsx`, `generateContext: () => ({})`), `prefetch` only
when some key resolved, and `fhirAuthorization` only when the sandbox itself was SMART-launched:
`{access_token, token_type: "Bearer", expires_in, scope: "patient/*.* user/*.* launch openid
profile online_access", subject: "48163c5e-88b5-4cb3-92d3-23b800caa927"}` (scope and subject
from `src/config/fhir-config.js`; no `patient` member).

Prefetch (`service-exchange.js`, `prefetchDataPromises`): tokens are filled from the context
(`{{context.patientId}}` and the like); a template with a token left unfilled is skipped. A
template without `?` is an instance read, `GET {fhir}/{path}`. A search is `POST
{fhir}/{type}/_search` with the query as an `application/x-www-form-urlencoded` body, and only
if that POST fails, `GET {fhir}/{type}?{query}`. Every FHIR read sends `Accept:
application/json+fhir` (the DSTU2 media type) and, when SMART-launched, the Bearer access token.
A key whose reads all fail, or whose answer is empty, is left out of `prefetch`.

Feedback bodies (`card-list.jsx`): on a suggestion taken (only when the suggestion has a `uuid`
and a `label`), `{card: <card uuid>, outcome: "accepted", acceptedSuggestions: [{id: <suggestion
uuid>}], outcomeTimestamp}`; on dismiss, `{card, outcome: "overridden", outcomeTimestamp}`, plus
`overrideReason: {reason: {code, system}}` when a reason was picked (`system` only if the reason
has one; no `display`, no `userComment`). `outcomeTimestamp` is `new Date().toISOString()`:
UTC with milliseconds and `Z`.

Not exercised by the tests, written down for the docs:
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
  (`src/components/CardList/card-list.jsx`, `remapUrl`). The sandbox asks for every card's
  `smart` links after every call, with the access token only when it has one
  (`service-exchange.js`, `remapSmartLinks`).
- It holds an access token only when launched through its `launch.html` by a SMART EHR, as the
  client `src/config/fhir-config.js` names for the old "CDS Hooks DSTU2 HSPC Sandbox"; its
  `fhirServer` is then the launching server (`fhir-server-reducers.js`, `SMART_AUTH_SUCCESS`).
- `iat` and `exp` are `Math.round`ed seconds, so `iat` may be half a second ahead of the clock.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import jwt

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_ALGORITHM = "ES384"
TOKEN_LIFETIME_SECONDS = 300
# src/config/fhir-config.js: the sandbox's client id at its HSPC (DSTU2) launch, and its scopes.
SANDBOX_CLIENT_ID = "48163c5e-88b5-4cb3-92d3-23b800caa927"
SANDBOX_SCOPES = "patient/*.* user/*.* launch openid profile online_access"
# src/reducers/patient-reducers.js: the user the sandbox puts in context by default.
SANDBOX_DEFAULT_USER = "Practitioner/COREPRACTITIONER1"
# The DSTU2 media type the sandbox still asks its FHIR server for.
SANDBOX_FHIR_ACCEPT = "application/json+fhir"
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
SIGNING_KEY_FILE = Path(__file__).parent / "data" / "cds_hooks_sandbox" / "signing-key.json"
_TOKEN = re.compile(r"\{\{[^}]+}}")
_CONTEXT_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*}}")


def sandbox_signing_key() -> dict[str, Any]:
    """The sandbox's published private JWK (see the file's `_source`)."""
    key: dict[str, Any] = json.loads(SIGNING_KEY_FILE.read_text(encoding="utf-8"))["key"]
    return key


def sandbox_jwt(audience: str) -> str:
    """A token as jwt-generator.js makes it for a call of `audience`."""
    # Math.round, as the sandbox does: `iat` may be up to half a second ahead of the clock.
    now = round(time.time())
    claims = {
        "iss": SANDBOX_ISSUER,
        "aud": audience,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": SANDBOX_ALGORITHM, "typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU}
    key = jwt.PyJWK(sandbox_signing_key(), algorithm=SANDBOX_ALGORITHM).key
    return jwt.api_jws.encode(
        json.dumps(claims).encode(), key, algorithm=SANDBOX_ALGORITHM, headers=header
    )


def sandbox_timestamp() -> str:
    """`new Date().toISOString()`: UTC, milliseconds, `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The request headers a browser names in a preflight: the ones not CORS-safelisted, lowercased
# and sorted (Fetch standard, "CORS-unsafe request-header names"). `Accept: application/json`
# is safelisted; `Content-Type: application/json` and `Authorization` are not.
DISCOVERY_PREFLIGHT_HEADERS = "authorization"
POST_PREFLIGHT_HEADERS = "authorization,content-type"


def preflight(client: httpx.Client, url: str, method: str, request_headers: str) -> httpx.Response:
    """The `OPTIONS` a browser sends before a cross-origin call from the sandbox's page."""
    return client.options(
        url,
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": request_headers,
        },
    )


def preflight_refusal(response: httpx.Response, method: str, request_headers: str) -> str | None:
    """Why a browser would refuse the call after this preflight answer, or None when it allows
    it (the Fetch standard's CORS-preflight fetch, for a request without credentials)."""
    if not 200 <= response.status_code < 300:
        return f"preflight status {response.status_code}"
    if response.headers.get("Access-Control-Allow-Origin") not in (SANDBOX_ORIGIN, "*"):
        return "no Access-Control-Allow-Origin for the sandbox"
    methods = _header_list(response, "Access-Control-Allow-Methods")
    # GET, HEAD and POST are CORS-safelisted methods: a browser needs them in no list.
    if method not in ("GET", "HEAD", "POST") and method not in methods and "*" not in methods:
        return f"method {method} not allowed"
    allowed = {name.lower() for name in _header_list(response, "Access-Control-Allow-Headers")}
    for name in request_headers.split(","):
        # A "*" never covers Authorization (Fetch standard).
        if name not in allowed and not ("*" in allowed and name != "authorization"):
            return f"request header {name} not allowed"
    return None


def response_refusal(response: httpx.Response) -> str | None:
    """Why a browser would hide this cross-origin answer from the sandbox's script, or None."""
    if response.headers.get("Access-Control-Allow-Origin") not in (SANDBOX_ORIGIN, "*"):
        return "no Access-Control-Allow-Origin for the sandbox"
    return None


def _header_list(response: httpx.Response, name: str) -> list[str]:
    return [item.strip() for item in response.headers.get(name, "").split(",") if item.strip()]


@dataclass
class PrefetchResolution:
    """What the sandbox sent as `prefetch`, and each FHIR read it made (method, URL, status)."""

    prefetch: dict[str, Any] = field(default_factory=dict)
    reads: list[tuple[str, str, int]] = field(default_factory=list)


def resolve_prefetch(
    fhir_base: str,
    templates: dict[str, str],
    context: dict[str, str],
    access_token: str | None,
) -> PrefetchResolution:
    """Each template resolved as `prefetchDataPromises` does: instance reads by GET, searches by
    POST `_search` with a form body, then GET only if the POST failed; failed keys left out."""
    headers = {"Accept": SANDBOX_FHIR_ACCEPT}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    resolution = PrefetchResolution()
    with httpx.Client(headers=headers, timeout=30) as fhir:

        def read(method: str, url: str, **options: Any) -> dict[str, Any] | None:
            response = fhir.request(method, url, **options)
            resolution.reads.append((method, url, response.status_code))
            # axios rejects any status outside 2xx; the sandbox then logs and moves on.
            if not response.is_success:
                return None
            body = response.json()
            return body if isinstance(body, dict) and body else None

        for key, template in templates.items():
            query = _filled(template, context)
            if _TOKEN.search(query):
                continue
            path, _, search = query.partition("?")
            if not search:
                result = read("GET", f"{fhir_base}/{path}")
            else:
                form = urlencode(parse_qsl(search, keep_blank_values=True))
                result = read(
                    "POST",
                    f"{fhir_base}/{path}/_search",
                    content=form,
                    headers={"Content-Type": FORM_TYPE},
                )
                if result is None and resolution.reads[-1][2] >= 300:
                    result = read("GET", f"{fhir_base}/{path}?{form}")
            if result is not None:
                resolution.prefetch[key] = result
    return resolution


def _filled(template: str, context: dict[str, str]) -> str:
    # replaceContextTokens: a token naming no context member stays, and the key is skipped.
    return _CONTEXT_TOKEN.sub(lambda token: context.get(token[1], token[0]), template)


def sandbox_fhir_authorization(access_token: str, expires_in: int) -> dict[str, Any]:
    """`fhirAuthorization` as a SMART-launched sandbox sends it."""
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": SANDBOX_SCOPES,
        "subject": SANDBOX_CLIENT_ID,
    }


def patient_view_request(
    fhir_server: str,
    patient_id: str,
    prefetch: dict[str, Any],
    fhir_authorization: dict[str, Any] | None = None,
    user_id: str = SANDBOX_DEFAULT_USER,
) -> dict[str, Any]:
    """The body of a `patient-view` call as `callServices` builds it."""
    request: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "fhirServer": fhir_server,
        "context": {"patientId": patient_id, "userId": user_id},
    }
    if fhir_authorization is not None:
        request["fhirAuthorization"] = fhir_authorization
    if prefetch:
        request["prefetch"] = prefetch
    return request


def accepted_feedback(card_uuid: str, suggestion_uuid: str) -> dict[str, Any]:
    """The body `takeSuggestion` posts when a suggestion is taken."""
    entry = {
        "card": card_uuid,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion_uuid}],
        "outcomeTimestamp": sandbox_timestamp(),
    }
    return {"feedback": [entry]}


def overridden_feedback(card_uuid: str, reason: dict[str, Any] | None) -> dict[str, Any]:
    """The body `dismissCard` posts, with the override reason picked from the card (if any)."""
    entry: dict[str, Any] = {
        "card": card_uuid,
        "outcome": "overridden",
        "outcomeTimestamp": sandbox_timestamp(),
    }
    if reason is not None and reason.get("code"):
        coding = {"code": reason["code"]}
        if reason.get("system"):
            coding["system"] = reason["system"]
        entry["overrideReason"] = {"reason": coding}
    return {"feedback": [entry]}


class BrowserRefused(Exception):
    """The browser would not let the sandbox's script make a call or read its answer (CORS):
    the script sees only a network error."""


def sandbox_fetch(
    client: httpx.Client,
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    *,
    accept_json: bool = True,
) -> httpx.Response:
    """One call as the sandbox's page makes it: the browser's preflight, then the call with a
    fresh token for exactly `url`; its answer, or BrowserRefused as the browser would."""
    request_headers = POST_PREFLIGHT_HEADERS if body is not None else DISCOVERY_PREFLIGHT_HEADERS
    refusal = preflight_refusal(
        preflight(client, url, method, request_headers), method, request_headers
    )
    if refusal is not None:
        raise BrowserRefused(f"{method} {url}: {refusal}")
    headers = {"Origin": SANDBOX_ORIGIN, "Authorization": f"Bearer {sandbox_jwt(url)}"}
    # Discovery and hook calls send `Accept: application/json`; feedback sends none (its
    # `accept_json=False`), so httpx's `*/*` stands for the browser's default.
    if accept_json:
        headers["Accept"] = JSON_TYPE
    if body is None:
        response = client.request(method, url, headers=headers)
    else:
        headers["Content-Type"] = JSON_TYPE
        response = client.request(method, url, headers=headers, content=json.dumps(body))
    refusal = response_refusal(response)
    if refusal is not None:
        raise BrowserRefused(f"{method} {url} answered {response.status_code}: {refusal}")
    return response
