"""Indexes of the read model (views/): what the API, dashboard and reports ask for.

* ``scores (user_id, window, run_id)`` replaces ``(user_id, window)``: a user's latest
  risk (newest day, newest run of it) is one index seek, with no sort.
* ``scores (window)``: the riskiest users of a period (top risks) read only its days.
* ``alerts (created_at)``: the alert queue and the KPIs of a period.
* ``audit_log (actor)``, ``audit_log (at)``: audit-trail search by principal and period.
* ``quarantine (quarantined_at)``: rows quarantined in a period (KPIs).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scores_user_window_run", "scores", ["user_id", "window", "run_id"])
    op.drop_index("ix_scores_user_window", table_name="scores")
    op.create_index("ix_scores_window", "scores", ["window"])
    op.create_index("ix_alerts_created", "alerts", ["created_at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_quarantine_at", "quarantine", ["quarantined_at"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_at", table_name="quarantine")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_alerts_created", table_name="alerts")
    op.drop_index("ix_scores_window", table_name="scores")
    op.create_index("ix_scores_user_window", "scores", ["user_id", "window"])
    op.drop_index("ix_scores_user_window_run", table_name="scores")
