"""Ingestion: batches (lake manifest), watermarks, quarantine, tampering findings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("committed_at", TS, nullable=False),
        sa.Column("ingested", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.Column("watermark_before", sa.Text(), nullable=True),
        sa.Column("watermark_after", sa.Text(), nullable=False),
        sa.Column("lake_part", sa.String(300), nullable=True),
        sa.Column("min_ts", TS, nullable=True),
        sa.Column("max_ts", TS, nullable=True),
    )
    op.create_index("ix_ingest_batches_source", "ingest_batches", ["source"])
    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("ingest_batches.id"), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("ingest_batches.id"), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("quarantined_at", TS, nullable=False),
    )
    op.create_index("ix_quarantine_batch", "quarantine", ["batch_id"])
    op.create_table(
        "tamper_findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("ingest_batches.id"), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=True),
        sa.Column("table_name", sa.String(200), nullable=True),
        sa.Column("row_key", sa.Text(), nullable=True),
        sa.Column("op", sa.String(30), nullable=False),
        sa.Column("changed_at", TS, nullable=True),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("stored_copy", sa.Text(), nullable=True),
        sa.Column("current_row", sa.Text(), nullable=True),
        sa.Column("detected_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tamper_findings")
    op.drop_index("ix_quarantine_batch", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_table("watermarks")
    op.drop_index("ix_ingest_batches_source", table_name="ingest_batches")
    op.drop_table("ingest_batches")
