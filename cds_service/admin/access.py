"""Who may use the admin endpoints: bearer tokens known only by their SHA-256 digests.

Admin tokens are separate from the EHRs' JWTs: an EHR's token opens nothing here, and an admin
token calls no hook. A presented token is hashed and compared with every configured digest in
constant time. Every refused attempt is audited, and an address with too many refused attempts
in the window is refused outright (429) before its token is looked at, so guessing is slow
across every worker (the count is read from the shared audit log).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cds_service.errors import AuthenticationFailed, TooManyAttempts
from cds_service.metrics import ServiceMetrics
from cds_service.settings import AdminSettings
from cds_service.storage.admin_records import ADMIN_REFUSED, AuditLog

log = logging.getLogger(__name__)

# Reasons a request is refused (audit detail and metric label), not secrets.
NO_TOKEN = "no-token"  # noqa: S105
WRONG_TOKEN = "wrong-token"  # noqa: S105
THROTTLED = "throttled"
BAD_FORM = "bad-form-token"


def token_digest(token: str) -> str:
    """The SHA-256 hex digest a token is configured by."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AdminActor:
    """An authenticated administrator, by the name the audit log gives them."""

    name: str


class AdminGate:
    """Checks admin tokens, audits refusals and slows guessing down."""

    def __init__(self, settings: AdminSettings, audit: AuditLog, metrics: ServiceMetrics) -> None:
        self._digests = settings.token_sha256
        self._names = settings.token_names
        self._max_refusals = settings.max_refusals
        self._window = timedelta(seconds=settings.refusal_window_seconds)
        self._audit = audit
        self._metrics = metrics
        if not self._digests:
            log.warning("no admin token is configured ([admin] token_sha256): /admin is closed")

    def actor_for(self, token: str) -> AdminActor | None:
        """The administrator holding this token, or None."""
        presented = token_digest(token)
        found = None
        for digest in self._digests:  # no early exit: every digest is compared
            if hmac.compare_digest(presented, digest):
                found = digest
        if found is None:
            return None
        return AdminActor(self._names.get(found, f"token {found[:8]}"))

    def check_not_throttled(self, source: str | None) -> None:
        """`TooManyAttempts` when this address was refused too often within the window."""
        since = datetime.now(UTC) - self._window
        if self._audit.refusals_since(source, since) >= self._max_refusals:
            self._metrics.admin_refused.labels(THROTTLED).inc()
            log.warning("admin request refused: too many refused attempts from one address")
            raise TooManyAttempts(
                "too many refused attempts; try again later", int(self._window.total_seconds())
            )

    def refuse(self, source: str | None, reason: str, path: str) -> AuthenticationFailed:
        """Audit a refused attempt; the error to raise for it."""
        self._audit.record(ADMIN_REFUSED, source=source, detail={"reason": reason, "path": path})
        self._metrics.admin_refused.labels(reason).inc()
        return AuthenticationFailed(f"admin request refused: {reason}")

    def authenticate(self, authorization: str, source: str | None, path: str) -> AdminActor:
        """The administrator of an `Authorization: Bearer` header, or an error to answer with."""
        self.check_not_throttled(source)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self.refuse(source, NO_TOKEN, path)
        actor = self.actor_for(token.strip())
        if actor is None:
            raise self.refuse(source, WRONG_TOKEN, path)
        return actor
