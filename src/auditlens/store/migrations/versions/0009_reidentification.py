"""Re-identification requests: an analyst asks to see the person behind one alert, a
different approver grants or denies it, time-limited (auditlens.privacy).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reidentifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_via", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_via", sa.String(200), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
    )
    op.create_index("ix_reidentifications_alert", "reidentifications", ["alert_id", "requested_by"])
    op.create_index("ix_reidentifications_status", "reidentifications", ["status"])


def downgrade() -> None:
    op.drop_index("ix_reidentifications_status", table_name="reidentifications")
    op.drop_index("ix_reidentifications_alert", table_name="reidentifications")
    op.drop_table("reidentifications")
