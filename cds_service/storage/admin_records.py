"""The admin side's records: configuration versions, the audit log and page sessions.

A configuration change and its audit entry are written in one transaction: a change the log
does not show cannot happen, and neither can a logged change that did not.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from cds_service.storage.database import reading
from cds_service.storage.stores import aware_utc
from cds_service.storage.tables import admin_session, audit_event, config_version

# The audit log's event names.
CONFIG_CHANGED = "config-changed"
CONFIG_ROLLED_BACK = "config-rolled-back"
CONFIG_REFUSED = "config-refused"
ADMIN_SIGNED_IN = "admin-signed-in"
ADMIN_SIGNED_OUT = "admin-signed-out"
ADMIN_REFUSED = "admin-refused"
# Every hook call asks for it; composed once, as the hook call's other statements are.
_LATEST_VERSION = select(func.max(config_version.c.version))


@dataclass(frozen=True)
class ConfigVersion:
    """One accepted configuration: the whole document, who made it and what it changed."""

    version: int
    created_at: datetime
    actor: str
    comment: str | None
    document: Mapping[str, Any]
    changes: Sequence[Mapping[str, Any]]
    restored_from: int | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log."""

    id: int
    at: datetime
    event: str
    actor: str | None
    source: str | None
    detail: Mapping[str, Any] | None


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin page session."""

    actor: str
    csrf_token: str
    expires_at: datetime


class VersionConflict(Exception):
    """Another change was accepted after the version the new one was based on."""


def _audit_row(
    event: str, actor: str | None, source: str | None, detail: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC),
        "event": event,
        "actor": actor,
        "source": source,
        "detail": dict(detail) if detail is not None else None,
    }


class ConfigVersionStore:
    """The versions of the admin-managed configuration, newest in force."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reading(engine)

    def latest_number(self) -> int:
        """The version in force; 0 while no change was ever made (the file's values)."""
        with self._reader.connect() as connection:
            latest = connection.scalar(_LATEST_VERSION)
        return int(latest or 0)

    def get(self, version: int) -> ConfigVersion | None:
        """One stored version, or None."""
        with self._reader.connect() as connection:
            row = connection.execute(
                select(config_version).where(config_version.c.version == version)
            ).one_or_none()
        return None if row is None else _version_from(row)

    def history(self, limit: int = 100) -> list[ConfigVersion]:
        """The newest versions first."""
        query = select(config_version).order_by(config_version.c.version.desc()).limit(limit)
        with self._reader.connect() as connection:
            return [_version_from(row) for row in connection.execute(query)]

    def append(
        self,
        document: Mapping[str, Any],
        changes: Sequence[Mapping[str, Any]],
        *,
        actor: str,
        source: str | None,
        based_on: int,
        comment: str | None = None,
        restored_from: int | None = None,
    ) -> ConfigVersion:
        """Store the next version and its audit entry; `VersionConflict` if `based_on` is stale."""
        created_at = datetime.now(UTC)
        try:
            with self._engine.begin() as connection:
                latest = int(connection.scalar(select(func.max(config_version.c.version))) or 0)
                if latest != based_on:
                    raise VersionConflict(f"version {latest} is in force, not {based_on}")
                stored = ConfigVersion(
                    version=latest + 1,
                    created_at=created_at,
                    actor=actor,
                    comment=comment,
                    document=dict(document),
                    changes=[dict(change) for change in changes],
                    restored_from=restored_from,
                )
                connection.execute(
                    insert(config_version).values(
                        version=stored.version,
                        created_at=created_at,
                        actor=actor,
                        comment=comment,
                        document=stored.document,
                        changes=stored.changes,
                        restored_from=restored_from,
                    )
                )
                event = CONFIG_CHANGED if restored_from is None else CONFIG_ROLLED_BACK
                detail: dict[str, Any] = {"version": stored.version, "changes": stored.changes}
                if restored_from is not None:
                    detail["restoredFrom"] = restored_from
                if comment:
                    detail["comment"] = comment
                connection.execute(
                    insert(audit_event).values(_audit_row(event, actor, source, detail))
                )
        except IntegrityError as exc:
            # PostgreSQL lets two transactions read the same latest version; the second insert
            # of `latest + 1` then collides on the primary key.
            raise VersionConflict("another change was accepted at the same moment") from exc
        return stored


