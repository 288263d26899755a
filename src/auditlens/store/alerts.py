"""Typed reads and writes of alerts, the delivery outbox and delivery attempts (label
candidates and suppressions: store/feedback.py).

Writers take the caller's ``Connection`` so a state change and its audit entry
(store/audit.py) commit in one transaction. All times are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, CursorResult, Engine, func, insert, or_, select, update

from auditlens.errors import AuditlensError, StoreError
from auditlens.store.db import alert_evidence, alerts, deliveries, delivery_attempts

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
#: Outbox states: pending (waiting for its time), sent, dead (gave up; see `requeue`),
#: cancelled (the alert was closed or dismissed before its delivery was due).
DELIVERY_STATUSES: Final[tuple[str, ...]] = ("pending", "sent", "dead", "cancelled")


class AlertNotFound(AuditlensError):
    """No alert (or delivery) with the given id."""

    hint = "list them with `auditlens alerts list`"


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
class OutboxItem:
    """One delivery of an alert to one channel (a row of the outbox)."""

    id: int
    alert_id: int
    channel: str
    rule_id: str
    action: str  # trigger | resolve
    recipients: list[str]
    digest: bool
    status: str
    not_before: dt.datetime
    lease_until: dt.datetime | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; naive values (SQLite returns them) are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --- alerts --------------------------------------------------------------------------------


def insert_alert(conn: Connection, new: NewAlert, now: dt.datetime) -> Alert:
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
    return get_alert(conn, _new_id(conn.execute(insert(alerts).values(**values))))


def get_alert(conn: Connection, alert_id: int) -> Alert:
    """The alert with this id.

    Raises:
        AlertNotFound: no such alert.
    """
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(f"no alert #{alert_id}")
    return _alert(dict(row._mapping))


def alert_for_score(conn: Connection, score_id: int) -> int | None:
    """Id of the alert opened for a score row, if any."""
    value = conn.execute(select(alerts.c.id).where(alerts.c.score_id == score_id)).scalar()
    return None if value is None else int(value)


def recent_alert(conn: Connection, dedup_key: str, since: dt.datetime) -> Alert | None:
    """The newest alert with ``dedup_key`` opened at or after ``since``."""
    row = conn.execute(
        select(alerts)
        .where(alerts.c.dedup_key == dedup_key, alerts.c.created_at >= utc(since))
        .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _alert(dict(row._mapping))


def user_alerts(conn: Connection, user_id: str) -> list[Alert]:
    """Every alert of a monitored user, newest first."""
    rows = conn.execute(
        select(alerts)
        .where(alerts.c.user_id == user_id)
        .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
    )
    return [_alert(dict(r._mapping)) for r in rows]


def update_headline(
    conn: Connection,
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
    """Make an alert show newer evidence (the caller appends it with :func:`add_evidence`
    and audits the change)."""
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
    return get_alert(conn, alert_id)


def add_evidence(
    conn: Connection, alert_id: int, kind: str, new: NewAlert, now: dt.datetime
) -> int:
    """Append one detection to an alert's evidence (kind: open, absorb, upgrade,
    duplicate); return its id."""
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
    return _new_id(result)


def evidence_of(engine: Engine, alert_id: int) -> list[dict[str, Any]]:
    """Every detection an alert absorbed, oldest first (windows and reasons decoded)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_evidence)
            .where(alert_evidence.c.alert_id == alert_id)
            .order_by(alert_evidence.c.id)
        )
        return [
            dict(r._mapping)
            | {
                "windows": _days(r._mapping["windows"]),
                "reasons": json.loads(r._mapping["reasons"]),
                "added_at": utc(r._mapping["added_at"]),
            }
            for r in rows
        ]


def _days_json(days: tuple[dt.date, ...]) -> str:
    return json.dumps([d.isoformat() for d in days])


def _days(text: str | None) -> tuple[dt.date, ...]:
    return tuple(dt.date.fromisoformat(d) for d in json.loads(text or "[]"))


def list_alerts(engine: Engine, *, statuses: tuple[str, ...] = (), limit: int = 100) -> list[Alert]:
    """Alerts, newest first, optionally only those in ``statuses``."""
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if statuses:
        query = query.where(alerts.c.status.in_(statuses))
    with engine.connect() as conn:
        return [_alert(dict(r._mapping)) for r in conn.execute(query)]


def set_status(
    conn: Connection,
    alert_id: int,
    status: str,
    now: dt.datetime,
    *,
    close_requested_by: str | None = None,
    close_requested_via: str | None = None,
) -> None:
    """Move an alert to ``status`` (the caller checked the transition and audits it)."""
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


def restore(conn: Connection, alert_id: int, values: dict[str, Any], now: dt.datetime) -> None:
    """Set an alert's columns back to what the audit trail says (``auditlens audit
    reconcile``; the caller audits it)."""
    allowed = {
        "status", "close_requested_by", "close_requested_via", "user_id", "severity",
        "score_id", "model_sha256", "scenario",
    }  # fmt: skip
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(**{k: v for k, v in values.items() if k in allowed}, updated_at=utc(now))
    )


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


# --- outbox --------------------------------------------------------------------------------


def enqueue(
    conn: Connection,
    *,
    alert_id: int,
    channel: str,
    rule_id: str,
    action: str,
    recipients: list[str],
    digest: bool,
    not_before: dt.datetime,
    now: dt.datetime,
) -> int:
    """Put a delivery in the outbox; return its id."""
    result = conn.execute(
        insert(deliveries).values(
            alert_id=alert_id,
            channel=channel,
            rule_id=rule_id,
            action=action,
            recipients=json.dumps(recipients),
            digest=int(digest),
            status="pending",
            not_before=utc(not_before),
            lease_until=None,
            attempts=0,
            last_error=None,
            created_at=utc(now),
            sent_at=None,
        )
    )
    return _new_id(result)


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend returns it
        raise StoreError("the database did not return the new row's id")
    return int(key[0])


