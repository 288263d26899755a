"""Streaming (issue 19): compacted lake parts (a stream writes a part per micro-batch).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lake_segments",
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("ingest_batches.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("part", sa.String(300), nullable=False),
        sa.Column("first_row", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("part_sha256", sa.String(64), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=True),
        sa.Column("compacted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lake_segments_part", "lake_segments", ["part"])
    op.create_table(
        "lake_retired",
        sa.Column("part", sa.String(300), primary_key=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lake_retired")
    op.drop_index("ix_lake_segments_part", table_name="lake_segments")
    op.drop_table("lake_segments")
