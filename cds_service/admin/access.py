"""Who may use the admin endpoints: bearer tokens known only by their SHA-256 digests.

Admin tokens are separate from the EHRs' JWTs: an EHR's token opens nothing here, and an admin
token calls no hook. A presented token is hashed and compared with every configured digest in
constant time, always first: a valid token is let in whatever its address did, so no one can
lock the administrators out by failing on purpose (behind a proxy, every client shares an
address unless the proxy is trusted, `[server] trusted_proxies`).

Only refusals are throttled. A refused attempt is audited; once its address has been refused
`max_refusals` times within the window (read from the shared audit log, so across every
worker), or every address together `max_refusals_all_addresses` times (counted by each
worker), a wrong token is refused outright (429) and no longer audited, which bounds the
audit log's growth. The answer still tells a valid token from a wrong one: what defeats
guessing is the token's 256 random bits (`cdss admin-token`); the throttle bounds the cost of
trying and makes the trying visible (the audit log, the `cdss_admin_refused` metric, the log).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cds_service.access_settings import token_digest
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


@dataclass(frozen=True)
class AdminActor:
    """An authenticated administrator, by the name the audit log gives them."""

    name: str


class RecentRefusals:
    """When this worker refused its latest admin attempts, to cap them from every address."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._moments: deque[datetime] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, moment: datetime) -> None:
        """Count a refusal."""
        with self._lock:
            self._moments.append(moment)

    def at_limit(self, since: datetime) -> bool:
        """Whether the limit's worth of refusals were made since this moment."""
        with self._lock:
            return len(self._moments) == self._limit and self._moments[0] >= since


class AdminGate:
    """Checks admin tokens, audits refusals and slows guessing down."""

    def __init__(self, settings: AdminSettings, audit: AuditLog, metrics: ServiceMetrics) -> None:
        self._digests = settings.token_sha256
        self._names = settings.token_names
        self._max_refusals = settings.max_refusals
        self._window = timedelta(seconds=settings.refusal_window_seconds)
        self._everyones_refusals = RecentRefusals(settings.max_refusals_all_addresses)
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

    def refuse(self, source: str | None, reason: str, path: str) -> AuthenticationFailed:
        """Audit a refused attempt and give the error to raise for it; `TooManyAttempts` is
        raised instead when this address, or every address together, was refused too often."""
        now = datetime.now(UTC)
        since = now - self._window
        if self._everyones_refusals.at_limit(since) or (
            self._audit.refusals_since(source, since) >= self._max_refusals
        ):
            self._metrics.admin_refused.labels(THROTTLED).inc()
            log.warning("admin request refused outright: too many refused attempts of late")
            raise TooManyAttempts(
                "too many refused attempts; try again later", int(self._window.total_seconds())
            )
        self._audit.record(ADMIN_REFUSED, source=source, detail={"reason": reason, "path": path})
        self._everyones_refusals.add(now)
        self._metrics.admin_refused.labels(reason).inc()
        return AuthenticationFailed(f"admin request refused: {reason}")

    def authenticate(self, authorization: str, source: str | None, path: str) -> AdminActor:
        """The administrator of an `Authorization: Bearer` header, or an error to answer with."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self.refuse(source, NO_TOKEN, path)
        actor = self.actor_for(token.strip())
        if actor is None:
            raise self.refuse(source, WRONG_TOKEN, path)
        return actor
