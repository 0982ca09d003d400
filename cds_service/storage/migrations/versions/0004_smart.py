"""The SMART detail app's launches in progress and its sessions, shared by every worker.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_launch",
        sa.Column("state_sha256", sa.String(64), primary_key=True),
        sa.Column("iss", sa.String(512), nullable=False),
        sa.Column("token_endpoint", sa.String(1024), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "smart_session",
        sa.Column("session_sha256", sa.String(64), primary_key=True),
        sa.Column("iss", sa.String(512), nullable=False),
        sa.Column("patient", sa.String(128), nullable=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("smart_session")
    op.drop_table("smart_launch")
