"""The audit trail: append-only, hash-chained entries an auditor can verify.

Every detection, alert, delivery attempt and human decision is one entry: who (actor),
when, what (action), on what (target, subject = the monitored user), why (reason code and
free text) and on what criteria (threshold, model version, rule id ... as JSON). Each
entry stores the hash of the entry before it and its own hash over all of that, so
changing an entry breaks its hash and removing one leaves a gap in ``seq`` and a link that
points nowhere. :func:`verify` recomputes the chain and names the first broken link.

Triggers created by migration 0003 refuse UPDATE and DELETE on the table (PostgreSQL: also
TRUNCATE) for every database user, the owner included.

Example::

    >>> with store.engine.begin() as conn:
    ...     append(conn, NewEntry("kim", "acknowledge", "alert:3", subject="U0042"), now)
    >>> verify(store.engine).ok
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, text

from auditlens.errors import AuditlensError
from auditlens.store.db import audit_log

#: prev_hash of the first entry.
GENESIS: Final = "0" * 64
#: PostgreSQL advisory-lock key serialising appenders ("auditlog" in ASCII).
_LOCK_KEY: Final = 0x6175646974_6C6F67
#: The actor of entries auditlens writes itself (detections, alerts, deliveries).
SYSTEM_ACTOR: Final = "auditlens"
#: Every action the trail knows.
ACTIONS: Final = frozenset(
    {
        "detect",  # a score crossed the alert threshold
        "alert",  # an alert was opened and routed
        "deduplicate",  # a detection of an incident a closed/recent alert already reported
        "absorb",  # a detection appended to the user's active alert (not paged again)
        "upgrade",  # a more severe detection: the user's active alert re-routed (pages)
        "suppress",  # a detection not alerted: a false-positive suppression is in force
        "deliver",  # a delivery attempt (reason_code: sent / failed / dead_letter)
        "requeue",  # a dead-lettered delivery was put back in the outbox
        "acknowledge",
        "dismiss",  # dismissed as false positive
        "escalate",
        "close",
        "request_close",  # four-eyes: closing waits for a second actor's approval
        "approve",
        "reopen",
    }
)


class AuditError(AuditlensError):
    """An audit entry cannot be written as given."""


@dataclass(frozen=True)
class NewEntry:
    """An entry to append (seq, time and hashes are added by :func:`append`)."""

    actor: str
    action: str
    target: str
    subject: str | None = None
    reason_code: str = ""
    note: str = ""
    criteria: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """A stored entry."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    subject: str | None
    reason_code: str
    note: str
    criteria: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The result of recomputing the chain."""

    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when every link holds."""
        return self.broken_seq is None


def timestamp(moment: dt.datetime) -> str:
    """The canonical text of a time in the trail (UTC, microseconds)."""
    if moment.tzinfo is None:
        raise AuditError("audit times must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(row: dict[str, Any]) -> str:
    """sha256 of an entry's stored fields and the previous hash (the chain link)."""
    fields = [
        row["seq"],
        row["at"],
        row["actor"],
        row["action"],
        row["target"],
        row["subject"],
        row["reason_code"],
        row["note"],
        row["criteria"],
        row["prev_hash"],
    ]
    blob = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def append(conn: Connection, entry: NewEntry, now: dt.datetime) -> AuditEntry:
    """Append ``entry`` inside the caller's transaction and return it as stored.

    The caller's state change (an alert's status, a delivery's outcome) and its audit
    entry commit together or not at all. On PostgreSQL appenders are serialised by an
    advisory lock held to the end of the transaction; on SQLite by the database lock.

    Raises:
        AuditError: unknown action or empty actor.
    """
    if entry.action not in ACTIONS:
        raise AuditError(f"unknown audit action {entry.action!r}")
    if not entry.actor.strip():
        raise AuditError("an audit entry needs an actor", hint="pass --as NAME")
    if conn.dialect.name == "postgresql":
        # a transaction-scoped advisory lock needs no table privilege beyond INSERT, so
        # the app role can be denied UPDATE/DELETE/TRUNCATE as well
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    row: dict[str, Any] = {
        "seq": 1 if last is None else int(last[0]) + 1,
        "at": timestamp(now),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "subject": entry.subject,
        "reason_code": entry.reason_code,
        "note": entry.note,
        "criteria": json.dumps(entry.criteria, ensure_ascii=False, sort_keys=True, default=str),
        "prev_hash": GENESIS if last is None else str(last[1]),
    }
    row["hash"] = entry_hash(row)
    conn.execute(insert(audit_log).values(**row))
    return _entry(row)


def verify(engine: Engine, *, anchor: tuple[int, str] | None = None) -> Verification:
    """Recompute the whole chain; report the first broken link.

    Args:
        engine: the store's engine.
        anchor: optionally ``(seq, hash)`` noted earlier (e.g. printed by a previous
            verify and kept outside the database): the entry ``seq`` must still exist
            with that hash, which also catches removal of the newest entries.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    anchor_seen = anchor is None
    for row in _rows(engine):
        seq = int(row["seq"])
        problem = _link_problem(row, expected_seq, prev)
        if problem is None and anchor is not None and seq == anchor[0]:
            anchor_seen = True
            if row["hash"] != anchor[1]:
                problem = f"entry {seq} differs from the anchor {anchor[1][:12]}: rewritten"
        if problem is not None:
            broken = min(seq, expected_seq)
            return Verification(count, broken - 1, prev, broken_seq=broken, problem=problem)
        count += 1
        prev, expected_seq = str(row["hash"]), seq + 1
    if not anchor_seen and anchor is not None:
        problem = f"entry {anchor[0]} of the anchor is gone: the trail ends at {expected_seq - 1}"
        return Verification(count, expected_seq - 1, prev, broken_seq=anchor[0], problem=problem)
    return Verification(entries=count, head_seq=expected_seq - 1, head_hash=prev)


def _link_problem(row: dict[str, Any], expected_seq: int, prev: str) -> str | None:
    """What is wrong with ``row`` as the next link after ``prev`` (None: nothing)."""
    seq = int(row["seq"])
    if seq != expected_seq:
        return f"entry {expected_seq} is missing (the next entry is {seq}): it was removed"
    if row["prev_hash"] != prev:
        return f"entry {seq} does not link to entry {seq - 1}: that entry was changed"
    if entry_hash(row) != row["hash"]:
        return f"entry {seq} was modified: its content does not match its hash"
    return None


def _rows(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=2_000).execute(
            select(audit_log).order_by(audit_log.c.seq)
        )
        for row in result:
            yield dict(row._mapping)


def has_entry(conn: Connection, target: str, action: str) -> bool:
    """True when the trail already has an ``action`` entry about ``target``."""
    found = conn.execute(
        select(audit_log.c.seq)
        .where(audit_log.c.target == target, audit_log.c.action == action)
        .limit(1)
    ).first()
    return found is not None


def entries(
    engine: Engine,
    *,
    subject: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    actions: tuple[str, ...] = (),
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries matching every given filter, oldest first (the newest ``limit`` of them)."""
    query = select(audit_log)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    if actions:
        query = query.where(audit_log.c.action.in_(actions))
    if since is not None:
        query = query.where(audit_log.c.at >= timestamp(since))
    query = query.order_by(audit_log.c.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return [_entry(r) for r in reversed(rows)]


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        seq=int(row["seq"]),
        at=dt.datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        subject=row["subject"],
        reason_code=row["reason_code"],
        note=row["note"],
        criteria=json.loads(row["criteria"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
