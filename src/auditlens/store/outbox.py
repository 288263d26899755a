"""The delivery outbox of the alerts aggregate: one row per alert and channel, and every
attempt to deliver it.

A dispatcher takes a lease on a due delivery (:meth:`OutboxRepository.claim`), sends it,
then records the attempt and the delivery's new state with its audit entry in one
transaction (bind with ``within(conn)``). All times are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, func, insert, or_, select, update

from auditlens.store.db import deliveries, delivery_attempts
from auditlens.store.repository import AlertNotFound, Repository, new_id, utc

#: Outbox states: pending (waiting for its time), sent, dead (gave up; see `requeue`),
#: cancelled (the alert was closed or dismissed before its delivery was due).
DELIVERY_STATUSES: Final[tuple[str, ...]] = ("pending", "sent", "dead", "cancelled")


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
    #: ``last_error`` in Korean (None for attempts stored before migration 0010).
    last_error_ko: str | None = None

    def error_text(self, lang: str) -> str | None:
        """The last error in ``lang`` (English where no Korean was stored)."""
        return (self.last_error_ko or self.last_error) if lang == "ko" else self.last_error


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver an outbox item."""

    id: int
    delivery_id: int
    attempt: int
    at: dt.datetime
    ok: bool
    status_code: int | None
    retry_after: float | None
    error: str | None
    detail: str | None
    #: ``error`` in Korean (None before migration 0010).
    error_ko: str | None = None


class OutboxRepository(Repository):
    """Deliveries waiting, sent, dead-lettered or cancelled, with their attempts."""

    def enqueue(
        self,
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
        with self._writing() as conn:
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
            return new_id(result)

    def due(self, now: dt.datetime, *, limit: int = 500) -> list[OutboxItem]:
        """Pending deliveries whose time has come and that nobody holds a lease on."""
        now = utc(now)
        with self._reading() as conn:
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

    def claim(self, item_id: int, now: dt.datetime, lease_until: dt.datetime) -> bool:
        """Take a lease on a due delivery; False when another dispatcher has it.

        A dispatcher that dies mid-send leaves its lease behind; the delivery is due again
        once the lease expires (restart-resume, at least once).
        """
        now = utc(now)
        with self._writing() as conn:
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
        self,
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
        error_ko: str | None = None,
    ) -> int:
        """Store one attempt and the delivery's new state; return the attempt number."""
        attempt = item.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempt,
            "status": next_status,
            "lease_until": None,
            "last_error": error,
            "last_error_ko": error_ko,
        }
        if ok:
            values["sent_at"] = utc(now)
        if not_before is not None:
            values["not_before"] = utc(not_before)
        with self._writing() as conn:
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
                    error_ko=error_ko,
                )
            )
            conn.execute(update(deliveries).where(deliveries.c.id == item.id).values(**values))
        return attempt

    def cancel(self, item_id: int) -> None:
        """Mark a pending delivery cancelled (its alert no longer needs announcing)."""
        with self._writing() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == item_id)
                .values(status="cancelled", lease_until=None)
            )

    def requeue(self, item_id: int, now: dt.datetime) -> OutboxItem:
        """Put a dead-lettered delivery back in the outbox, due now, attempts reset.

        Raises:
            AlertNotFound: no such delivery, or it is not dead-lettered.
        """
        with self._writing() as conn:
            item = _get(conn, item_id)
            if item.status != "dead":
                raise AlertNotFound(
                    f"delivery #{item_id} is {item.status}, not dead-lettered",
                    hint="see `auditlens alerts deliveries --status dead`",
                    ko=f"#{item_id} 전송 건은 {item.status} 상태이며 전송 실패 목록에 없습니다",
                    ko_hint="`auditlens alerts deliveries --status dead`로 확인하십시오",
                )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == item_id)
                .values(status="pending", attempts=0, not_before=utc(now), lease_until=None)
            )
            return _get(conn, item_id)

    def get_item(self, item_id: int) -> OutboxItem:
        """The delivery with this id (raises AlertNotFound)."""
        with self._reading() as conn:
            return _get(conn, item_id)

    def items(
        self, *, statuses: tuple[str, ...] = (), alert_id: int | None = None, limit: int = 1000
    ) -> list[OutboxItem]:
        """Deliveries, oldest first, optionally filtered."""
        query = select(deliveries).order_by(deliveries.c.id).limit(limit)
        if statuses:
            query = query.where(deliveries.c.status.in_(statuses))
        if alert_id is not None:
            query = query.where(deliveries.c.alert_id == alert_id)
        with self._reading() as conn:
            return [_item(dict(r._mapping)) for r in conn.execute(query)]

    def channels_of(self, alert_id: int, action: str) -> set[str]:
        """Channels an alert has (or had) a delivery of ``action`` to."""
        with self._reading() as conn:
            rows = conn.execute(
                select(deliveries.c.channel).where(
                    deliveries.c.alert_id == alert_id, deliveries.c.action == action
                )
            )
            return {str(r[0]) for r in rows}

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending delivery becomes due (None: the outbox is empty)."""
        with self._reading() as conn:
            value = conn.execute(
                select(func.min(deliveries.c.not_before)).where(deliveries.c.status == "pending")
            ).scalar()
        return None if value is None else utc(value)

    def counts(self) -> dict[str, int]:
        """Deliveries per status (every status present, zero when none)."""
        with self._reading() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            )
            counts = {str(r[0]): int(r[1]) for r in rows}
        return {status: counts.get(status, 0) for status in DELIVERY_STATUSES}

    def attempts_of(self, item_id: int) -> list[Attempt]:
        """Every attempt of a delivery, in order."""
        with self._reading() as conn:
            rows = conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id == item_id)
                .order_by(delivery_attempts.c.attempt)
            )
            return [
                Attempt(
                    **dict(r._mapping) | {"at": utc(r._mapping["at"]), "ok": bool(r._mapping["ok"])}
                )
                for r in rows
            ]


def _get(conn: Connection, item_id: int) -> OutboxItem:
    row = conn.execute(select(deliveries).where(deliveries.c.id == item_id)).first()
    if row is None:
        raise AlertNotFound(
            f"no delivery #{item_id}",
            hint="see `auditlens alerts deliveries`",
            ko=f"#{item_id} 전송 건이 없습니다",
            ko_hint="`auditlens alerts deliveries`로 확인하십시오",
        )
    return _item(dict(row._mapping))


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
