"""The database schema; Alembic migrations in `migrations/` create and change it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Every card the service has answered with, so feedback can be joined to what was shown.
# The patient appears only as a keyed hash (see `cds_service.privacy`), never as the raw id.
issued_card = Table(
    "issued_card",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(64), nullable=False),
    # The EHR (JWT `iss`) it was shown through: only that EHR may send feedback on it.
    # NULL for cards issued before issuers were recorded (revision 0007).
    Column("issuer", String(255), nullable=True),
    Column("hook_instance", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("patient_pseudonym", String(64), nullable=False),
    Column("indicator", String(16), nullable=False),
    Column("card_type", String(64), nullable=True),
    # The risk band it was shown in (0 low, 1 moderate, 2 high), for "unless the band rises".
    Column("band", Integer, nullable=True),
    # Its suggestions' uuids and kinds, so an accepted suggestion can be recognised later.
    Column("suggestion_kinds", JSON, nullable=True),
    Index("ix_issued_card_patient", "service_id", "patient_pseudonym"),
    Index("ix_issued_card_type", "service_id", "card_type"),
)

# One row per distinct feedback entry; `entry_digest` makes a resent entry a no-op.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_digest", String(64), nullable=False, unique=True),
    Column("service_id", String(64), nullable=False),
    Column("card_uuid", String(128), nullable=False),
    # Always true since revision 0007 (feedback on a card not issued to its caller is refused).
    Column("card_known", Boolean, nullable=False),
    # The EHR (JWT `iss`) that sent it; NULL for entries stored before revision 0007.
    Column("issuer", String(255), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("accepted_suggestions", JSON, nullable=True),
    Column("override_reason", JSON, nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_card", "card_uuid"),
    Index("ix_feedback_service_time", "service_id", "outcome_timestamp"),
)

# `jti` values already seen, kept until their token expires; shared by every worker.
jwt_replay = Table(
    "jwt_replay",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_jwt_replay_expires", "expires_at"),
)

# The admin-managed configuration, one row per accepted change (append-only: a rollback is a
# new version carrying an earlier document). The highest version is the one in force.
config_version = Table(
    "config_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("comment", Text, nullable=True),
    Column("document", JSON, nullable=False),
    # [{"path": "cards.diabetes.high_from", "from": 0.4, "to": 0.35}, ...]
    Column("changes", JSON, nullable=False),
    Column("restored_from", Integer, nullable=True),
)

# Who did what on the admin side: changes, sign-ins, refused attempts. Never patient data.
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(32), nullable=False),
    Column("actor", String(128), nullable=True),
    # The client address, for telling one brute-forcing source from another.
    Column("source", String(64), nullable=True),
    Column("detail", JSON, nullable=True),
    Index("ix_audit_event_source", "event", "source", "at"),
)

# Signed-in admin page sessions; the cookie holds a random id, the table only its hash.
admin_session = Table(
    "admin_session",
    metadata,
    Column("session_sha256", String(64), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# SMART launches between the redirect to the EHR's authorize endpoint and the code coming back;
# keyed by a hash of `state`, single use. The PKCE verifier never leaves the server.
smart_launch = Table(
    "smart_launch",
    metadata,
    Column("state_sha256", String(64), primary_key=True),
    Column("iss", String(512), nullable=False),
    Column("token_endpoint", String(1024), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Launched detail-app sessions: the cookie holds a random id, the table its hash and the
# EHR's access token, which is never sent to the browser.
smart_session = Table(
    "smart_session",
    metadata,
    Column("session_sha256", String(64), primary_key=True),
    Column("iss", String(512), nullable=False),
    Column("patient", String(128), nullable=False),
    Column("access_token", Text, nullable=False),
    Column("scope", Text, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # The `appContext` of the card it was launched from, and whether the app shows a banner.
    Column("app_context", Text, nullable=True),
    Column("need_patient_banner", Boolean, nullable=True),
)

# Finished note summaries, shared by every worker and replica, keyed by a SHA-256 of the notes
# they summarise and by how they were read (`reading`: the reading rules' version and the
# embedder), so a chart is summarised once however many workers see it. The summary holds
# quotes of the notes: this table holds patient data (PHI), as the feedback tables beside it
# do; it names no patient, and rows expire (`cds_service.storage.note_summaries`). A row with
# no summary yet is a claim: `claimed_by` is making it, until `claim_expires_at`.
note_summary = Table(
    "note_summary",
    metadata,
    Column("content_sha256", String(64), primary_key=True),
    Column("reading", String(128), primary_key=True),
    Column("summary", Text, nullable=True),
    Column("claimed_by", String(128), nullable=False),
    Column("claim_expires_at", DateTime(timezone=True), nullable=False),
    # How many times a worker set out to make it: more than 1 only after a lapsed claim.
    Column("claims", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=True),
    Index("ix_note_summary_created", "created_at"),
)
