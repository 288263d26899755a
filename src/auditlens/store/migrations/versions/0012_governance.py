"""Models under governance (issue 16): drift per run, the challenger's shadow scores,
review samples of unflagged users (miss-rate sampling) and the store's record of which
registry version was champion from when.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "run_drift",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("ks", sa.Float(), nullable=True),
        sa.Column("ks_pvalue", sa.Float(), nullable=True),
        sa.Column("reference_value", sa.Float(), nullable=True),
        sa.Column("current_value", sa.Float(), nullable=True),
        sa.Column("reference_n", sa.BigInteger(), nullable=False),
        sa.Column("current_n", sa.BigInteger(), nullable=False),
        sa.Column("drifted", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("bins", sa.Text(), nullable=True),
    )
    op.create_index("ix_run_drift_run", "run_drift", ["run_id"])
    op.create_table(
        "shadow_scores",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("window", sa.Date(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
    )
    op.create_index("ix_shadow_scores_run", "shadow_scores", ["run_id"])
    op.create_index("ix_shadow_scores_user", "shadow_scores", ["user_id", "window"])
    op.create_table(
        "review_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), nullable=False),
        sa.Column("score_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("window", sa.Date(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("reason_code", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_review_samples_status", "review_samples", ["status"])
    op.create_index("ix_review_samples_run", "review_samples", ["run_id"])
    op.create_table(
        "champions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("champions")
    op.drop_index("ix_review_samples_run", table_name="review_samples")
    op.drop_index("ix_review_samples_status", table_name="review_samples")
    op.drop_table("review_samples")
    op.drop_index("ix_shadow_scores_user", table_name="shadow_scores")
    op.drop_index("ix_shadow_scores_run", table_name="shadow_scores")
    op.drop_table("shadow_scores")
    op.drop_index("ix_run_drift_run", table_name="run_drift")
    op.drop_table("run_drift")
