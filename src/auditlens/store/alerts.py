"""The alerts aggregate: alerts and their evidence, with the delivery outbox
(store/outbox.py) and triage feedback (store/feedback.py) reachable from it.

Writes that must commit with their audit entry (store/audit.py) run in the caller's
transaction: bind the repository to it with ``within(conn)``. All times are stored in UTC.

Example::

    with store.engine.begin() as conn:
        alerts = store.alerts.within(conn)
        alerts.set_status(7, "acknowledged", now)
        store.trail.append(conn, entry, now)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, insert, select, update

from auditlens.store.db import alert_evidence, alerts
from auditlens.store.feedback import FeedbackRepository
from auditlens.store.outbox import OutboxRepository

# AlertNotFound: re-exported, callers know it as the alerts aggregate's error
from auditlens.store.repository import AlertNotFound as AlertNotFound
from auditlens.store.repository import Repository, hold_write_lock, new_id, utc

AlertStatus = Literal["open", "acknowledged", "escalated", "close_requested", "closed", "dismissed"]
ALERT_STATUSES: Final[tuple[str, ...]] = (
    "open",
    "acknowledged",
    "escalated",
    "close_requested",
    "closed",
    "dismissed",
)
#: An alert in one of these states is still being worked on: it absorbs new evidence.
ACTIVE_STATUSES: Final[tuple[str, ...]] = ("open", "acknowledged", "escalated", "close_requested")


@dataclass(frozen=True)
class NewAlert:
    """An alert to open for one stored score row."""

    dedup_key: str
    user_id: str
    department: str | None
    window: dt.date
    score_id: int
    run_id: int
    risk: float
    severity: str
    scenario: str
    reasons: list[dict[str, Any]]
    model_sha256: str
    #: Every day of the peak incident (tied at the peak risk), ``window`` first.
    windows: tuple[dt.date, ...] = ()


@dataclass(frozen=True)
class Alert:
    """A stored alert: who, how risky, why, and where it stands."""

    id: int
    dedup_key: str
    user_id: str
    department: str | None
    window: dt.date
    score_id: int
    run_id: int
    risk: float
    severity: str
    scenario: str
    reasons: list[dict[str, Any]]
    model_sha256: str
    status: str
    close_requested_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: Every day of the peak incident (``(window,)`` for alerts older than migration 0005).
    windows: tuple[dt.date, ...] = ()
    #: The admin who requested closing on close_requested_by's behalf (migration 0006).
    close_requested_via: str | None = None

    def reason_texts(self, lang: str) -> list[str]:
        """The stored reasons as sentences in ``lang`` (ko or en), strongest first; with
        several incident days each names its day."""
        several = len(self.windows) > 1
        return [
            (f"[{r['window']}] " if several and r.get("window") else "")
            + str(r.get(lang) or r.get("en") or r.get("feature", ""))
            for r in self.reasons
        ]


@dataclass(frozen=True)
class Evidence:
    """One detection an alert absorbed (kind: open, absorb, upgrade, duplicate)."""

    id: int
    alert_id: int
    score_id: int
    run_id: int
    kind: str
    windows: tuple[dt.date, ...]
    risk: float
    severity: str
    scenario: str
    reasons: list[dict[str, Any]]
    model_sha256: str
    added_at: dt.datetime


class AlertRepository(Repository):
    """Alerts and their evidence; ``outbox`` and ``feedback`` share its binding."""

    def __init__(self, bind: Engine | Connection) -> None:
        super().__init__(bind)
        #: Deliveries of these alerts (store/outbox.py).
        self.outbox = OutboxRepository(bind)
        #: Label candidates and suppressions from triage (store/feedback.py).
        self.feedback = FeedbackRepository(bind)

    def insert_alert(self, new: NewAlert, now: dt.datetime) -> Alert:
        """Open an alert (status ``open``) and return it."""
        values = new.__dict__ | {
            "windows": _days_json(new.windows or (new.window,)),
            "reasons": json.dumps(new.reasons, ensure_ascii=False, sort_keys=True),
            "status": "open",
            "close_requested_by": None,
            "close_requested_via": None,
            "created_at": utc(now),
            "updated_at": utc(now),
        }
        with self._writing() as conn:
            return _get(conn, new_id(conn.execute(insert(alerts).values(**values))))

    def get_alert(self, alert_id: int, *, for_update: bool = False) -> Alert:
        """The alert with this id; ``for_update``: locked until the caller's transaction
        ends, so a decision is planned on the status it will change (two people deciding
        on one alert at once: the second sees the first's result).

        Raises:
            AlertNotFound: no such alert.
        """
        with self._reading() as conn:
            if not for_update:
                return _get(conn, alert_id)
            hold_write_lock(conn)
            return _get(conn, alert_id, for_update=True)

    def alert_for_score(self, score_id: int) -> int | None:
        """Id of the alert opened for a score row, if any."""
        with self._reading() as conn:
            value = conn.execute(select(alerts.c.id).where(alerts.c.score_id == score_id)).scalar()
        return None if value is None else int(value)

    def recent_alert(self, dedup_key: str, since: dt.datetime) -> Alert | None:
        """The newest alert with ``dedup_key`` opened at or after ``since``."""
        with self._reading() as conn:
            row = conn.execute(
                select(alerts)
                .where(alerts.c.dedup_key == dedup_key, alerts.c.created_at >= utc(since))
                .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else _alert(dict(row._mapping))

    def user_alerts(self, user_id: str) -> list[Alert]:
        """Every alert of a monitored user, newest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(alerts)
                .where(alerts.c.user_id == user_id)
                .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
            )
            return [_alert(dict(r._mapping)) for r in rows]

    def list_alerts(self, *, statuses: tuple[str, ...] = (), limit: int = 100) -> list[Alert]:
        """Alerts, newest first, optionally only those in ``statuses``."""
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(alerts.c.status.in_(statuses))
        with self._reading() as conn:
            return [_alert(dict(r._mapping)) for r in conn.execute(query)]

    def update_headline(
        self,
        alert_id: int,
        *,
        window: dt.date,
        windows: tuple[dt.date, ...],
        risk: float,
        severity: str,
        scenario: str,
        reasons: list[dict[str, Any]],
        model_sha256: str,
        now: dt.datetime,
    ) -> Alert:
        """Make an alert show newer evidence (the caller appends it with
        :meth:`add_evidence` and audits the change)."""
        with self._writing() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(
                    window=window,
                    windows=_days_json(windows or (window,)),
                    risk=risk,
                    severity=severity,
                    scenario=scenario,
                    reasons=json.dumps(reasons, ensure_ascii=False, sort_keys=True),
                    model_sha256=model_sha256,
                    updated_at=utc(now),
                )
            )
            return _get(conn, alert_id)

    def add_evidence(self, alert_id: int, kind: str, new: NewAlert, now: dt.datetime) -> int:
        """Append one detection to an alert's evidence (kind: open, absorb, upgrade,
        duplicate); return its id."""
        with self._writing() as conn:
            result = conn.execute(
                insert(alert_evidence).values(
                    alert_id=alert_id,
                    score_id=new.score_id,
                    run_id=new.run_id,
                    kind=kind,
                    windows=_days_json(new.windows or (new.window,)),
                    risk=new.risk,
                    severity=new.severity,
                    scenario=new.scenario,
                    reasons=json.dumps(new.reasons, ensure_ascii=False, sort_keys=True),
                    model_sha256=new.model_sha256,
                    added_at=utc(now),
                )
            )
            return new_id(result)

    def evidence_of(self, alert_id: int) -> list[Evidence]:
        """Every detection an alert absorbed, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(alert_evidence)
                .where(alert_evidence.c.alert_id == alert_id)
                .order_by(alert_evidence.c.id)
            )
            return [
                Evidence(
                    **dict(r._mapping)
                    | {
                        "windows": _days(r._mapping["windows"]),
                        "reasons": json.loads(r._mapping["reasons"]),
                        "added_at": utc(r._mapping["added_at"]),
                    }
                )
                for r in rows
            ]

    def set_status(
        self,
        alert_id: int,
        status: str,
        now: dt.datetime,
        *,
        close_requested_by: str | None = None,
        close_requested_via: str | None = None,
    ) -> None:
        """Move an alert to ``status`` (the caller checked the transition and audits it)."""
        with self._writing() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(
                    status=status,
                    close_requested_by=close_requested_by,
                    close_requested_via=close_requested_via,
                    updated_at=utc(now),
                )
            )

    def restore(self, alert_id: int, values: dict[str, Any], now: dt.datetime) -> None:
        """Set an alert's columns back to what the audit trail says (``auditlens audit
        reconcile``; the caller audits it)."""
        allowed = {
            "status", "close_requested_by", "close_requested_via", "user_id", "severity",
            "score_id", "model_sha256", "scenario",
        }  # fmt: skip
        with self._writing() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(**{k: v for k, v in values.items() if k in allowed}, updated_at=utc(now))
            )


def _get(conn: Connection, alert_id: int, *, for_update: bool = False) -> Alert:
    query = select(alerts).where(alerts.c.id == alert_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise AlertNotFound(f"no alert #{alert_id}", ko=f"#{alert_id} 경보가 없습니다")
    return _alert(dict(row._mapping))


def _days_json(days: tuple[dt.date, ...]) -> str:
    return json.dumps([d.isoformat() for d in days])


def _days(text: str | None) -> tuple[dt.date, ...]:
    return tuple(dt.date.fromisoformat(d) for d in json.loads(text or "[]"))


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(
        **(
            row
            | {
                "reasons": json.loads(row["reasons"]),
                "created_at": utc(row["created_at"]),
                "updated_at": utc(row["updated_at"]),
                "score_id": int(row["score_id"]),
                "windows": _days(row.get("windows")) or (row["window"],),
            }
        )
    )