def _version_from(row: Any) -> ConfigVersion:
    return ConfigVersion(
        version=row.version,
        created_at=aware_utc(row.created_at),
        actor=row.actor,
        comment=row.comment,
        document=row.document,
        changes=row.changes,
        restored_from=row.restored_from,
    )


class AuditLog:
    """The admin audit log (append-only)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reading(engine)

    def record(
        self,
        event: str,
        *,
        actor: str | None = None,
        source: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry (committed before this returns)."""
        with self._engine.begin() as connection:
            connection.execute(insert(audit_event).values(_audit_row(event, actor, source, detail)))

    def recent(self, limit: int = 100, before_id: int | None = None) -> list[AuditEvent]:
        """The newest entries first; `before_id` pages further back."""
        query = select(audit_event).order_by(audit_event.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit_event.c.id < before_id)
        with self._reader.connect() as connection:
            return [
                AuditEvent(
                    id=row.id,
                    at=aware_utc(row.at),
                    event=row.event,
                    actor=row.actor,
                    source=row.source,
                    detail=row.detail,
                )
                for row in connection.execute(query)
            ]

    def refusals_since(self, source: str | None, since: datetime) -> int:
        """Refused admin attempts from this client address since a moment."""
        query = select(func.count()).where(
            audit_event.c.event == ADMIN_REFUSED,
            audit_event.c.source == source,
            audit_event.c.at >= since,
        )
        with self._reader.connect() as connection:
            return int(connection.scalar(query) or 0)


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class AdminSessionStore:
    """Admin page sessions, shared by every worker; only a hash of each id is stored."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reading(engine)

    def open(self, actor: str, lifetime: timedelta, source: str | None) -> tuple[str, AdminSession]:
        """A new session id (for the cookie) and its session; the sign-in is audited."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        session = AdminSession(actor, secrets.token_urlsafe(32), now + lifetime)
        with self._engine.begin() as connection:
            connection.execute(delete(admin_session).where(admin_session.c.expires_at < now))
            connection.execute(
                insert(admin_session).values(
                    session_sha256=_session_hash(session_id),
                    actor=actor,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
            connection.execute(
                insert(audit_event).values(_audit_row(ADMIN_SIGNED_IN, actor, source, None))
            )
        return session_id, session

    def find(self, session_id: str) -> AdminSession | None:
        """The live session with this id, or None (unknown or expired)."""
        with self._reader.connect() as connection:
            row = connection.execute(
                select(admin_session).where(
                    admin_session.c.session_sha256 == _session_hash(session_id)
                )
            ).one_or_none()
        if row is None or aware_utc(row.expires_at) <= datetime.now(UTC):
            return None
        return AdminSession(row.actor, row.csrf_token, aware_utc(row.expires_at))

    def close(self, session_id: str, source: str | None) -> None:
        """End a session (signing out); audited when there was one."""
        with self._engine.begin() as connection:
            closed = _delete_session(connection, _session_hash(session_id))
            if closed is not None:
                connection.execute(
                    insert(audit_event).values(_audit_row(ADMIN_SIGNED_OUT, closed, source, None))
                )


def _delete_session(connection: Connection, session_sha256: str) -> str | None:
    actor = connection.scalar(
        select(admin_session.c.actor).where(admin_session.c.session_sha256 == session_sha256)
    )
    connection.execute(
        delete(admin_session).where(admin_session.c.session_sha256 == session_sha256)
    )
    return None if actor is None else str(actor)
