"""The SMART launcher's protocol, as smart-launcher-v2's backend speaks it: its launch options
codec, its OAuth errors, its signed codes and tokens, its authorize checks and its SMART
configuration. Each part names the source file it follows (github.com/smart-on-fhir/
smart-launcher-v2 at 64374254, mirrored under /work/.mirror); tests/smart_launcher.py serves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

FHIR_RELEASE = "r4"
# backend/config.ts `jwtSecret` (no SECRET variable set): codes and access tokens are HS256.
LAUNCHER_SECRET = "this is a secret"
# backend/config.ts `accessTokenLifetime` (minutes); authorize.ts signs codes for 5 minutes.
ACCESS_TOKEN_MINUTES = 60
CODE_SECONDS = 5 * 60
# src/isomorphic/codec.ts: the launch options travel as indexes into these lists.
LAUNCH_TYPES = (
    "provider-ehr",
    "patient-portal",
    "provider-standalone",
    "patient-standalone",
    "backend-service",
)
CLIENT_TYPES = ("public", "confidential-symmetric", "confidential-asymmetric", "backend-service")
PKCE_VALIDATION = ("none", "auto", "always")
# LaunchOptions.ts `encounter`: pick the most recent, show the picker, or none at all.
AUTO, MANUAL, NO_ENCOUNTER = "AUTO", "MANUAL", "NONE"


@dataclass(frozen=True)
class LaunchOptions:
    """What the launcher's page puts in `launch` (EHR launch) or the `sim` path segment
    (standalone launch): src/isomorphic/LaunchOptions.ts, in codec.ts's positional form."""

    launch_type: str = "provider-ehr"
    patient: str = ""  # comma-separated ids (List.ts)
    provider: str = ""
    encounter: str = AUTO
    skip_login: bool = False
    skip_auth: bool = False
    sim_ehr: bool = False
    scope: str = ""
    redirect_uris: str = ""
    client_id: str = ""
    client_secret: str = ""
    auth_error: str = ""
    jwks_url: str = ""
    jwks: str = ""
    client_type: str = "public"
    pkce: str = "auto"
    fhir_server: str = ""

    def encode(self) -> str:
        """codec.ts `encode`: a JSON array, base64url without padding."""
        values = asdict(self)
        values["launch_type"] = LAUNCH_TYPES.index(self.launch_type)
        values["encounter"] = self.encounter or AUTO
        for flag in ("skip_login", "skip_auth"):
            values[flag] = int(values[flag])
        values["sim_ehr"] = int(self.sim_ehr and "standalone" not in self.launch_type)
        values["client_type"] = CLIENT_TYPES.index(self.client_type)
        values["pkce"] = PKCE_VALIDATION.index(self.pkce)
        text = json.dumps(list(values.values()), separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    @classmethod
    def decode(cls, code: str) -> LaunchOptions:
        """codec.ts `decode` of the array form (the only one the launcher's page makes)."""
        values = json.loads(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
        if not isinstance(values, list) or not 0 <= values[0] < len(LAUNCH_TYPES):
            raise ValueError("Invalid launch type")
        names = list(cls.__dataclass_fields__)
        decoded: dict[str, Any] = {name: values[i] or "" for i, name in enumerate(names)}
        decoded["launch_type"] = LAUNCH_TYPES[values[0]]
        for flag in ("skip_login", "skip_auth", "sim_ehr"):
            decoded[flag] = values[names.index(flag)] == 1
        decoded["client_type"] = CLIENT_TYPES[values[14]]
        decoded["pkce"] = PKCE_VALIDATION[values[15]]
        return cls(**decoded)

    @property
    def patients(self) -> list[str]:
        """List.ts `set`: split on commas, trimmed, empties dropped."""
        return [part.strip() for part in self.patient.split(",") if part.strip()]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, document: dict[str, Any], *extra: tuple[str, str]) -> Reply:
    return Reply(
        status, json.dumps(document).encode(), (("Content-Type", "application/json"), *extra)
    )


def redirect(url: str) -> Reply:
    return Reply(302, b"", (("Location", url),))  # Express `res.redirect`: 302


def with_query(url: str, **values: str) -> str:
    """URLSearchParams `set` on a URL: the query re-serialised as a form, keys replaced."""
    split = urlsplit(url)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    query.update(values)
    return urlunsplit(split._replace(query=urlencode(query)))


class OAuthFailure(Exception):
    """backend/errors.ts OAuthError: a redirect to `redirect_uri` with `error` unless a status
    other than 302 is given or there is no redirect_uri, then JSON."""

    def __init__(self, error: str, description: str, status: int = 302) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def reply(self, params: dict[str, str]) -> Reply:
        """OAuthError.render."""
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri and self.status == 302:
            back = {"error": self.error, "error_description": self.description}
            if params.get("state"):
                back["state"] = params["state"]
            return redirect(with_query(redirect_uri, **back))
        status = 400 if self.status == 302 else self.status
        return json_reply(status, {"error": self.error, "error_description": self.description})


def form_bool(value: str | None) -> bool:
    """backend/lib.ts `bool`: anything but 0, no, false, off, null, undefined, NaN or empty."""
    return re.fullmatch(r"(?i)0|no|false|off|null|undefined|nan|", (value or "").strip()) is None


def pkce_challenge(verifier: str) -> str:
    """token.ts: base64url of the verifier's SHA-256, without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(claims: dict[str, Any], seconds: int) -> str:
    """jsonwebtoken's `jwt.sign(claims, config.jwtSecret, { expiresIn })`: HS256 with `iat` and
    `exp`. By hand, as PyJWT warns of the launcher's 16-byte secret."""
    now = int(time.time())
    header = _base64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _base64url(json.dumps({**claims, "iat": now, "exp": now + seconds}).encode())
    signature = hmac.new(LAUNCHER_SECRET.encode(), f"{header}.{payload}".encode(), "sha256")
    return f"{header}.{payload}.{_base64url(signature.digest())}"


def verify(token: str) -> dict[str, Any]:
    """jsonwebtoken's `jwt.verify(token, config.jwtSecret)`: the claims, or ValueError."""
    header, payload, signature = [*token.split("."), "", ""][:3]
    expected = hmac.new(LAUNCHER_SECRET.encode(), f"{header}.{payload}".encode(), "sha256")
    if not hmac.compare_digest(_base64url(expected.digest()), signature):
        raise ValueError("invalid signature")
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    if claims.get("exp", 0) <= time.time():
        raise ValueError("jwt expired")
    return claims


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def validate_authorize_request(params: dict[str, str], options: LaunchOptions, api: str) -> None:
    """authorize.ts validateAuthorizeRequest."""
    if params.get("auth_success") == "0":
        raise OAuthFailure("invalid_request", "Unauthorized", 401)
    if "redirect_uri" not in params:
        raise OAuthFailure("invalid_request", "Missing redirect_uri parameter", 400)
    if "aud" not in params:
        raise OAuthFailure("invalid_request", "Missing aud parameter")
    # "The aud param must match the apiUrl (but can have different protocol)". Both become
    # https; the source then sets the audience's host to the API's own (a slip that leaves
    # the host unchecked), so port, path and query must match, a trailing slash included.
    aud = urlsplit(params["aud"])
    if aud.scheme not in ("http", "https") or not aud.netloc:
        raise OAuthFailure("invalid_request", f'Bad audience value "{params["aud"]}".')
    expected = urlsplit(api)
    if (aud.port, aud.path or "/", aud.query) != (expected.port, expected.path, expected.query):
        raise OAuthFailure("invalid_request", f'Bad audience value. Expected "{api}".')
    if options.pkce != "none" and (params.get("code_challenge_method") or options.pkce == "always"):
        if params.get("code_challenge_method") != "S256":
            raise OAuthFailure("invalid_request", "Invalid code_challenge_method. Must be S256.")
        if not params.get("code_challenge"):
            raise OAuthFailure("invalid_request", "Missing code_challenge parameter")


def authorization_code(
    base: str, params: dict[str, str], options: LaunchOptions, scope: set[str]
) -> str:
    """authorize.ts createAuthCode: the launch context the token answer will spread."""
    context: dict[str, Any] = {
        "need_patient_banner": not options.sim_ehr,
        "smart_style_url": base + "/smart-style.json",
    }
    if len(options.patients) == 1 and scope & {"launch", "launch/patient"}:
        context["patient"] = options.patients[0]
    if (
        options.encounter
        and options.encounter != NO_ENCOUNTER
        and scope & {"launch", "launch/encounter"}
    ):
        context["encounter"] = options.encounter
    code = {
        "context": context,
        "client_id": params.get("client_id"),
        "redirect_uri": params["redirect_uri"],
        "scope": params.get("scope"),
        "pkce": options.pkce,
        "client_type": options.client_type,
    }
    if params.get("code_challenge_method"):
        code |= {k: params.get(k) for k in ("code_challenge_method", "code_challenge")}
    return sign({k: v for k, v in code.items() if v is not None}, CODE_SECONDS)


def smart_configuration(prefix: str) -> dict[str, Any]:
    """backend/routes/fhir/.well-known/smart-configuration.ts (undefined members left out)."""
    origin = prefix.split("/v/")[0]
    return {
        "issuer": f"{prefix}/fhir",
        "jwks_uri": f"{origin}/keys",
        "authorization_endpoint": f"{prefix}/auth/authorize",
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint": f"{prefix}/auth/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "introspection_endpoint": f"{prefix}/auth/introspect",
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [
            "openid",
            "profile",
            "fhirUser",
            "launch",
            "launch/patient",
            "launch/encounter",
            "patient/*.*",
            "user/*.*",
            "offline_access",
        ],
        "response_types_supported": [
            "code",
            "token",
            "id_token",
            "token id_token",
            "refresh_token",
        ],
        "capabilities": [
            "launch-ehr",
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "sso-openid-connect",
            "context-passthrough-banner",
            "context-passthrough-style",
            "context-ehr-patient",
            "context-ehr-encounter",
            "context-standalone-patient",
            "context-standalone-encounter",
            "permission-offline",
            "permission-patient",
            "permission-user",
            "permission-v1",
            "permission-v2",
            "authorize-post",
        ],
    }
