"""Reading and writing the service's records; every write is one committed transaction."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from cards.policy import Band, FeedbackHistory
from cds_service.storage.database import reading
from cds_service.storage.tables import feedback, issued_card, jwt_replay

ACCEPTED = "accepted"
OVERRIDDEN = "overridden"


def aware_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class IssuedCardRecord:
    """A card as shown to a clinician, with the patient only as a pseudonym."""

    card_uuid: str
    service_id: str
    # The EHR (JWT `iss`) it was shown through, the only one whose feedback on it is accepted.
    issuer: str
    hook_instance: str
    patient_pseudonym: str
    indicator: str
    card_type: str | None
    issued_at: datetime
    band: int | None = None
    # suggestion uuid -> kind
    suggestion_kinds: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackRecord:
    """One validated feedback entry as the EHR sent it."""

    card_uuid: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...]
    override_reason: dict[str, Any] | None
    override_comment: str | None

    def digest(self, service_id: str) -> str:
        """A stable fingerprint, so the same entry sent twice is stored once."""
        canonical = json.dumps(
            {
                "service": service_id,
                "card": self.card_uuid,
                "outcome": self.outcome,
                "at": self.outcome_timestamp.astimezone(UTC).isoformat(),
                "accepted": sorted(self.accepted_suggestions),
                "reason": self.override_reason,
                "comment": self.override_comment,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FeedbackReceipt:
    """What happened to a batch of feedback entries.

    `not_issued` holds the positions of entries whose card this service did not issue to the
    caller; when there are any, the batch was refused whole and nothing was stored.
    """

    stored: int
    duplicates: int
    not_issued: tuple[int, ...] = ()


def _insert_ignoring_conflicts(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> int:
    """Insert rows, skipping those whose `keys` already exist; return how many were new."""
    statement = _insert_skipping_conflicts(connection.dialect.name, table, tuple(keys))
    return sum(len(connection.execute(statement, row).all()) for row in rows)


@functools.cache
def _insert_skipping_conflicts(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    # Built once per table: composing a statement costs more CPU than running it on SQLite, and
    # every hook call runs these (bench/hook_profile.py).
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - only the two tested databases are supported
        raise NotImplementedError(f"unsupported database dialect {dialect}")
    # RETURNING says whether the row went in; rowcount is not reliable across drivers
    # (psycopg 3 reports -1 here).
    return statement.on_conflict_do_nothing(index_elements=list(keys)).returning(table.c[keys[0]])


# The statements every hook call runs, composed once (see `_insert_skipping_conflicts`).
_SPENT = select(jwt_replay.c.jti).where(
    jwt_replay.c.issuer == bindparam("issuer"), jwt_replay.c.jti == bindparam("jti")
)

# The patient's cards first (ix_issued_card_patient), then their feedback by card
# (ix_feedback_card): a few rows per call. The feedback's own service is checked in Python, not
# in SQL: SQLite, seeing `feedback.service_id = ?`, walks every feedback row of the service in
# the period (ix_feedback_service_time) instead, a cost that grows with all patients' feedback
# (bench/call_reads.py).
_FEEDBACK_HISTORY = (
    select(
        issued_card.c.card_type,
        issued_card.c.band,
        issued_card.c.suggestion_kinds,
        feedback.c.service_id,
        feedback.c.outcome,
        feedback.c.accepted_suggestions,
        feedback.c.outcome_timestamp,
    )
    .join(feedback, feedback.c.card_uuid == issued_card.c.card_uuid)
    .where(
        issued_card.c.service_id == bindparam("service_id"),
        issued_card.c.patient_pseudonym == bindparam("patient_pseudonym"),
        feedback.c.outcome_timestamp >= bindparam("since"),
    )
)


@dataclass(frozen=True)
class TokenUse:
    """A verified token's one use: its issuer and id, remembered until it has expired."""

    issuer: str
    jti: str
    # The token's `exp` plus the allowed clock skew: after it, the token is refused anyway.
    expires_at: datetime


class ReplayStore:
    """Remembers every `jti` until its token expires, across all workers (via the database).

    A token is spent by writing its `jti`, in the same transaction as what its call leaves
    behind when there is something (`IssuedCardStore.record`): the unique key, not the read
    of `spent`, is what refuses a replay sent while the first use is still running.
    """

    # Expired entries are purged at most this often per process, so the table stays small
    # without a write on every call.
    PURGE_INTERVAL_SECONDS = 60.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reading(engine)
        self._last_purge = 0.0
        self._lock = threading.Lock()

    def spent(self, issuer: str, jti: str) -> bool:
        """Whether the token id was used before (a read: no lock, no sync to disk)."""
        with self._reader.connect() as connection:
            return connection.execute(_SPENT, {"issuer": issuer, "jti": jti}).first() is not None

    def spend(self, use: TokenUse, connection: Connection | None = None) -> bool:
        """Record the token's use; False when it had been used before (a replay).

        Inside `connection`'s transaction when one is given (its owner commits), else in a
        transaction of its own.
        """
        if connection is None:
            with self._engine.begin() as own:
                return self.spend(use, own)
        self._purge_expired(connection)
        row = {"issuer": use.issuer, "jti": use.jti, "expires_at": use.expires_at}
        return _insert_ignoring_conflicts(connection, jwt_replay, [row], ["issuer", "jti"]) == 1

    def _purge_expired(self, connection: Connection) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_purge < self.PURGE_INTERVAL_SECONDS:
                return
            self._last_purge = now
        connection.execute(delete(jwt_replay).where(jwt_replay.c.expires_at < datetime.now(UTC)))


