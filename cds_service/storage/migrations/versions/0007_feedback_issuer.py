"""The EHR (JWT `iss`) each card was issued to and each feedback entry came from.

Feedback is accepted only for cards issued to its caller, and the feedback summary counts each
issuer apart. Rows written before this revision have no issuer (NULL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issued_card") as table:
        table.add_column(sa.Column("issuer", sa.String(255), nullable=True))
    with op.batch_alter_table("feedback") as table:
        table.add_column(sa.Column("issuer", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.drop_column("issuer")
    with op.batch_alter_table("issued_card") as table:
        table.drop_column("issuer")
