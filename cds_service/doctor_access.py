"""`cdss doctor`: who may call the service (issuers, their key sets, admin tokens), and the
patient key.

Only counts, names and paths are reported: never a key, a digest in full or a token. A key
set URL is fetched only with `--online`: `cdss serve` itself fetches it at the first call.
"""

from __future__ import annotations

import json
import stat
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cds_service.doctor_findings import Finding, Status
from cds_service.settings import (
    AdminSettings,
    AuthSettings,
    IssuerSettings,
    PrivacySettings,
)

ONLINE_TIMEOUT_SECONDS = 3.0
ADMIN_ACCESS_FIX = (
    "`cdss admin-token` prints a token (for the administrator) and its digest: put the digest "
    "in [admin] token_sha256, or CDSS_ADMIN__TOKEN_SHA256='[\"<digest>\"]'"
)
KEY_PAIR_FIX = (
    "make a test EHR's key pair with `cdss keys generate --private KEY.json --jwks {file}` "
    "(scripts/start.sh does for config/cdss.toml), or copy your EHR's published JWK Set there"
)


def issuer_findings(auth: AuthSettings, *, online: bool) -> list[Finding]:
    """Whether JWTs are checked, each trusted issuer with its key set, and the sandbox opt-in."""
    if not auth.verify_jwt:
        return [
            Finding(
                Status.WARNING,
                "JWT checks",
                "OFF ([auth] verify_jwt = false): any caller can use this service, and the "
                "issuers are not read",
                "local sandbox play only: set [auth] verify_jwt = true before real patient data",
            )
        ]
    if not auth.issuers:
        return [
            Finding(
                Status.WARNING,
                "trusted issuers",
                "none: every hook and feedback call is refused (401)",
                "add an [[auth.issuers]] table for your EHR (README: Trusting your own EHR)",
                next_step="trust an EHR: add an [[auth.issuers]] table with its key set, or try "
                "a local one with `cdss keys generate` and `cdss token` (README: Run it)",
            )
        ]
    findings = []
    for index, issuer in enumerate(auth.issuers):
        findings.append(key_set_finding(issuer, index, online=online))
        findings.append(_reach_finding(issuer, index))
    if auth.sandbox:
        detail = (
            "trusted ([auth] sandbox = true): its private key is published, so anyone can sign "
            "a token this service accepts"
        )
        if auth.synthetic_data_only:
            detail += "; synthetic_data_only = true"
        findings.append(
            Finding(
                Status.WARNING,
                "CDS Hooks sandbox",
                detail,
                "synthetic data only; remove the sandbox issuer and [auth] sandbox for real EHRs",
            )
        )
    return findings