class IssuedCardStore:
    """The cards the service has answered with."""

    def __init__(self, engine: Engine, replay: ReplayStore | None = None) -> None:
        self._engine = engine
        self._reader = reading(engine)
        self._replay = replay

    def record(self, cards: Sequence[IssuedCardRecord], token: TokenUse | None = None) -> bool:
        """Store the cards of one answer and spend the call's token, in one transaction.

        One commit, so one sync to disk per call: the answer leaves only after both are durable.
        False, with nothing stored, when the token had been spent before (a replay).
        """
        if not cards and token is None:
            return True
        rows = [
            {
                "card_uuid": card.card_uuid,
                "service_id": card.service_id,
                "issuer": card.issuer,
                "hook_instance": card.hook_instance,
                "issued_at": card.issued_at,
                "patient_pseudonym": card.patient_pseudonym,
                "indicator": card.indicator,
                "card_type": card.card_type,
                "band": card.band,
                "suggestion_kinds": dict(card.suggestion_kinds) or None,
            }
            for card in cards
        ]
        with self._engine.begin() as connection:
            if token is not None:
                if self._replay is None:
                    raise ValueError("a token can be spent only by a store given the replay store")
                if not self._replay.spend(token, connection):
                    return False
            if rows:
                _insert_ignoring_conflicts(connection, issued_card, rows, ["card_uuid"])
        return True

    def feedback_history(
        self,
        service_id: str,
        patient_pseudonym: str,
        now: datetime,
        overridden_days: int,
        accepted_days: int,
    ) -> FeedbackHistory:
        """What clinicians said about this patient's cards of this service, still in force."""
        overridden_since = now - timedelta(days=overridden_days)
        accepted_since = now - timedelta(days=accepted_days)
        overridden: dict[str, Band | None] = {}
        accepted: set[str] = set()
        parameters = {
            "service_id": service_id,
            "patient_pseudonym": patient_pseudonym,
            "since": min(overridden_since, accepted_since),
        }
        with self._reader.connect() as connection:
            for row in connection.execute(_FEEDBACK_HISTORY, parameters):
                if row.service_id != service_id:
                    continue
                at = aware_utc(row.outcome_timestamp)
                if row.outcome == OVERRIDDEN and at >= overridden_since and row.card_type:
                    band = None if row.band is None else Band(row.band)
                    earlier = overridden.get(row.card_type, band)
                    both = [b for b in (earlier, band) if b is not None]
                    overridden[row.card_type] = max(both) if both else None
                elif row.outcome == ACCEPTED and at >= accepted_since:
                    kinds = row.suggestion_kinds or {}
                    accepted.update(kinds[s] for s in row.accepted_suggestions or () if s in kinds)
        return FeedbackHistory(overridden, frozenset(accepted))


class FeedbackStore:
    """Clinicians' feedback on cards."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def store(
        self, service_id: str, issuer: str, entries: Sequence[FeedbackRecord]
    ) -> FeedbackReceipt:
        """Store a batch atomically; entries already stored are counted, not stored again.

        Only cards this service issued to `issuer` may have feedback (or, for cards issued before
        issuers were recorded, any caller): feedback on other cards is what lets one caller fill
        the database or move the override rates of cards shown through another EHR.
        """
        received_at = datetime.now(UTC)
        card_uuids = sorted({entry.card_uuid for entry in entries})
        with self._engine.begin() as connection:
            issued = set(
                connection.scalars(
                    select(issued_card.c.card_uuid).where(
                        issued_card.c.service_id == service_id,
                        issued_card.c.card_uuid.in_(card_uuids),
                        or_(issued_card.c.issuer == issuer, issued_card.c.issuer.is_(None)),
                    )
                )
            )
            not_issued = tuple(
                index for index, entry in enumerate(entries) if entry.card_uuid not in issued
            )
            if not_issued:
                return FeedbackReceipt(stored=0, duplicates=0, not_issued=not_issued)
            rows = [
                {
                    "entry_digest": entry.digest(service_id),
                    "service_id": service_id,
                    "issuer": issuer,
                    "card_uuid": entry.card_uuid,
                    "card_known": True,
                    "outcome": entry.outcome,
                    "outcome_timestamp": entry.outcome_timestamp.astimezone(UTC),
                    "accepted_suggestions": list(entry.accepted_suggestions) or None,
                    "override_reason": entry.override_reason,
                    "override_comment": entry.override_comment,
                    "received_at": received_at,
                }
                for entry in entries
            ]
            stored = _insert_ignoring_conflicts(connection, feedback, rows, ["entry_digest"])
        return FeedbackReceipt(stored=stored, duplicates=len(entries) - stored)
