"""Re-identification requests: their table, and its replay against the audit trail.

A request moves ``requested`` → ``granted`` | ``denied``, and ``granted`` → ``expired``;
each move is a conditional UPDATE (``WHERE status = ...``), so two approvers deciding the
same request at once cannot both win. The workflow and its rules (four eyes, who may see
what) are in auditlens/privacy/reidentify.py; every move is also an audit entry with target
``reidentification:ID``, and :func:`replay_reidentifications` names every row that differs
from what the trail says — a grant written into the table by hand has no trail entry.

Example::

    with store.engine.begin() as conn:
        request_id = store.reidentifications.within(conn).add(7, "kim", None, "HR case", now)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, insert, select, update

from auditlens.store.db import audit_log, reidentifications
from auditlens.store.replay import Mismatch
from auditlens.store.repository import Repository, new_id, utc

ReidentificationStatus = Literal["requested", "granted", "denied", "expired"]
#: The audit target prefix of a request's entries.
TARGET_PREFIX: Final = "reidentification:"


def target(request_id: int) -> str:
    """The audit target of a request: ``reidentification:ID``."""
    return f"{TARGET_PREFIX}{request_id}"


@dataclass(frozen=True)
class Reidentification:
    """One request to see the person behind an alert, and where it stands."""

    id: int
    alert_id: int
    requested_by: str
    requested_via: str | None
    reason: str
    requested_at: dt.datetime
    status: str
    decided_by: str | None
    decided_via: str | None
    decision_note: str
    decided_at: dt.datetime | None
    expires_at: dt.datetime | None
    expired_at: dt.datetime | None

    def live(self, now: dt.datetime) -> bool:
        """True while the request is granted and its grant has not run out at ``now``."""
        return self.status == "granted" and self.expires_at is not None and now < self.expires_at


def _of(row: Any) -> Reidentification:
    values = dict(row._mapping)
    for name in ("requested_at", "decided_at", "expires_at", "expired_at"):
        if values[name] is not None:
            values[name] = utc(values[name])
    return Reidentification(**values)


class ReidentificationRepository(Repository):
    """The ``reidentifications`` table."""

    def add(
        self,
        alert_id: int,
        requested_by: str,
        requested_via: str | None,
        reason: str,
        now: dt.datetime,
    ) -> int:
        """Record a new request (status ``requested``); return its id."""
        with self._writing() as conn:
            result = conn.execute(
                insert(reidentifications).values(
                    alert_id=alert_id,
                    requested_by=requested_by,
                    requested_via=requested_via,
                    reason=reason,
                    requested_at=now,
                    status="requested",
                    decision_note="",
                )
            )
            return new_id(result)

    def get(self, request_id: int) -> Reidentification | None:
        """The request ``request_id``, or None."""
        with self._reading() as conn:
            row = conn.execute(
                select(reidentifications).where(reidentifications.c.id == request_id)
            ).first()
        return None if row is None else _of(row)

    def find(
        self,
        *,
        alert_id: int | None = None,
        statuses: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> list[Reidentification]:
        """Requests, newest first, optionally of one alert and in some statuses."""
        query = select(reidentifications).order_by(reidentifications.c.id.desc())
        if alert_id is not None:
            query = query.where(reidentifications.c.alert_id == alert_id)
        if statuses:
            query = query.where(reidentifications.c.status.in_(statuses))
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            return [_of(r) for r in conn.execute(query)]

    def decide(
        self,
        request_id: int,
        status: Literal["granted", "denied"],
        *,
        decided_by: str,
        decided_via: str | None,
        note: str,
        now: dt.datetime,
        expires_at: dt.datetime | None,
    ) -> bool:
        """Grant or deny a request still ``requested``; False when it no longer is."""
        with self._writing() as conn:
            result = conn.execute(
                update(reidentifications)
                .where(
                    reidentifications.c.id == request_id,
                    reidentifications.c.status == "requested",
                )
                .values(
                    status=status,
                    decided_by=decided_by,
                    decided_via=decided_via,
                    decision_note=note,
                    decided_at=now,
                    expires_at=expires_at,
                )
            )
            return result.rowcount == 1

    def expire(self, request_id: int, now: dt.datetime) -> bool:
        """Mark a granted request expired; False when it is not (or no longer) granted."""
        with self._writing() as conn:
            result = conn.execute(
                update(reidentifications)
                .where(
                    reidentifications.c.id == request_id,
                    reidentifications.c.status == "granted",
                )
                .values(status="expired", expired_at=now)
            )
            return result.rowcount == 1


def replay_reidentifications(
    store_engine: Engine, audit_engine: Engine | None = None
) -> list[Mismatch]:
    """Every re-identification row that differs from what the trail says, and every
    request the trail records that the table lacks."""
    with store_engine.connect() as conn:
        rows = {int(r.id): r for r in (_of(r) for r in conn.execute(select(reidentifications)))}
    with (audit_engine or store_engine).connect() as conn:
        expected = _expected(conn)
    found: list[Mismatch] = []
    for request_id in sorted(set(rows) | set(expected)):
        row, want = rows.get(request_id), expected.get(request_id)
        if want is None:
            found.append(
                Mismatch(
                    "reidentification",
                    request_id,
                    None,
                    f"re-identification #{request_id} is in the table but the trail never "
                    "recorded its request",
                    ko=f"재식별 요청 #{request_id}이 테이블에는 있으나 감사 로그에 요청 기록이 "
                    "없습니다",
                )
            )
            continue
        if row is None:
            found.append(
                Mismatch(
                    "reidentification",
                    request_id,
                    int(want["seq"]),
                    f"re-identification #{request_id} is in the trail (entry {want['seq']}) "
                    "but missing from the table",
                    ko=f"재식별 요청 #{request_id}이 감사 로그(항목 {want['seq']})에는 있으나 "
                    "테이블에서 삭제되었습니다",
                )
            )
            continue
        have = {
            "alert_id": row.alert_id,
            "requested_by": row.requested_by,
            "requested_via": row.requested_via,
            "status": row.status,
            "decided_by": row.decided_by,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        }
        differs = [k for k in have if have[k] != want[k]]
        if differs:
            name = differs[0]
            found.append(
                Mismatch(
                    "reidentification",
                    request_id,
                    int(want["seq"]),
                    f"re-identification #{request_id}: {name} is {have[name]} in the table, "
                    f"the trail (entry {want['seq']}) says {want[name]}",
                    ko=f"재식별 요청 #{request_id}: 테이블의 {name} 값은 {have[name]}, 감사 "
                    f"로그(항목 {want['seq']})의 값은 {want[name]}으로 서로 다릅니다",
                )
            )
    return found


def _expected(conn: Connection) -> dict[int, dict[str, Any]]:
    """Each request's state as the trail tells it."""
    query = (
        select(audit_log.c.seq, audit_log.c.actor, audit_log.c.action, audit_log.c.target)
        .add_columns(audit_log.c.criteria)
        .where(audit_log.c.target.like(f"{TARGET_PREFIX}%"))
        .order_by(audit_log.c.seq)
    )
    states: dict[int, dict[str, Any]] = {}
    for seq, actor, action, where, raw in conn.execute(query):
        try:
            request_id = int(str(where).removeprefix(TARGET_PREFIX))
        except ValueError:
            continue
        criteria = json.loads(raw or "{}")
        via = criteria.get("on_behalf_of")
        if action == "reidentify_request":
            states[request_id] = {
                "seq": seq,
                "alert_id": criteria.get("alert_id"),
                "requested_by": via or actor,
                "requested_via": actor if via else None,
                "status": "requested",
                "decided_by": None,
                "expires_at": None,
            }
            continue
        state = states.get(request_id)
        if state is None:
            continue
        moves = {
            "reidentify_grant": "granted",
            "reidentify_deny": "denied",
            "reidentify_expire": "expired",
        }
        if action in moves:
            state["seq"] = seq
            state["status"] = moves[action]
        if action in ("reidentify_grant", "reidentify_deny"):
            state["decided_by"] = via or actor
            until = criteria.get("expires_at")
            moment = utc(dt.datetime.fromisoformat(until)) if until else None
            state["expires_at"] = moment.isoformat() if moment else None
    return states
