"""Who may call the service: the issuers it trusts and the administrators' tokens.

Part of the configuration (`cds_service.settings`, which re-exports these names); kept apart
because it is what a security review reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from cds_service.settings_base import Section

# The algorithms the CDS Hooks specification allows: asymmetric only, never `none` or HMAC.
SIGNING_ALGORITHMS = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512")
# The public CDS Hooks sandbox: its issuer, and the name of its key set shipped in the package.
# Its private key is published with its source, so trusting it is an explicit opt-in.
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_KEY_SET = "cds-hooks-sandbox"


class IssuerSettings(Section):
    """One EHR (or sandbox) whose CDS Hooks JWTs the service trusts."""

    iss: str = Field(min_length=1)
    jwks: dict[str, Any] | None = None
    jwks_file: Path | None = None
    jwks_url: str | None = None
    # A key set shipped inside the package, pinned rather than fetched (e.g. "cds-hooks-sandbox").
    jwks_builtin: str | None = None
    jku_allowed: tuple[str, ...] = ()
    # When not empty, the `tenant` claim must be one of these.
    tenants: tuple[str, ...] = ()
    # The FHIR server base URLs this issuer's calls may name as `fhirServer` (compared with
    # scheme and host in lower case, default port and trailing slash left out). Any other is
    # never contacted: the call is answered as if the data could not be fetched (412 when it
    # is required). Empty, the default: no FHIR server is contacted for this issuer, and its
    # calls must prefetch what the services need (fail closed; an EHR's token is not sent,
    # nor the service used as a scanner, before someone has named where it may go).
    fhir_servers: tuple[str, ...] = ()

    @property
    def trusts_sandbox_key(self) -> bool:
        """Whether this issuer is the public CDS Hooks sandbox, or takes keys from it."""
        sandbox_urls = [self.jwks_url, *self.jku_allowed]
        return (
            self.iss.rstrip("/") == SANDBOX_ISSUER
            or self.jwks_builtin == SANDBOX_KEY_SET
            or any(url is not None and url.startswith(SANDBOX_ISSUER + "/") for url in sandbox_urls)
        )

    @field_validator("fhir_servers")
    @classmethod
    def _fhir_base_urls(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        # Entries are named by position: one may hold a password, which must not be echoed.
        for index, value in enumerate(values):
            parts = urlsplit(value)
            if parts.username is not None or parts.password is not None:
                raise ValueError(f"[{index}]: no credentials in the URL (the EHR's token is sent)")
            try:
                parts.port  # noqa: B018 - a port that is not a number in range raises
            except ValueError:
                raise ValueError(f"[{index}]: the port is not a port number") from None
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise ValueError(f"[{index}]: not the absolute http(s) base URL of a server")
            if "?" in value or "#" in value:
                raise ValueError(f"[{index}]: a base URL has no query or fragment")
        return values

    @model_validator(mode="after")
    def _key_source_given(self) -> IssuerSettings:
        sources = [self.jwks, self.jwks_file, self.jwks_url, self.jwks_builtin]
        if sum(source is not None for source in sources) > 1:
            raise ValueError("give one of jwks, jwks_file, jwks_url, jwks_builtin")
        if all(source is None for source in sources) and not self.jku_allowed:
            raise ValueError(
                "needs a key set: jwks, jwks_file, jwks_url, jwks_builtin or jku_allowed"
            )
        return self


class AuthSettings(Section):
    """How callers are authenticated."""

    # Off only for local sandbox play; the service warns at every start when it is off.
    verify_jwt: bool = True
    # Trusting the public CDS Hooks sandbox (whose private key anyone can read) must be asked
    # for here; the service warns at every start while it is on, and beyond loopback it also
    # needs `synthetic_data_only`, the operator's word that no real patient's data is there.
    sandbox: bool = False
    synthetic_data_only: bool = False
    issuers: tuple[IssuerSettings, ...] = ()
    clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    # EHRs sign one short-lived token per call (typically 5 minutes); longer ones are refused.
    max_token_lifetime_seconds: int = Field(default=3600, ge=60, le=86400)
    jwks_cache_seconds: int = Field(default=3600, ge=0)
    # An unknown `kid` makes the service fetch the key set again, but no more often than this.
    jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)
    jwks_fetch_timeout_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _unique_issuers(self) -> AuthSettings:
        names = [issuer.iss for issuer in self.issuers]
        if len(names) != len(set(names)):
            raise ValueError("each issuer may appear once")
        return self

    @model_validator(mode="after")
    def _sandbox_trust_asked_for(self) -> AuthSettings:
        sandbox_issuers = [issuer.iss for issuer in self.issuers if issuer.trusts_sandbox_key]
        if sandbox_issuers and not self.sandbox:
            raise ValueError(
                f"issuer {sandbox_issuers[0]} trusts the public CDS Hooks sandbox's key, whose "
                "private half is published: anyone could call this service. Set "
                "[auth] sandbox = true to trust it (synthetic data only), or remove the issuer"
            )
        return self


def token_digest(token: str) -> str:
    """The SHA-256 hex digest an admin token is configured by (`[admin] token_sha256`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())


class AdminSettings(Section):
    """Who may use the admin endpoints (`/admin`), and how hard guessing a token is made.

    Tokens are given only as SHA-256 digests (`cdss admin-token` makes a token and its digest);
    the tokens themselves are never stored.
    """

    token_sha256: tuple[str, ...] = ()
    # The audit log's name for each token's holder, by digest; unnamed: "token <first 8>".
    token_names: dict[str, str] = Field(default_factory=dict)
    # Refused attempts from one client address within the window, after which its wrong tokens
    # are refused outright (429) until the window has passed; a valid token is always let in.
    max_refusals: int = Field(default=10, ge=1, le=1000)
    # The same for every address together (guessing spread over many addresses), counted by
    # each worker process: the service-wide cap is this many times `[server] workers`.
    max_refusals_all_addresses: int = Field(default=100, ge=1, le=100_000)
    refusal_window_seconds: int = Field(default=900, ge=1, le=86400)
    # How long an admin page sign-in lasts.
    session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)

    @field_validator("token_sha256")
    @classmethod
    def _hex_digests(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not all(_is_sha256_hex(value) for value in values):
            raise ValueError("each entry must be a hex SHA-256 digest (64 characters)")
        return tuple(v.lower() for v in values)

    @field_validator("token_names")
    @classmethod
    def _named_digests(cls, names: dict[str, str]) -> dict[str, str]:
        if not all(_is_sha256_hex(digest) for digest in names):
            raise ValueError("each key must be a hex SHA-256 digest (64 characters)")
        return {digest.lower(): name for digest, name in names.items()}
