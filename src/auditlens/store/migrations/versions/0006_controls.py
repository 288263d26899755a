"""Controls: who requested a close on whose behalf (four eyes with principals).

``alerts.close_requested_via`` holds the admin who asked to close an alert on behalf of
``close_requested_by``; neither may approve it.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("close_requested_via", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("close_requested_via")
