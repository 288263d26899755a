"""The model registry's version each score run scored with (issue 16: `auditlens run`
scores with the MLflow registry's champion and records which version it was; the run's
``model_sha256`` is that version's ``sha256`` tag).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("score_runs") as batch:
        batch.add_column(sa.Column("model_version", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score_runs") as batch:
        batch.drop_column("model_version")
