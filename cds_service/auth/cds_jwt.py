"""Verification of the bearer JWT a CDS client sends with every call (CDS Hooks 2.0, Security).

The checks follow the specification's best practice, in its order: the issuer is on the
allow-list, the audience is the exact URL called, the token is current, the tenant is allowed,
the signature verifies with the issuer's key (asymmetric algorithms only), and the token id has
not been seen before. Every failure is an `AuthenticationFailed` whose message goes to the log
and never to the caller; no message quotes the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from cds_service.auth.key_sets import CURVE_OF_ALGORITHM, KeySource
from cds_service.errors import AuthenticationFailed
from cds_service.settings import SIGNING_ALGORITHMS
from cds_service.storage.stores import TokenUse

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
LOGGED_VALUE_LIMIT = 80
# The replay store's column width (cds_service.storage.tables.jwt_replay).
JTI_MAX_LENGTH = 255


class ReplayGuard(Protocol):
    """Knows the token ids already used; see `cds_service.storage.stores.ReplayStore`."""

    def spent(self, issuer: str, jti: str) -> bool:
        """True when the token id was used before."""


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer on the allow-list, with where its keys come from."""

    iss: str
    keys: KeySource | None
    jku_keys: Mapping[str, KeySource]
    tenants: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VerifiedCaller:
    """Who made a call, as its verified token says."""

    issuer: str
    token_id: str
    tenant: str | None = None
    subject: str | None = None
    # The token's one use, still to be spent: written with what the call leaves behind, or
    # alone when the call ends otherwise (`cds_service.web.guard`). None without JWT checks.
    token: TokenUse | None = None


UNVERIFIED_CALLER = VerifiedCaller(issuer="", token_id="")


def _quoted(value: object) -> str:
    # Claims are attacker-controlled: shorten and quote them before they reach a log line.
    return repr(str(value)[:LOGGED_VALUE_LIMIT])


def replay_refused(jti: str) -> AuthenticationFailed:
    """The refusal of a token whose id was used before."""
    return AuthenticationFailed(f"token id {_quoted(jti)} was already used (replay)")


class CdsJwtVerifier:
    """Checks CDS Hooks JWTs against the trusted issuers."""

    def __init__(
        self,
        issuers: Mapping[str, TrustedIssuer],
        replay_guard: ReplayGuard,
        *,
        clock_skew_seconds: int,
        max_token_lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = issuers
        self._replay_guard = replay_guard
        self._skew = clock_skew_seconds
        self._max_lifetime = max_token_lifetime_seconds
        self._clock = clock

    def verify(self, token: str, audience: str) -> VerifiedCaller:
        """The verified caller, or `AuthenticationFailed` saying (for the log) why not."""
        header, unverified = self._read_unverified(token)
        # Unverified claims may be of any JSON type; only a string can name a trusted issuer.
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthenticationFailed(f"issuer {_quoted(unverified.get('iss'))} is not trusted")
        key = self._find_key(issuer, header)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[header["alg"]],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._skew,
                options={"require": list(REQUIRED_CLAIMS), "verify_sub": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"token refused: {type(exc).__name__}: {exc}") from exc
        self._check_times(claims)
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthenticationFailed("tenant is not a string")
        if issuer.tenants and tenant not in issuer.tenants:
            raise AuthenticationFailed(f"tenant {_quoted(tenant)} is not allowed")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= JTI_MAX_LENGTH or "\x00" in jti:
            raise AuthenticationFailed(f"jti must be a string of 1 to {JTI_MAX_LENGTH} characters")
        # A read refuses a token used before at once; the use itself is written later, with
        # the call's cards in one transaction (`IssuedCardStore.record`), whose unique key
        # refuses a replay racing the first use.
        if self._replay_guard.spent(issuer.iss, jti):
            raise replay_refused(jti)
        expires_at = datetime.fromtimestamp(claims["exp"] + self._skew, tz=UTC)
        subject = claims.get("sub")
        return VerifiedCaller(
            issuer=issuer.iss,
            token_id=jti,
            tenant=tenant,
            subject=subject if isinstance(subject, str) else None,
            token=TokenUse(issuer.iss, jti, expires_at),
        )

    def _read_unverified(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        # One unverified read gives the header and the claims that choose the key; the verified
        # decode that follows reads the token again, as it must, with the key.
        try:
            unverified = jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"malformed token: {type(exc).__name__}") from exc
        header: dict[str, Any] = unverified["header"]
        claims: dict[str, Any] = unverified["payload"]
        algorithm = header.get("alg")
        if algorithm not in SIGNING_ALGORITHMS:
            raise AuthenticationFailed(f"algorithm {_quoted(algorithm)} is not allowed")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise AuthenticationFailed("the token header has no kid")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise AuthenticationFailed(f"typ {_quoted(typ)} is not JWT")
        return header, claims

    def _find_key(self, issuer: TrustedIssuer, header: Mapping[str, Any]) -> jwt.PyJWK:
        # The issuer's configured key set answers first: a key agreed out of band (CDS Hooks
        # 2.0, Security) is trusted for its issuer whatever `jku` the header names, and that
        # `jku` is then never fetched. A `jku` is fetched only for a `kid` the configured set
        # lacks, and only when it is on the issuer's allow-list (docs/sandbox.md).
        algorithm, kid, jku = header["alg"], header["kid"], header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise AuthenticationFailed("jku is not a string")
        trusted = issuer.keys.key_for(kid) if issuer.keys is not None else None
        if trusted is None and jku is not None:
            source = issuer.jku_keys.get(jku)
            if source is None:
                raise AuthenticationFailed(
                    f"no configured key with kid {_quoted(kid)}, and jku {_quoted(jku)} "
                    "is not allowed for this issuer"
                )
            trusted = source.key_for(kid)
        if trusted is None:
            raise AuthenticationFailed(f"no key with kid {_quoted(kid)}")
        jwk = trusted.jwk
        if jwk.get("alg") not in (None, algorithm):
            raise AuthenticationFailed(f"key {_quoted(kid)} is not for {algorithm}")
        if algorithm in CURVE_OF_ALGORITHM and jwk.get("crv") != CURVE_OF_ALGORITHM[algorithm]:
            raise AuthenticationFailed(f"key {_quoted(kid)} is not on the curve of {algorithm}")
        # Built when the key set was loaded or fetched, for each algorithm the checks above admit.
        key_object = trusted.key_objects.get(algorithm)
        if key_object is None:
            defect = trusted.defects.get(algorithm, "no key object")
            raise AuthenticationFailed(f"key {_quoted(kid)} unusable: {defect}")
        return key_object

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        # PyJWT checks that `exp` and `nbf` are current, but reads them with int(): "1700000000"
        # passes. RFC 7519 makes them NumericDates (JSON numbers), checked here with `iat`.
        now = self._clock()
        for name in ("iat", "exp", "nbf"):
            moment = claims.get(name, 0)
            if not isinstance(moment, int | float) or isinstance(moment, bool):
                raise AuthenticationFailed(f"{name} is not a number")
        issued_at = claims["iat"]
        if issued_at > now + self._skew:
            raise AuthenticationFailed("iat is in the future")
        # A short lifetime limits what a stolen token is worth, and how long the replay store
        # must remember its jti.
        if claims["exp"] > now + self._max_lifetime + self._skew:
            raise AuthenticationFailed("exp is further ahead than the longest lifetime allowed")
