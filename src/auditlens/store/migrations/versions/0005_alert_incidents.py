"""Alerts that say what the run found: incident days, appended evidence, runs whose
alerts are still to be raised, and the scoring configuration of each run.

* ``alerts.windows``: every day of the alerted peak incident (JSON list of ISO days);
  '[]' on alerts opened before this revision (their incident is ``window``).
* ``alert_evidence``: each detection an alert absorbed (the one that opened it first).
* ``score_runs.alerts_state``: ``pending`` until every alert of the run is raised (then
  ``raised``, in the same transaction as the last alert), ``skipped`` with --no-alerts.
  Runs stored before this revision are taken as raised.
* ``score_runs.config``: the settings that change scores (JSON), so a run can say which
  of them changed since the previous one.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("alerts", sa.Column("windows", sa.Text(), nullable=False, server_default="[]"))
    op.add_column(
        "score_runs",
        sa.Column("alerts_state", sa.String(20), nullable=False, server_default="raised"),
    )
    op.add_column("score_runs", sa.Column("alerts_raised_at", TS, nullable=True))
    op.add_column("score_runs", sa.Column("config", sa.Text(), nullable=True))
    op.create_index("ix_score_runs_alerts_state", "score_runs", ["alerts_state"])
    op.create_index("ix_alerts_user", "alerts", ["user_id", "status"])
    op.create_table(
        "alert_evidence",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("score_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("windows", sa.Text(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("scenario", sa.String(200), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_index("ix_alert_evidence_alert", "alert_evidence", ["alert_id"])
    op.create_index("ix_alert_evidence_score", "alert_evidence", ["score_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_evidence_score", table_name="alert_evidence")
    op.drop_index("ix_alert_evidence_alert", table_name="alert_evidence")
    op.drop_table("alert_evidence")
    op.drop_index("ix_alerts_user", table_name="alerts")
    op.drop_index("ix_score_runs_alerts_state", table_name="score_runs")
    with op.batch_alter_table("score_runs") as batch:
        batch.drop_column("config")
        batch.drop_column("alerts_raised_at")
        batch.drop_column("alerts_state")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("windows")
