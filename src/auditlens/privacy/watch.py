"""Watch the watchers: every read of a named person's risk or history is an audit entry.

Compliance monitoring that is not itself monitored fails a privacy review. The API,
the dashboard and the reports call :func:`record_view` whenever they show one person's
risk, history, alerts or explanation: who looked (the authenticated principal), at whom,
when, what and why (an optional purpose). ``auditlens audit log --user ID`` then lists who
looked at that person.

Example::

    >>> from auditlens.identity import Directory
    >>> kim = Directory({"kim": ["analyst"]}).acting("kim")
    >>> now = dt.datetime(2026, 9, 8, 2, 0, tzinfo=dt.UTC)
    >>> entry = record_view(store, kim, "U0042", "risk", "HR case", now=now)
    >>> entry.action, entry.actor, entry.subject, entry.reason_code, entry.note
    ('view', 'kim', 'U0042', 'risk', 'HR case')
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text

from auditlens.errors import AuditlensError
from auditlens.identity import Acting
from auditlens.privacy.pseudonyms import normalise_user
from auditlens.store.audit import AuditEntry, NewEntry
from auditlens.store.repo import Store

#: What a read can show of a person (the entry's reason_code); other values are refused,
#: so the trail stays searchable.
VIEWS: Final = frozenset({"risk", "history", "alert", "alerts", "explanation", "report", "audit"})
#: Longest purpose kept (the note of the entry).
MAX_PURPOSE: Final = 500


class ViewError(AuditlensError):
    """A read of a person cannot be recorded as given."""


def person_target(user_id: str) -> str:
    """The audit target of a person: ``user:ID``."""
    return f"user:{user_id}"


def view_entry(
    principal: Acting,
    subject_user_id: str,
    what: str,
    purpose: str | None = None,
    *,
    pseudonymised: bool = False,
) -> NewEntry:
    """The audit entry of a read (see :func:`record_view`), checked, not yet appended.

    Raises:
        ViewError: an unknown ``what`` or an empty user id.
    """
    user = normalise_user(subject_user_id)
    if not user:
        raise ViewError("a view needs the user id it showed", ko="조회한 사용자 ID가 없습니다")
    if what not in VIEWS:
        raise ViewError(
            f"unknown view {what!r}: use one of {sorted(VIEWS)}",
            ko=f"알 수 없는 조회 종류 {what!r}: {sorted(VIEWS)} 중 하나를 쓰십시오",
        )
    criteria: dict[str, object] = {"pseudonymised": pseudonymised}
    if principal.on_behalf_of is not None:
        criteria["on_behalf_of"] = principal.on_behalf_of.id
    return NewEntry(
        actor=principal.actor.id,
        action="view",
        target=person_target(user),
        subject=user,
        reason_code=what,
        note=(purpose or "").strip()[:MAX_PURPOSE],
        criteria=criteria,
    )


def record_view(
    store: Store,
    principal: Acting,
    subject_user_id: str,
    what: str,
    purpose: str | None = None,
    *,
    now: dt.datetime,
    pseudonymised: bool = False,
) -> AuditEntry:
    """Record that ``principal`` read ``what`` (one of :data:`VIEWS`) of ``subject_user_id``.

    Args:
        principal: the authenticated principal (for an admin on someone's behalf, both
            are recorded: actor and ``on_behalf_of``).
        subject_user_id: the person's real user id (resolve a pseudonym first).
        purpose: why, as the reader gave it (kept up to 500 characters).
        pseudonymised: the reader was shown a pseudonym, not the user id.

    Raises:
        ViewError: an unknown ``what`` or an empty user id.
    """
    entry = view_entry(principal, subject_user_id, what, purpose, pseudonymised=pseudonymised)
    with store.engine.begin() as conn:
        return store.trail.append(conn, entry, now)


class ViewRecorder:
    """Records reads for a busy service: every read waiting while one commit runs goes
    into the next commit (group commit), so a thousand readers cost a handful of
    transactions, not a thousand.

    :meth:`submit` returns a future that completes when the read's entry is committed;
    a service answers the read only then, so a crash never leaves a read that was shown
    without its entry. A failed commit fails every future of its batch (the reads are
    refused, none is answered unrecorded). One writer thread per recorder; :meth:`close`
    writes what is queued and stops it.
    """

    def __init__(self, store: Store, *, max_batch: int = 500, durable: bool = True) -> None:
        self.store = store
        self.max_batch = max_batch
        #: False: on PostgreSQL a batch's commit does not wait for its WAL flush (the
        #: durability SQLite's WAL mode gives by default; ``privacy.durable_views``)
        self.durable = durable
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="auditlens-views", daemon=True)
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()

    def submit(
        self,
        principal: Acting,
        subject_user_id: str,
        what: str,
        purpose: str | None = None,
        *,
        now: dt.datetime,
        pseudonymised: bool = False,
    ) -> Future[AuditEntry]:
        """Queue the read's entry (as :func:`record_view` words it); the future holds the
        committed entry.

        Raises:
            ViewError: an unknown ``what``, an empty user id, or the recorder is closed.
        """
        entry = view_entry(principal, subject_user_id, what, purpose, pseudonymised=pseudonymised)
        done: Future[AuditEntry] = Future()
        with self._lock:
            if self._closed:
                raise ViewError("the view recorder is closed", ko="조회 기록기가 닫혔습니다")
            self._queue.put(_Pending(entry, now, done))
        return done

    def close(self) -> None:
        """Commit what is queued, then stop the writer (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _write(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self.store.engine.begin() as conn:
                if not self.durable and conn.dialect.name == "postgresql":
                    conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                written = self.store.trail.append_many(conn, [(p.entry, p.now) for p in batch])
        except Exception as exc:  # every waiting read learns it was not recorded
            for pending in batch:
                pending.done.set_exception(exc)
            return
        for pending, entry in zip(batch, written, strict=True):
            pending.done.set_result(entry)


@dataclass(frozen=True)
class _Pending:
    entry: NewEntry
    now: dt.datetime
    done: Future[AuditEntry]
