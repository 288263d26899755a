"""Streaming (issue 19): the online detector's score of each window a stream run scored.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "online_scores",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("window", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("learned", sa.BigInteger(), nullable=False),
        sa.Column("closing", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
    )
    op.create_index("ix_online_scores_run", "online_scores", ["run_id"])
    op.create_index("ix_online_scores_user", "online_scores", ["user_id", "window"])


def downgrade() -> None:
    op.drop_index("ix_online_scores_user", table_name="online_scores")
    op.drop_index("ix_online_scores_run", table_name="online_scores")
    op.drop_table("online_scores")
