"""Note summaries shared by every worker: made once per chart content, claimed while being made.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note_summary",
        sa.Column("content_sha256", sa.String(64), primary_key=True),
        sa.Column("reading", sa.String(128), primary_key=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claims", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_note_summary_created", "note_summary", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_note_summary_created", table_name="note_summary")
    op.drop_table("note_summary")