def due(conn: Connection, now: dt.datetime, *, limit: int = 500) -> list[OutboxItem]:
    """Pending deliveries whose time has come and that nobody holds a lease on."""
    now = utc(now)
    rows = conn.execute(
        select(deliveries)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.not_before <= now,
            or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
        )
        .order_by(deliveries.c.not_before, deliveries.c.id)
        .limit(limit)
    )
    return [_item(dict(r._mapping)) for r in rows]


def claim(conn: Connection, item_id: int, now: dt.datetime, lease_until: dt.datetime) -> bool:
    """Take a lease on a due delivery; False when another dispatcher has it.

    A dispatcher that dies mid-send leaves its lease behind; the delivery is due again
    once the lease expires (restart-resume, at least once).
    """
    now = utc(now)
    changed = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == item_id,
            deliveries.c.status == "pending",
            or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
        )
        .values(lease_until=utc(lease_until))
    ).rowcount
    return bool(changed)


def record_attempt(
    conn: Connection,
    item: OutboxItem,
    *,
    now: dt.datetime,
    ok: bool,
    status_code: int | None,
    retry_after: float | None,
    error: str | None,
    detail: str | None,
    next_status: str,
    not_before: dt.datetime | None,
) -> int:
    """Store one attempt and the delivery's new state; return the attempt number."""
    attempt = item.attempts + 1
    conn.execute(
        insert(delivery_attempts).values(
            delivery_id=item.id,
            attempt=attempt,
            at=utc(now),
            ok=int(ok),
            status_code=status_code,
            retry_after=retry_after,
            error=error,
            detail=detail,
        )
    )
    values: dict[str, Any] = {
        "attempts": attempt,
        "status": next_status,
        "lease_until": None,
        "last_error": error,
    }
    if ok:
        values["sent_at"] = utc(now)
    if not_before is not None:
        values["not_before"] = utc(not_before)
    conn.execute(update(deliveries).where(deliveries.c.id == item.id).values(**values))
    return attempt


def cancel(conn: Connection, item_id: int) -> None:
    """Mark a pending delivery cancelled (its alert no longer needs announcing)."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item_id)
        .values(status="cancelled", lease_until=None)
    )


def requeue(conn: Connection, item_id: int, now: dt.datetime) -> OutboxItem:
    """Put a dead-lettered delivery back in the outbox, due now, attempts reset.

    Raises:
        AlertNotFound: no such delivery, or it is not dead-lettered.
    """
    item = get_item(conn, item_id)
    if item.status != "dead":
        raise AlertNotFound(
            f"delivery #{item_id} is {item.status}, not dead-lettered",
            hint="see `auditlens alerts deliveries --status dead`",
        )
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == item_id)
        .values(status="pending", attempts=0, not_before=utc(now), lease_until=None)
    )
    return get_item(conn, item_id)


def get_item(conn: Connection, item_id: int) -> OutboxItem:
    """The delivery with this id (raises AlertNotFound)."""
    row = conn.execute(select(deliveries).where(deliveries.c.id == item_id)).first()
    if row is None:
        raise AlertNotFound(f"no delivery #{item_id}", hint="see `auditlens alerts deliveries`")
    return _item(dict(row._mapping))


def items(
    engine: Engine,
    *,
    statuses: tuple[str, ...] = (),
    alert_id: int | None = None,
    limit: int = 1000,
) -> list[OutboxItem]:
    """Deliveries, oldest first, optionally filtered."""
    query = select(deliveries).order_by(deliveries.c.id).limit(limit)
    if statuses:
        query = query.where(deliveries.c.status.in_(statuses))
    if alert_id is not None:
        query = query.where(deliveries.c.alert_id == alert_id)
    with engine.connect() as conn:
        return [_item(dict(r._mapping)) for r in conn.execute(query)]


def channels_of(conn: Connection, alert_id: int, action: str) -> set[str]:
    """Channels an alert has (or had) a delivery of ``action`` to."""
    rows = conn.execute(
        select(deliveries.c.channel).where(
            deliveries.c.alert_id == alert_id, deliveries.c.action == action
        )
    )
    return {str(r[0]) for r in rows}


def next_due(engine: Engine) -> dt.datetime | None:
    """When the earliest pending delivery becomes due (None: the outbox is empty)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.min(deliveries.c.not_before)).where(deliveries.c.status == "pending")
        ).scalar()
    return None if value is None else utc(value)


def outbox_counts(engine: Engine) -> dict[str, int]:
    """Deliveries per status (every status present, zero when none)."""
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status))
        counts = {str(r[0]): int(r[1]) for r in rows}
    return {status: counts.get(status, 0) for status in DELIVERY_STATUSES}


def attempts_of(engine: Engine, item_id: int) -> list[dict[str, Any]]:
    """Every attempt of a delivery, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == item_id)
            .order_by(delivery_attempts.c.attempt)
        )
        return [dict(r._mapping) | {"at": utc(r._mapping["at"])} for r in rows]


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        **(
            row
            | {
                "recipients": json.loads(row["recipients"]),
                "digest": bool(row["digest"]),
                "not_before": utc(row["not_before"]),
                "lease_until": None if row["lease_until"] is None else utc(row["lease_until"]),
                "created_at": utc(row["created_at"]),
                "sent_at": None if row["sent_at"] is None else utc(row["sent_at"]),
            }
        )
    )
