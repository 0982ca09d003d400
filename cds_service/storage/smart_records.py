"""The SMART detail app's launches in progress and sessions (see `tables.smart_launch`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from cds_service.storage.database import reading
from cds_service.storage.stores import aware_utc
from cds_service.storage.tables import smart_launch, smart_session


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLaunch:
    """A launch sent to the EHR's authorize endpoint, waiting for its code."""

    iss: str
    token_endpoint: str
    code_verifier: str


@dataclass(frozen=True)
class SmartSession:
    """A launched app: the patient in context and the token to read their chart with."""

    iss: str
    patient: str
    access_token: str
    scope: str | None
    expires_at: datetime
    # The launching card's `appContext`, as the EHR passed it on; None for a plain launch.
    app_context: str | None = None
    # SMART's `need_patient_banner`: False when the EHR shows the patient around the app.
    need_patient_banner: bool | None = None


class SmartRecords:
    """Launches and sessions in the database, so any worker can take the next step."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reading(engine)

    def remember_launch(self, state: str, launch: PendingLaunch, expires_at: datetime) -> None:
        """Keep a launch until its `state` comes back (or it expires)."""
        with self._engine.begin() as connection:
            connection.execute(delete(smart_launch).where(smart_launch.c.expires_at < _now()))
            connection.execute(
                insert(smart_launch).values(
                    state_sha256=_hash(state),
                    iss=launch.iss,
                    token_endpoint=launch.token_endpoint,
                    code_verifier=launch.code_verifier,
                    expires_at=expires_at,
                )
            )

    def take_launch(self, state: str) -> PendingLaunch | None:
        """The launch of this `state`, removed (a state is good once); None if unknown or old."""
        key = _hash(state)
        with self._engine.begin() as connection:
            row = connection.execute(
                select(smart_launch).where(smart_launch.c.state_sha256 == key)
            ).one_or_none()
            connection.execute(delete(smart_launch).where(smart_launch.c.state_sha256 == key))
        if row is None or aware_utc(row.expires_at) <= _now():
            return None
        return PendingLaunch(row.iss, row.token_endpoint, row.code_verifier)

    def open_session(self, session: SmartSession) -> str:
        """Store a session; the random id for the browser's cookie."""
        session_id = secrets.token_urlsafe(32)
        with self._engine.begin() as connection:
            connection.execute(delete(smart_session).where(smart_session.c.expires_at < _now()))
            connection.execute(
                insert(smart_session).values(
                    session_sha256=_hash(session_id),
                    iss=session.iss,
                    patient=session.patient,
                    access_token=session.access_token,
                    scope=session.scope,
                    expires_at=session.expires_at,
                    app_context=session.app_context,
                    need_patient_banner=session.need_patient_banner,
                )
            )
        return session_id

    def session(self, session_id: str) -> SmartSession | None:
        """The live session with this id, or None."""
        with self._reader.connect() as connection:
            row = connection.execute(
                select(smart_session).where(smart_session.c.session_sha256 == _hash(session_id))
            ).one_or_none()
        if row is None or aware_utc(row.expires_at) <= _now():
            return None
        return SmartSession(
            row.iss,
            row.patient,
            row.access_token,
            row.scope,
            aware_utc(row.expires_at),
            row.app_context,
            row.need_patient_banner,
        )


def _now() -> datetime:
    return datetime.now(UTC)
