"""Issued cards, feedback and the JWT replay store.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_pseudonym", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("card_type", sa.String(64), nullable=True),
    )
    op.create_index("ix_issued_card_patient", "issued_card", ["service_id", "patient_pseudonym"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("card_known", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON, nullable=True),
        sa.Column("override_reason", sa.JSON, nullable=True),
        sa.Column("override_comment", sa.Text, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_card", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_service_time", "feedback", ["service_id", "outcome_timestamp"])
    op.create_table(
        "jwt_replay",
        sa.Column("issuer", sa.String(255), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jwt_replay_expires", "jwt_replay", ["expires_at"])


def downgrade() -> None:
    op.drop_table("jwt_replay")
    op.drop_table("feedback")
    op.drop_table("issued_card")
