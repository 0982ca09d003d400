"""CDS Hooks JWT verification, through real HTTP against `cdss serve`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from conftest import ALLOWED_TENANT, TENANT_ISSUER, TRUSTED_ISSUER, Mint, patient_view_request
from cryptography.hazmat.primitives import serialization
from hook_calls import HIGH_BMI, diabetes_cards
from support import CdssServer, KeySetPublisher

from cds_service.auth.signing import generate_signing_key, sign_cds_token

HOOK_PATH = "/cds-services/diabetes-risk"


def _claims(server: CdssServer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": TRUSTED_ISSUER,
        "aud": server.base_url + HOOK_PATH,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(key: dict[str, Any], claims: dict[str, Any], **header: Any) -> str:
    # Signs the claims as raw JWS: jwt.encode would refuse claims of the wrong type, and an
    # attacker's token is under no such rule.
    headers = {"kid": key["kid"], "typ": "JWT", **header}
    signing_key = jwt.PyJWK(key, algorithm=key["alg"]).key
    payload = json.dumps(claims).encode()
    return jwt.api_jws.encode(payload, signing_key, algorithm=key["alg"], headers=headers)


def _call(http: httpx.Client, server: CdssServer, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return http.post(server.base_url + HOOK_PATH, json=patient_view_request(), headers=headers)


@pytest.mark.parametrize("algorithm", ["ES384", "RS384", "ES256", "RS256", "ES512", "RS512"])
def test_tokens_signed_with_allowed_algorithms_are_accepted(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint, algorithm: str
) -> None:
    token = mint(cdss_server, HOOK_PATH, algorithm=algorithm)

    assert _call(http, cdss_server, token).status_code == 200


def _none_algorithm(server: CdssServer, keys: dict[str, dict[str, Any]]) -> str:
    return jwt.encode(_claims(server), None, algorithm="none", headers={"kid": "ehr-es384"})


def _hmac_with_public_key(server: CdssServer, keys: dict[str, dict[str, Any]]) -> str:
    # The classic key-confusion attack: the verifier's public key used as an HMAC secret.
    public_pem = (
        jwt.PyJWK(keys["RS384"], algorithm="RS384")
        .key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "ehr-rs384"}
    signing_input = ".".join(
        jwt.utils.base64url_encode(part).decode()
        for part in (
            json.dumps(header).encode(),
            json.dumps(_claims(server)).encode(),
        )
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + jwt.utils.base64url_encode(signature).decode()


REFUSED_TOKENS: dict[str, Callable[[CdssServer, dict[str, dict[str, Any]]], str]] = {
    "none algorithm": _none_algorithm,
    "HMAC with the public key as secret": _hmac_with_public_key,
    "wrong aud": lambda s, k: _sign(
        k["ES384"], _claims(s, aud=s.base_url + "/cds-services/note-summary")
    ),
    "aud without path": lambda s, k: _sign(k["ES384"], _claims(s, aud=s.base_url)),
    "expired": lambda s, k: _sign(k["ES384"], _claims(s, exp=int(time.time()) - 120)),
    "issued in the future": lambda s, k: _sign(k["ES384"], _claims(s, iat=int(time.time()) + 600)),
    "not yet valid (nbf)": lambda s, k: _sign(k["ES384"], _claims(s, nbf=int(time.time()) + 600)),
    "unknown iss": lambda s, k: _sign(k["ES384"], _claims(s, iss="https://evil.example.test")),
    "unknown kid": lambda s, k: _sign(k["ES384"], _claims(s), kid="no-such-key"),
    "no kid": lambda s, k: jwt.encode(
        _claims(s), jwt.PyJWK(k["ES384"]).key, algorithm="ES384", headers={"typ": "JWT"}
    ),
    "kid of another algorithm's key": lambda s, k: _sign(k["ES384"], _claims(s), kid="ehr-rs384"),
    # A kid the pinned set lacks sends the verifier to the jku, which must be on the allow-list
    # (a pinned kid is verified by the pinned key whatever jku it names: test_sandbox_trust.py).
    "unpinned kid at a jku not allowed": lambda s, k: _sign(
        generate_signing_key("ES384", kid="unpinned"),
        _claims(s),
        jku="https://evil.example.test/jwks.json",
    ),
    "missing iss": lambda s, k: _sign(k["ES384"], _claims(s, iss=None)),
    "missing aud": lambda s, k: _sign(k["ES384"], _claims(s, aud=None)),
    "missing exp": lambda s, k: _sign(k["ES384"], _claims(s, exp=None)),
    "missing iat": lambda s, k: _sign(k["ES384"], _claims(s, iat=None)),
    "missing jti": lambda s, k: _sign(k["ES384"], _claims(s, jti=None)),
    "signed by an unknown key with a trusted kid": lambda s, k: _sign(
        generate_signing_key("ES384", kid="ehr-es384"), _claims(s)
    ),
    "tampered claims": lambda s, k: _tampered(_sign(k["ES384"], _claims(s))),
    "not a JWT": lambda s, k: "not.a.token",
    "tenant not allowed": lambda s, k: _sign(
        k["ES384"], _claims(s, iss=TENANT_ISSUER, tenant="other")
    ),
    "tenant missing where required": lambda s, k: _sign(k["ES384"], _claims(s, iss=TENANT_ISSUER)),
    "iss not a string": lambda s, k: _sign(k["ES384"], _claims(s, iss=[TRUSTED_ISSUER])),
    "jku not a string": lambda s, k: _sign(k["ES384"], _claims(s), jku=["https://x.example.test"]),
    "tenant not a string": lambda s, k: _sign(
        k["ES384"], _claims(s, iss=TENANT_ISSUER, tenant=[ALLOWED_TENANT])
    ),
    "exp not a number": lambda s, k: _sign(k["ES384"], _claims(s, exp="tomorrow")),
    "lifetime over the limit": lambda s, k: _sign(
        k["ES384"], _claims(s, exp=int(time.time()) + 2 * 86400)
    ),
    "exp absurdly far": lambda s, k: _sign(k["ES384"], _claims(s, exp=10**20)),
    "jti too long": lambda s, k: _sign(k["ES384"], _claims(s, jti="j" * 256)),
    "jti with a NUL character": lambda s, k: _sign(k["ES384"], _claims(s, jti="a\x00b")),
}


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["iss"] = TRUSTED_ISSUER + "/other"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("case", sorted(REFUSED_TOKENS))
def test_bad_tokens_get_a_bare_401(
    cdss_server: CdssServer, http: httpx.Client, signing_keys: dict[str, dict[str, Any]], case: str
) -> None:
    token = REFUSED_TOKENS[case](cdss_server, signing_keys)

    response = _call(http, cdss_server, token)

    assert response.status_code == 401
    assert response.content == b""


def test_missing_token_gets_401(cdss_server: CdssServer, http: httpx.Client) -> None:
    assert _call(http, cdss_server, None).status_code == 401
    response = http.post(
        cdss_server.base_url + HOOK_PATH,
        json=patient_view_request(),
        headers={"Authorization": "Basic abc"},
    )
    assert response.status_code == 401


def test_replayed_token_is_refused(cdss_server: CdssServer, http: httpx.Client, mint: Mint) -> None:
    token = mint(cdss_server, HOOK_PATH)

    assert _call(http, cdss_server, token).status_code == 200
    # The second use may land on the other worker: the replay store is shared.
    assert [_call(http, cdss_server, token).status_code for _ in range(4)] == [401] * 4


def test_token_for_the_allowed_tenant_is_accepted(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    token = mint(cdss_server, HOOK_PATH, issuer=TENANT_ISSUER, tenant=ALLOWED_TENANT)

    assert _call(http, cdss_server, token).status_code == 200


def test_sub_and_nbf_are_accepted_never_required(
    cdss_server: CdssServer, http: httpx.Client, signing_keys: dict[str, dict[str, Any]]
) -> None:
    now = int(time.time())
    token = _sign(signing_keys["ES384"], _claims(cdss_server, sub="client-id", nbf=now - 5))

    assert _call(http, cdss_server, token).status_code == 200


def test_key_from_an_allowed_jku_is_fetched_and_used(
    cdss_server: CdssServer,
    http: httpx.Client,
    rotated_key: dict[str, Any],
    key_publisher: KeySetPublisher,
) -> None:
    token = sign_cds_token(
        rotated_key,
        issuer=TRUSTED_ISSUER,
        audience=cdss_server.base_url + HOOK_PATH,
        jku=key_publisher.url,
    )

    assert _call(http, cdss_server, token).status_code == 200


def test_rotated_key_is_not_trusted_without_its_jku(
    cdss_server: CdssServer, http: httpx.Client, rotated_key: dict[str, Any]
) -> None:
    # Its kid is not in the pinned key set, and no jku says where else to look.
    token = sign_cds_token(
        rotated_key, issuer=TRUSTED_ISSUER, audience=cdss_server.base_url + HOOK_PATH
    )

    assert _call(http, cdss_server, token).status_code == 401


def test_feedback_requires_a_token_for_its_own_url(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    feedback_path = HOOK_PATH + "/feedback"
    # A card issued to this caller: feedback is taken only for those.
    (card, *_) = diabetes_cards(cdss_server, mint, "pat-auth-feedback", HIGH_BMI)
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-02T03:04:05Z",
            }
        ]
    }

    assert http.post(cdss_server.base_url + feedback_path, json=body).status_code == 401
    hook_token = mint(cdss_server, HOOK_PATH)
    wrong_audience = http.post(
        cdss_server.base_url + feedback_path,
        json=body,
        headers={"Authorization": f"Bearer {hook_token}"},
    )
    assert wrong_audience.status_code == 401
    token = mint(cdss_server, feedback_path)
    ok = http.post(
        cdss_server.base_url + feedback_path,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 200


def test_tokens_never_reach_the_log(
    cdss_server: CdssServer, http: httpx.Client, mint: Mint
) -> None:
    token = mint(cdss_server, HOOK_PATH)
    _call(http, cdss_server, token)
    _call(http, cdss_server, token)  # refused as a replay, which is logged

    log = cdss_server.log_file.read_text()
    assert "refused a caller" in log
    assert token not in log
    assert token.split(".")[2] not in log
