"""What suppression needs of an issued card: its risk band and its suggestions' kinds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issued_card") as table:
        table.add_column(sa.Column("band", sa.Integer, nullable=True))
        table.add_column(sa.Column("suggestion_kinds", sa.JSON, nullable=True))
    op.create_index("ix_issued_card_type", "issued_card", ["service_id", "card_type"])


def downgrade() -> None:
    op.drop_index("ix_issued_card_type", "issued_card")
    with op.batch_alter_table("issued_card") as table:
        table.drop_column("suggestion_kinds")
        table.drop_column("band")
