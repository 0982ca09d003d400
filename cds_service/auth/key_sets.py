"""JSON Web Key Sets of trusted issuers: pinned (inline, file, shipped) or fetched and cached."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import httpx

from cds_service.settings import SANDBOX_KEY_SET

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


class KeySetError(ValueError):
    """A key set cannot be used; the message says why."""


class KeySource(Protocol):
    """Where the public keys of one issuer (or one `jku`) come from."""

    def key_for(self, kid: str) -> Mapping[str, Any] | None:
        """The JWK with this key id, or None."""


def parse_key_set(document: Any, origin: str) -> dict[str, Mapping[str, Any]]:
    """The keys of a JWK Set by `kid`; public keys only."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError(f"{origin}: not a JWK Set (an object with a 'keys' array)")
    keys: dict[str, Mapping[str, Any]] = {}
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
        keys[kid] = key
    return keys


class PinnedKeySet:
    """A key set given in the configuration or in a file, read once at start-up."""

    def __init__(self, keys: dict[str, Mapping[str, Any]]) -> None:
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

    def key_for(self, kid: str) -> Mapping[str, Any] | None:
        """The JWK with this key id, or None."""
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
        self._keys: dict[str, Mapping[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> Mapping[str, Any] | None:
        """The JWK with this key id, fetching the set when stale or when the id is unknown."""
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
