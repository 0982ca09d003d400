"""Signing keys and CDS Hooks JWTs for a local EHR, a demo or a load test: what an EHR does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_service.settings import SIGNING_ALGORITHMS

_CURVES: Mapping[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "n", "e", "kid", "alg", "use")


def generate_signing_key(algorithm: str = "ES384", kid: str | None = None) -> dict[str, Any]:
    """A new private JWK for one of the allowed algorithms."""
    if algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if algorithm.startswith("ES"):
        private = ec.generate_private_key(_CURVES[algorithm])
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private))
    else:
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private_rsa))
    jwk.update({"kid": kid or str(uuid.uuid4()), "alg": algorithm, "use": "sig"})
    return jwk


def public_key_set(*private_jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The JWK Set an EHR publishes: the public halves of its keys."""
    return {"keys": [{k: v for k, v in jwk.items() if k in PUBLIC_MEMBERS} for jwk in private_jwks]}


def sign_cds_token(
    private_jwk: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    lifetime_seconds: int = 300,
    tenant: str | None = None,
    jku: str | None = None,
) -> str:
    """A CDS Hooks JWT for one call of `audience` (the exact URL)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": str(uuid.uuid4()),
    }
    if tenant is not None:
        claims["tenant"] = tenant
    headers: dict[str, Any] = {"kid": private_jwk["kid"], "typ": "JWT"}
    if jku is not None:
        headers["jku"] = jku
    key = jwt.PyJWK(dict(private_jwk), algorithm=private_jwk["alg"])
    return jwt.encode(claims, key.key, algorithm=private_jwk["alg"], headers=headers)
