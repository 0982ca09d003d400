"""Note summaries shared by every worker and replica through the service's database.

A chart's summary is made once: the first worker to see the chart inserts a claim (a row with
no summary yet, held until its lease lapses); a worker that finds the claim waits for the
summary rather than making its own; the maker writes the summary into the row. A claim whose
lease lapsed (its worker died or stalled) may be taken by the next worker that sees the chart.

The rows hold quotes of patients' notes: patient data (PHI) in the same database as the
feedback, kept `RETENTION_DAYS` days after they were first claimed and then deleted (purged at
most every `PURGE_INTERVAL_SECONDS` per process, by a worker that claims). Nothing here logs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cds_service.storage.database import reading
from cds_service.storage.dataclass_json import DocumentMismatch, from_json, to_json
from cds_service.storage.stores import aware_utc
from cds_service.storage.tables import note_summary
from models.note_summary import NoteSummary

# A chart's notes seldom stay unchanged longer, and a week of summaries is a bounded table:
# a summary deleted early is only made again on the next view.
RETENTION_DAYS = 7
PURGE_INTERVAL_SECONDS = 600.0
# Longer than any summary takes (a 10-note chart: 0.3-2 s, more when the worker's queue is
# long), short enough that a chart whose maker died gets its summary on a view soon after.
CLAIM_LEASE = timedelta(seconds=120)


@dataclass(frozen=True)
class StoredSummary:
    """What the store holds for a chart: its summary, or whether another worker is making it."""

    summary: NoteSummary | None
    being_made_elsewhere: bool


NOT_STORED = StoredSummary(None, being_made_elsewhere=False)


class NoteSummaryStore:
    """Finished note summaries and the claims on those being made, by content hash."""

    def __init__(self, engine: Engine, lease: timedelta = CLAIM_LEASE) -> None:
        self._engine = engine
        self._reader = reading(engine)
        self._lease = lease
        self._last_purge = 0.0
        self._purge_lock = threading.Lock()

    def lookup(self, content_sha256: str, how: str, worker: str) -> StoredSummary:
        """The stored summary, else whether a worker other than `worker` holds a live claim."""
        query = select(
            note_summary.c.summary, note_summary.c.claimed_by, note_summary.c.claim_expires_at
        ).where(note_summary.c.content_sha256 == content_sha256, note_summary.c.reading == how)
        with self._reader.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return NOT_STORED
        if row.summary is not None:
            try:
                return StoredSummary(from_json(NoteSummary, row.summary), False)
            except DocumentMismatch:
                # Written by code whose summary had another shape: made again, written over.
                self._forget(content_sha256, how)
                return NOT_STORED
        live = aware_utc(row.claim_expires_at) > datetime.now(UTC)
        return StoredSummary(None, being_made_elsewhere=live and row.claimed_by != worker)

    def claim(self, content_sha256: str, how: str, worker: str) -> bool:
        """Take the making of this summary; False when it is made or another's claim is live."""
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            self._purge_old(connection, now)
            row = {
                "content_sha256": content_sha256,
                "reading": how,
                "summary": None,
                "claimed_by": worker,
                "claim_expires_at": now + self._lease,
                "claims": 1,
                "created_at": now,
                "made_at": None,
            }
            statement = _insert(connection).values(**row).on_conflict_do_nothing()
            if connection.execute(statement.returning(note_summary.c.claims)).first():
                return True
            # A claim whose lease lapsed is taken over, and this worker's own renewed (it lost
            # track of it: its summary failed and the release did not reach the database);
            # a finished summary never is.
            own = note_summary.c.claimed_by == worker
            taken = connection.execute(
                update(note_summary)
                .where(
                    note_summary.c.content_sha256 == content_sha256,
                    note_summary.c.reading == how,
                    note_summary.c.summary.is_(None),
                    or_(note_summary.c.claim_expires_at < now, own),
                )
                .values(
                    claimed_by=worker,
                    claim_expires_at=now + self._lease,
                    claims=case((own, note_summary.c.claims), else_=note_summary.c.claims + 1),
                )
                .returning(note_summary.c.claims)
            ).first()
            return taken is not None

    def finish(self, content_sha256: str, how: str, worker: str, summary: NoteSummary) -> None:
        """Store the summary made (over a claim, whoever holds it now: both made the same)."""
        now = datetime.now(UTC)
        document = to_json(summary)
        row = {
            "content_sha256": content_sha256,
            "reading": how,
            "summary": document,
            "claimed_by": worker,
            "claim_expires_at": now,
            "claims": 1,
            "created_at": now,
            "made_at": now,
        }
        with self._engine.begin() as connection:
            statement = (
                _insert(connection)
                .values(**row)
                .on_conflict_do_update(
                    index_elements=["content_sha256", "reading"],
                    set_={"summary": document, "made_at": now, "claim_expires_at": now},
                )
            )
            connection.execute(statement)

    def release(self, content_sha256: str, how: str, worker: str) -> None:
        """Give up this worker's claim (its summary failed), so the next view may try again."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(note_summary).where(
                    note_summary.c.content_sha256 == content_sha256,
                    note_summary.c.reading == how,
                    note_summary.c.summary.is_(None),
                    note_summary.c.claimed_by == worker,
                )
            )

    def claims_of(self, content_sha256: str, how: str) -> int:
        """How many times workers set out to make this summary (0: never), for monitoring."""
        query = select(note_summary.c.claims).where(
            note_summary.c.content_sha256 == content_sha256, note_summary.c.reading == how
        )
        with self._reader.connect() as connection:
            return int(connection.scalar(query) or 0)

    def _forget(self, content_sha256: str, how: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(note_summary).where(
                    note_summary.c.content_sha256 == content_sha256, note_summary.c.reading == how
                )
            )

    def _purge_old(self, connection: Connection, now: datetime) -> None:
        moment = time.monotonic()
        with self._purge_lock:
            if self._last_purge and moment - self._last_purge < PURGE_INTERVAL_SECONDS:
                return
            self._last_purge = moment
        cutoff = now - timedelta(days=RETENTION_DAYS)
        connection.execute(delete(note_summary).where(note_summary.c.created_at < cutoff))


def _insert(connection: Connection) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(note_summary)
    if dialect == "sqlite":
        return sqlite.insert(note_summary)
    raise NotImplementedError(f"unsupported database dialect {dialect}")  # pragma: no cover