def key_set_finding(issuer: IssuerSettings, index: int, *, online: bool) -> Finding:
    """Where an issuer's keys come from, and whether they can be read (no URL fetched offline)."""
    subject = f"issuer {issuer.iss}"
    setting = f"[[auth.issuers]] #{index + 1}"
    if issuer.jwks_file is not None:
        where = f"{setting} jwks_file = {issuer.jwks_file.resolve()}"
        if not issuer.jwks_file.is_file():
            return Finding(
                Status.ERROR,
                subject,
                f"{where}: no such file; `cdss serve` will not start",
                KEY_PAIR_FIX.format(file=issuer.jwks_file.resolve()),
            )
        try:
            document = json.loads(issuer.jwks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            reason = "cannot be read" if isinstance(exc, OSError) else "is not JSON"
            return Finding(Status.ERROR, subject, f"{where}: {reason}", "point it at a JWK Set")
        return _parsed_key_set(subject, where, document)
    if issuer.jwks is not None:
        return _parsed_key_set(subject, f"{setting} jwks (inline)", issuer.jwks)
    if issuer.jwks_builtin is not None:
        return _builtin_key_set(subject, f"{setting} jwks_builtin", issuer.jwks_builtin)
    url = issuer.jwks_url
    where = f"{setting} jwks_url = {without_password(url)}" if url else f"{setting} jku only"
    if url is None or not online:
        return Finding(
            Status.OK,
            subject,
            f"{where}: fetched at the first call (not checked here; `--online` fetches it)",
        )
    return _fetched_key_set(subject, where, url)


def _parsed_key_set(subject: str, where: str, document: Any) -> Finding:
    from cds_service.auth.key_sets import KeySetError, parse_key_set

    try:
        keys = parse_key_set(document, where)
    except KeySetError as exc:
        return Finding(Status.ERROR, subject, str(exc), "give a JWK Set of public EC or RSA keys")
    usable = sum(1 for key in keys.values() if key.key_objects)
    if usable == 0:
        return Finding(
            Status.WARNING,
            subject,
            f"{where}: no usable key (each needs a kid, and a curve or size its alg allows): "
            "every token from this issuer is refused",
            "give the issuer's public signing keys",
        )
    return Finding(Status.OK, subject, f"{where}: a JWK Set of {usable} usable key(s)")


def _builtin_key_set(subject: str, where: str, name: str) -> Finding:
    from cds_service.auth.key_sets import BUILTIN_KEY_SETS

    if name not in BUILTIN_KEY_SETS:
        known = ", ".join(sorted(BUILTIN_KEY_SETS))
        return Finding(Status.ERROR, subject, f"{where} = {name!r}: unknown", f"one of: {known}")
    text = resources.files("cds_service.trust").joinpath(BUILTIN_KEY_SETS[name]).read_text()
    return _parsed_key_set(subject, f"{where} = {name} (shipped, pinned)", json.loads(text))


def _fetched_key_set(subject: str, where: str, url: str) -> Finding:
    import httpx

    try:
        response = httpx.get(url, timeout=ONLINE_TIMEOUT_SECONDS, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Finding(
            Status.WARNING,
            subject,
            f"{where}: not fetched ({type(exc).__name__}): calls from this issuer will fail "
            "until it answers",
            "check the URL, and that this machine may reach it",
        )
    return _parsed_key_set(subject, f"{where} (fetched)", document)


def _reach_finding(issuer: IssuerSettings, index: int) -> Finding:
    setting = f"[[auth.issuers]] #{index + 1}"
    parts = []
    if issuer.jku_allowed:
        urls = ", ".join(without_password(url) for url in issuer.jku_allowed)
        parts.append(f"jku_allowed: {urls}")
    if issuer.tenants:
        parts.append(f"tenants: {', '.join(issuer.tenants)}")
    if issuer.fhir_servers:
        parts.append(f"fhir_servers: {', '.join(issuer.fhir_servers)}")
    else:
        parts.append("no fhir_servers: only what its calls prefetch is read")
    return Finding(Status.OK, f"issuer {issuer.iss}", f"{setting} {'; '.join(parts)}")


def admin_findings(admin: AdminSettings) -> list[Finding]:
    """How many admin tokens may sign in, by the names the audit log gives them."""
    count = len(admin.token_sha256)
    if count == 0:
        return [
            Finding(
                Status.WARNING,
                "admin tokens",
                "none configured: /admin refuses everyone (the service runs without it)",
                ADMIN_ACCESS_FIX,
                next_step="make an admin token for /admin: `cdss admin-token`",
            )
        ]
    names = [admin.token_names[d] for d in admin.token_sha256 if d in admin.token_names]
    described = [*names]
    if count > len(names):
        described.append(f"{count - len(names)} unnamed")
    return [Finding(Status.OK, "admin tokens", f"{count} configured ({', '.join(described)})")]


def patient_key_finding(privacy: PrivacySettings) -> Finding:
    """Where the key of the patient pseudonyms lives (never its value), and who may read it."""
    subject = "patient key"
    if privacy.patient_key is not None:
        return Finding(Status.OK, subject, "given inline ([privacy] patient_key; not shown)")
    path = privacy.patient_key_file.resolve()
    if not path.exists():
        return Finding(
            Status.OK,
            subject,
            f"{path} not made yet: `cdss serve` makes it at its first start",
            "keep it out of the database's backups: with the key, pseudonyms can be reversed",
        )
    if not path.is_file():
        return Finding(
            Status.ERROR, subject, f"{path} is not a file", "point patient_key_file at one"
        )
    try:
        mode = path.stat().st_mode
        length = len(bytes.fromhex(path.read_text(encoding="ascii").strip()))
    except (OSError, ValueError) as exc:
        reason = "cannot be read" if isinstance(exc, OSError) else "is not a hex key"
        return Finding(Status.ERROR, subject, f"{path} {reason}", "restore it from its backup")
    if length < 32:
        return Finding(
            Status.ERROR,
            subject,
            f"{path} holds {length} bytes; at least 32 are needed",
            "restore it from its backup (a new key gives every patient a new pseudonym)",
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Finding(
            Status.WARNING,
            subject,
            f"{path} can be read by other users",
            f"chmod 600 {path}",
        )
    return Finding(Status.OK, subject, f"{path} (readable by its owner only)")


def without_password(url: str) -> str:
    """The URL with any password in it as `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
