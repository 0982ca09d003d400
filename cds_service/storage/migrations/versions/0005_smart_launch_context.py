"""What the EHR said about a SMART launch beyond the patient: the card's appContext, the banner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("smart_session", sa.Column("app_context", sa.Text, nullable=True))
    op.add_column("smart_session", sa.Column("need_patient_banner", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("smart_session") as table:
        table.drop_column("need_patient_banner")
        table.drop_column("app_context")
