"""The event lake's identity: which lake belongs to this store, pending parts, part hashes.

``store_identity`` holds one row: the store's id (also written into the lake as
``.store-id``) and where its lake was bound. ``lake_pending`` records a part's name
*before* the part is written; the batch's commit removes the row, so cleanup after a
crash deletes only parts this store wrote and never committed. ``ingest_batches``
gains the sha256 of its part (checked by ``auditlens audit verify``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "store_identity",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("lake_location", sa.Text(), nullable=False),
        sa.Column("bound_at", TS, nullable=False),
    )
    op.create_table(
        "lake_pending",
        sa.Column("part", sa.String(300), primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    with op.batch_alter_table("ingest_batches") as batch:
        batch.add_column(sa.Column("lake_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_batches") as batch:
        batch.drop_column("lake_sha256")
    op.drop_table("lake_pending")
    op.drop_table("store_identity")
