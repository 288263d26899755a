"""The audit trail: append-only, hash-chained entries an auditor can verify.

Every detection, alert, delivery attempt and human decision is one entry: who (actor),
when, what (action), on what (target, subject = the monitored user), why (reason code and
free text) and on what criteria (threshold, model version, rule id ... as JSON). Each
entry stores the hash of the entry before it and its own hash over all of that, so
changing an entry breaks its hash and removing one leaves a gap in ``seq`` and a link that
points nowhere. ``AuditRepository.verify`` (store/audit_repository.py) recomputes the
chain and names the first broken link.

Triggers created by migration 0003 refuse UPDATE and DELETE on the table (PostgreSQL: also
TRUNCATE) for every database user, the owner included.

Example::

    >>> now = dt.datetime(2026, 9, 8, 2, 0, tzinfo=dt.UTC)
    >>> with store.engine.begin() as conn:
    ...     entry = append(conn, NewEntry("kim", "acknowledge", "alert:1", subject="U0042"), now)
    >>> entry.seq, entry.actor  # after the alert's own two entries
    (3, 'kim')
    >>> check = store.audit.verify()
    >>> check.ok, check.head_hash == entry.hash
    (True, True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, text

from auditlens.errors import AuditlensError
from auditlens.store.db import audit_log
from auditlens.store.repository import hold_write_lock

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
        "reconcile",  # an admin made a table agree with the trail again (store/replay.py)
        # auditlens.privacy: who looked at whom, and re-identification of one alert's person
        "view",  # a named person's risk or history was read (target user:ID, why in note)
        "reidentify_request",  # an analyst asked to see the person behind an alert
        "reidentify_grant",  # a different approver granted it, until criteria.expires_at
        "reidentify_deny",
        "reidentify_reveal",  # the requester was shown the user id under a live grant
        "reidentify_expire",  # a grant ran out (recorded when next looked at)
        "key_create",  # an admin made an API key (name, role, prefix; never the secret)
        "key_revoke",  # an admin revoked an API key
        # auditlens.reports: a report was produced (target report:KIND:LABEL; criteria: the
        # period, data watermark, config hash, trail head it rests on, files and digest)
        "report",
        # a report's e-mail digest was sent (reason_code sent / failed; target as above;
        # criteria: recipient count and fingerprint, message id — never the addresses)
        "report_send",
        # auditlens.pipeline.models: the model registry's champion (four eyes on promote)
        "model_promote",  # an approver made a registered model version the champion
        "model_rollback",  # an approver made the previous champion the champion again
        # auditlens.monitor.review: miss-rate sampling (target run:ID / review:ID)
        "review_draw",  # a run drew unflagged users for review (criteria: n, population, seed)
        "review_verdict",  # a reviewer said missed or clean of one sample (reason code)
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


def timestamp(moment: dt.datetime) -> str:
    """The canonical text of a time in the trail (UTC, microseconds)."""
    if moment.tzinfo is None:
        raise AuditError(
            "audit times must be timezone-aware", ko="감사 로그 시각에는 시간대가 있어야 합니다"
        )
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
    advisory lock held to the end of the transaction; on SQLite by the database write
    lock, taken before the last entry is read.

    Raises:
        AuditError: unknown action or empty actor.
    """
    return append_many(conn, [(entry, now)])[0]


def append_many(
    conn: Connection, entries: Sequence[tuple[NewEntry, dt.datetime]]
) -> list[AuditEntry]:
    """Append ``entries`` in order, each at its own time, in the caller's transaction.

    One lock, one read of the last entry and one insert for all of them: how a busy
    service records many reads of people in one commit (privacy/watch.py).

    Raises:
        AuditError: an unknown action or an empty actor (nothing is appended).
    """
    for entry, _ in entries:
        _check(entry)
    if not entries:
        return []
    if conn.dialect.name == "postgresql":
        # a transaction-scoped advisory lock needs no table privilege beyond INSERT, so
        # the app role can be denied UPDATE/DELETE/TRUNCATE as well
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        hold_write_lock(conn)  # before the last entry is read
    last = conn.execute(
        select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq, previous = (0, GENESIS) if last is None else (int(last[0]), str(last[1]))
    rows: list[dict[str, Any]] = []
    for entry, now in entries:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "at": timestamp(now),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "subject": entry.subject,
            "reason_code": entry.reason_code,
            "note": entry.note,
            "criteria": json.dumps(entry.criteria, ensure_ascii=False, sort_keys=True, default=str),
            "prev_hash": previous,
        }
        row["hash"] = previous = entry_hash(row)
        rows.append(row)
    conn.execute(insert(audit_log), rows)
    return [entry_of(row) for row in rows]


def _check(entry: NewEntry) -> None:
    if entry.action not in ACTIONS:
        raise AuditError(
            f"unknown audit action {entry.action!r}",
            ko=f"알 수 없는 감사 작업입니다: {entry.action!r}",
        )
    if not entry.actor.strip():
        raise AuditError(
            "an audit entry needs an actor",
            hint="pass --as NAME",
            ko="감사 로그 항목에는 작업자가 있어야 합니다",
            ko_hint="--as NAME으로 작업자를 지정하십시오",
        )


class Trail:
    """Where audit entries go: the caller's own transaction, or a separate audit database.

    With no engine (the default) an entry is appended in the caller's transaction, so a
    state change and its entry commit together or not at all. With the engine of a
    separate audit database (``audit_store_url``) the entry is committed there *first*,
    inside the caller's still-open store transaction, which commits second: a crash
    between the two leaves an entry whose state change is missing — never a change
    without its entry — and ``auditlens audit verify`` names it (store/replay.py).
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine

    @property
    def separate(self) -> bool:
        """True when the trail lives in its own database."""
        return self.engine is not None

    def append(self, conn: Connection, entry: NewEntry, now: dt.datetime) -> AuditEntry:
        """Append ``entry`` (see the class docstring for when it commits)."""
        if self.engine is None:
            return append(conn, entry, now)
        with self.engine.begin() as audit_conn:
            return append(audit_conn, entry, now)

    def append_many(
        self, conn: Connection, entries: Sequence[tuple[NewEntry, dt.datetime]]
    ) -> list[AuditEntry]:
        """Append ``entries`` in order (see the class docstring for when they commit)."""
        if self.engine is None:
            return append_many(conn, entries)
        with self.engine.begin() as audit_conn:
            return append_many(audit_conn, entries)

    def has_entry(self, conn: Connection, target: str, action: str) -> bool:
        """True when the trail already has an ``action`` entry about ``target``."""
        if self.engine is None:
            return has_entry(conn, target, action)
        with self.engine.connect() as audit_conn:
            return has_entry(audit_conn, target, action)


#: Entries in the caller's transaction (the trail lives in the store).
SAME_DATABASE: Final = Trail()


def has_entry(conn: Connection, target: str, action: str) -> bool:
    """True when the trail already has an ``action`` entry about ``target``."""
    found = conn.execute(
        select(audit_log.c.seq)
        .where(audit_log.c.target == target, audit_log.c.action == action)
        .limit(1)
    ).first()
    return found is not None


def entry_of(row: dict[str, Any]) -> AuditEntry:
    """A stored row of ``audit_log`` as an entry."""
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
