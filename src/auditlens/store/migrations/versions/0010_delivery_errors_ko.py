"""A delivery's last error and each attempt's error in Korean too (issue 12: what a person
reads is in their language; the English stays the stored record the trail notes repeat).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("last_error_ko", sa.Text, nullable=True))
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("error_ko", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("error_ko")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("last_error_ko")
