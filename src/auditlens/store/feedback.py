"""Feedback from triage: false-positive label candidates and suppressions (part of the
alerts aggregate: ``store.alerts.feedback``).

A dismissed alert becomes a label candidate (label 0) for the supervised model; a
suppression keeps the same user and scenario from alerting again until it expires.
Writes join the caller's transaction (``within(conn)``), with the audit entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, insert, select

from auditlens.store.db import label_candidates, suppressions
from auditlens.store.repository import Repository, utc

if TYPE_CHECKING:
    from auditlens.store.alerts import Alert


@dataclass(frozen=True)
class LabelCandidate:
    """A dismissed alert kept as a benign (label 0) example for the supervised model."""

    id: int
    alert_id: int
    user_id: str
    window: dt.date
    scenario: str
    label: int
    actor: str
    reason_code: str
    note: str
    audit_seq: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Suppression:
    """No new alerts of ``user_id`` and ``scenario`` until ``until`` (UTC)."""

    id: int
    user_id: str
    scenario: str
    until: dt.datetime
    alert_id: int
    actor: str
    created_at: dt.datetime


class FeedbackRepository(Repository):
    """Label candidates and suppressions made by triage decisions."""

    def add_label_candidate(
        self,
        alert: Alert,
        *,
        actor: str,
        reason_code: str,
        note: str,
        audit_seq: int,
        now: dt.datetime,
    ) -> None:
        """Store a dismissed alert as a benign (label 0) example for the supervised model."""
        with self._writing() as conn:
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

    def label_candidates(self) -> list[LabelCandidate]:
        """Every label candidate, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(select(label_candidates).order_by(label_candidates.c.id))
            return [
                LabelCandidate(**dict(r._mapping) | {"created_at": utc(r._mapping["created_at"])})
                for r in rows
            ]

    def add_suppression(
        self, alert: Alert, *, until: dt.datetime, actor: str, now: dt.datetime
    ) -> None:
        """Suppress new alerts of ``alert``'s user and scenario until ``until``."""
        with self._writing() as conn:
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
        self, user_id: str, scenario: str, now: dt.datetime
    ) -> Suppression | None:
        """The suppression in force for this user and scenario at ``now``, if any."""
        with self._reading() as conn:
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
        if row is None:
            return None
        found = dict(row._mapping)
        return Suppression(
            **found | {"until": utc(found["until"]), "created_at": utc(found["created_at"])}
        )
