"""Named locks that live with the store, so two processes, directories or machines that
share one store also share its locks.

PostgreSQL: a session-level advisory lock held on a dedicated connection (released by the
server when the process dies). MySQL/MariaDB: ``GET_LOCK``. SQLite: ``flock`` on a file
beside the database file (released by the kernel when the process dies). A file lock in
the working directory would not do: two working directories pointing at one PostgreSQL
store would each hold "the" lock.

Example::

    with store_lock(store.engine, "ingest", what="ingestion"):
        ...  # only one ingestion per store at a time
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from auditlens.errors import StoreError

_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_POLL_SECONDS = 0.2


class LockTimeout(StoreError):
    """Another process holds the store's lock (exit code 6)."""

    exit_code = 6
    hint = "wait for it to finish (or stop it), then run again"
    ko_hint = "그 작업이 끝날 때까지 기다리거나 중지한 뒤 다시 실행하십시오"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for lock ``name`` (PostgreSQL advisory-lock space)."""
    digest = hashlib.sha256(f"auditlens:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def store_lock(
    engine: Engine, name: str, *, timeout: float = 30.0, what: str | None = None
) -> Iterator[None]:
    """Hold the store-wide lock ``name`` for the ``with`` block.

    Waits up to ``timeout`` seconds (0: try once), then raises :class:`LockTimeout`
    naming ``what`` holds it.
    """
    label = what or name
    backend = engine.url.get_backend_name()
    deadline = time.monotonic() + max(timeout, 0.0)
    if backend == "sqlite":
        with _file_lock(engine, name, deadline, label):
            yield
    elif backend == "postgresql":
        with engine.connect() as conn, _pg_lock(conn, name, deadline, label):
            yield
    elif backend in {"mysql", "mariadb"}:
        with engine.connect() as conn, _mysql_lock(conn, name, deadline, label):
            yield
    else:  # pragma: no cover - the stores auditlens supports are above
        raise StoreError(
            f"no store lock for the {backend} backend",
            ko=f"{backend} 백엔드에는 저장소 잠금이 없습니다",
        )


def _timeout(name: str, label: str) -> LockTimeout:
    return LockTimeout(
        f"another {label} is running on this store (lock {name!r} is held)",
        ko=f"이 저장소에서 다른 {label} 작업이 실행 중입니다 (잠금 {name!r} 사용 중)",
    )


@contextlib.contextmanager
def _pg_lock(conn: Connection, name: str, deadline: float, label: str) -> Iterator[None]:
    key = advisory_key(name)
    while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
        conn.rollback()
        if time.monotonic() >= deadline:
            raise _timeout(name, label)
        time.sleep(_POLL_SECONDS)
    conn.commit()  # session-level lock: survives the transaction that took it
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()


@contextlib.contextmanager
def _mysql_lock(conn: Connection, name: str, deadline: float, label: str) -> Iterator[None]:
    key = f"auditlens:{name}"[:64]
    wait = max(0, int(deadline - time.monotonic()))
    if conn.execute(text("SELECT GET_LOCK(:k, :w)"), {"k": key, "w": wait}).scalar_one() != 1:
        raise _timeout(name, label)
    try:
        yield
    finally:
        conn.execute(text("SELECT RELEASE_LOCK(:k)"), {"k": key})


@contextlib.contextmanager
def _file_lock(engine: Engine, name: str, deadline: float, label: str) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        lock = _MEMORY_LOCKS.setdefault(f"{id(engine)}:{name}", threading.Lock())
        if not lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise _timeout(name, label)
        try:
            yield
        finally:
            lock.release()
        return
    path = Path(f"{database}.{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _timeout(name, label) from None
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
