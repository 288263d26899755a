"""Models: the order of registration (a refit that reproduces a registered model's
bytes registers it again, newest).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("registered", sa.Integer(), nullable=True))
    op.execute("UPDATE models SET registered = id")
    with op.batch_alter_table("models") as batch:
        batch.alter_column("registered", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("registered")
