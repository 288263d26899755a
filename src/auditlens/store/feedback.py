"""Feedback from triage: false-positive label candidates and suppressions.

A dismissed alert becomes a label candidate (label 0) for the supervised model; a
suppression keeps the same user and scenario from alerting again until it expires.
Writers take the caller's ``Connection`` (one transaction with the audit entry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select

from auditlens.store.alerts import Alert, utc
from auditlens.store.db import label_candidates, suppressions


def add_label_candidate(
    conn: Connection,
    alert: Alert,
    *,
    actor: str,
    reason_code: str,
    note: str,
    audit_seq: int,
    now: dt.datetime,
) -> None:
    """Store a dismissed alert as a benign (label 0) example for the supervised model."""
    conn.execute(
        insert(label_candidates).values(
            alert_id=alert.id,
            user_id=alert.user_id,
            window=alert.window,
            scenario=alert.scenario,
            label=0,
            actor=actor,
            reason_code=reason_code,
            note=note,
            audit_seq=audit_seq,
            created_at=utc(now),
        )
    )


def label_candidate_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every label candidate (``user_id, window, scenario, label, ...``), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(label_candidates).order_by(label_candidates.c.id))
        return [dict(r._mapping) for r in rows]


def add_suppression(
    conn: Connection, alert: Alert, *, until: dt.datetime, actor: str, now: dt.datetime
) -> None:
    """Suppress new alerts of ``alert``'s user and scenario until ``until``."""
    conn.execute(
        insert(suppressions).values(
            user_id=alert.user_id,
            scenario=alert.scenario,
            until=utc(until),
            alert_id=alert.id,
            actor=actor,
            created_at=utc(now),
        )
    )


def active_suppression(
    conn: Connection, user_id: str, scenario: str, now: dt.datetime
) -> dict[str, Any] | None:
    """The suppression in force for this user and scenario at ``now``, if any."""
    row = conn.execute(
        select(suppressions)
        .where(
            and_(
                suppressions.c.user_id == user_id,
                suppressions.c.scenario == scenario,
                suppressions.c.until > utc(now),
            )
        )
        .order_by(suppressions.c.until.desc())
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping) | {"until": utc(row._mapping["until"])}
