"""Scoring: fitted models, score runs and per-window scores with replay evidence.

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

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("feature_columns", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("n_train", sa.BigInteger(), nullable=False),
        sa.Column("data_batch_id", sa.Integer(), nullable=True),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "score_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("model_sha256", sa.String(64), sa.ForeignKey("models.sha256"), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("data_batch_id", sa.Integer(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("windows", sa.BigInteger(), nullable=False),
        sa.Column("reason_method", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("capacity_cutoff", sa.Float(), nullable=True),
    )
    op.create_table(
        "scores",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("window", sa.Date(), nullable=False),
        sa.Column("raw_score", sa.Float(), nullable=False),
        sa.Column("surprise", sa.Float(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("decayed_risk", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("feature_hash", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("data_batch_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_scores_user_window", "scores", ["user_id", "window"])
    op.create_index("ix_scores_run", "scores", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_scores_run", table_name="scores")
    op.drop_index("ix_scores_user_window", table_name="scores")
    op.drop_table("scores")
    op.drop_table("score_runs")
    op.drop_table("models")
