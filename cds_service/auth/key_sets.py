"""JSON Web Key Sets of trusted issuers: pinned (inline, file, shipped) or fetched and cached.

Each key's key objects (what PyJWT verifies a signature with) are built when its set is loaded
or fetched: building one checks the point is on its curve or reads the RSA modulus, work that
once per key set version is enough, where once per hook call was not.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from cds_service.settings import SANDBOX_KEY_SET, SIGNING_ALGORITHMS

log = logging.getLogger(__name__)

# Key sets shipped with the service, pinned so an offline deployment never fetches them.
BUILTIN_KEY_SETS = {
    # The public CDS Hooks sandbox's published keys (cds-hooks/sandbox, `.well-known/jwks.json`):
    # the P-384 key it signs with today (ES384, kid 44823f3d..., since its PR #124) and the P-256
    # key of its older builds (ES256, kid d9cd3c4f...), which self-hosted copies may still use.
    # Both private keys are published with the sandbox's source: trust this set for testing only
    # (`[auth] sandbox = true`, see cds_service.settings.AuthSettings).
    SANDBOX_KEY_SET: "cds-hooks-sandbox-jwks.json",
}
SANDBOX_TRUST_WARNING = (
    "CDS Hooks sandbox trust is ON ([auth] sandbox = true): the sandbox's private key is "
    "published with its source, so anyone can sign a token this service accepts. Use this "
    "only with synthetic data, never with real patients."
)


# An EC key must be on the curve its algorithm names; PyJWT would otherwise accept a mismatch.
CURVE_OF_ALGORITHM = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
# What PyJWT may raise on a JWK it cannot turn into a key; the JWK is attacker-shaped when fetched.
KEY_OBJECT_ERRORS = (jwt.PyJWTError, TypeError, ValueError, KeyError)


class KeySetError(ValueError):
    """A key set cannot be used; the message says why."""


@dataclass(frozen=True)
class TrustedKey:
    """One public key of a key set, with its key objects built once, by signing algorithm."""

    jwk: Mapping[str, Any]
    key_objects: Mapping[str, jwt.PyJWK]
    # By algorithm: the name of the error PyJWT raised building the key object (for the log).
    defects: Mapping[str, str]

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> TrustedKey:
        """The key with a key object for each allowed algorithm its `alg` and `crv` admit."""
        key_objects: dict[str, jwt.PyJWK] = {}
        defects: dict[str, str] = {}
        for algorithm in SIGNING_ALGORITHMS:
            if jwk.get("alg") not in (None, algorithm):
                continue
            if algorithm in CURVE_OF_ALGORITHM and jwk.get("crv") != CURVE_OF_ALGORITHM[algorithm]:
                continue
            try:
                # Bound to its algorithm: PyJWT refuses a token whose `alg` is another.
                key_objects[algorithm] = jwt.PyJWK(dict(jwk), algorithm=algorithm)
            except KEY_OBJECT_ERRORS as exc:
                # Kept, not fatal: the key is refused when a token names it, as before.
                defects[algorithm] = type(exc).__name__
        return cls(jwk, key_objects, defects)


class KeySource(Protocol):
    """Where the public keys of one issuer (or one `jku`) come from."""

    def key_for(self, kid: str) -> TrustedKey | None:
        """The key with this key id, or None."""


def parse_key_set(document: Any, origin: str) -> dict[str, TrustedKey]:
    """The keys of a JWK Set by `kid`, their key objects built; public keys only."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError(f"{origin}: not a JWK Set (an object with a 'keys' array)")
    keys: dict[str, TrustedKey] = {}
    for index, key in enumerate(document["keys"]):
        where = f"{origin}: keys[{index}]"
        if not isinstance(key, Mapping) or key.get("kty") not in ("EC", "RSA"):
            raise KeySetError(f"{where}: only EC and RSA keys are accepted")
        if "d" in key:
            raise KeySetError(f"{where}: holds a private key; trust only public keys")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            log.warning("%s has no kid and cannot be matched to a token; ignored", where)
            continue
        keys[kid] = TrustedKey.from_jwk(key)
    return keys


class PinnedKeySet:
    """A key set given in the configuration or in a file, read once at start-up."""

    def __init__(self, keys: dict[str, TrustedKey]) -> None:
        self._keys = keys

    @classmethod
    def from_document(cls, document: Any, origin: str) -> PinnedKeySet:
        """From an inline JWK Set."""
        return cls(parse_key_set(document, origin))

    @classmethod
    def from_file(cls, path: Path) -> PinnedKeySet:
        """From a JWK Set file."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeySetError(f"{path}: cannot be read ({exc.strerror})") from exc
        except ValueError as exc:
            raise KeySetError(f"{path}: not valid JSON") from exc
        return cls.from_document(document, str(path))

    @classmethod
    def builtin(cls, name: str) -> PinnedKeySet:
        """A key set shipped with the service."""
        if name not in BUILTIN_KEY_SETS:
            known = ", ".join(sorted(BUILTIN_KEY_SETS))
            raise KeySetError(f"jwks_builtin: unknown key set '{name}' (known: {known})")
        if name == SANDBOX_KEY_SET:
            # Each worker builds its key sets at start: the warning is in every start's log.
            log.warning(SANDBOX_TRUST_WARNING)
        text = resources.files("cds_service.trust").joinpath(BUILTIN_KEY_SETS[name]).read_text()
        return cls.from_document(json.loads(text), f"builtin:{name}")

    def key_for(self, kid: str) -> TrustedKey | None:
        """The key with this key id, or None."""
        return self._keys.get(kid)


class RemoteKeySet:
    """A key set fetched from a URL, cached, and fetched again when a `kid` is unknown.

    Refetching on an unknown `kid` is how issuers rotate keys; it is rate-limited so that
    tokens with made-up key ids cannot turn the service into a flood of requests.
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, TrustedKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> TrustedKey | None:
        """The key with this key id, fetching the set when stale or when the id is unknown."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
            unknown = kid not in self._keys
            may_refresh = (
                self._fetched_at is None or now - self._fetched_at >= self._min_refresh_seconds
            )
            if stale or (unknown and may_refresh):
                self._refresh(now)
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._fetched_at = now
        try:
            response = self._client.get(self.url, timeout=self._timeout)
            response.raise_for_status()
            self._keys = parse_key_set(response.json(), self.url)
        except (httpx.HTTPError, ValueError) as exc:
            # The previous keys stay in use: a passing outage should not lock out every caller.
            log.warning("could not fetch the key set at %s: %s", self.url, type(exc).__name__)
