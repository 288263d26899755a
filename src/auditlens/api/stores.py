"""The application's store: opened on first use, shared by every request, closed at exit.

A :class:`~auditlens.store.repo.Store` is an engine pool, safe to share between the
threads FastAPI runs synchronous routes on (SQLite: one connection per thread from the
pool, WAL and a busy timeout; PostgreSQL: a pooled connection per request). Opening is
lazy so that the service starts — and ``/healthz`` answers — while the database is still
coming up; ``/readyz`` says when it is reachable and its schema current.
"""

from __future__ import annotations

import logging
import threading

from fastapi import Request
from sqlalchemy import text

from auditlens.api.problems import Problem
from auditlens.config import Settings
from auditlens.errors import StoreError
from auditlens.privacy import ViewRecorder
from auditlens.store.migrate import current_revision, head_revision
from auditlens.store.repo import Store

log = logging.getLogger("auditlens.api")


def unavailable() -> Problem:
    """503: the store cannot be used now (the reason is logged, never sent)."""
    return Problem(
        503,
        "store-unavailable",
        "Service unavailable",
        "the store is not reachable or its schema is not current; try again later",
        "저장소에 연결할 수 없거나 스키마가 최신이 아닙니다; 잠시 후 다시 시도하십시오",
        headers={"Retry-After": "5"},
    )


class StoreHolder:
    """One Store for the application, opened on first :meth:`get`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._views: ViewRecorder | None = None
        self._lock = threading.Lock()

    def views(self) -> ViewRecorder:
        """The recorder of reads of people (group commit; opened with the store).

        Raises:
            Problem: 503 when the store cannot be opened.
        """
        store = self.get()
        with self._lock:
            if self._views is None:
                self._views = ViewRecorder(store, durable=self.settings.privacy.durable_views)
            return self._views

    def get(self) -> Store:
        """The open store.

        Raises:
            Problem: 503 when it cannot be opened (the StoreError is logged, secrets masked).
        """
        if self._store is not None:
            return self._store
        with self._lock:
            if self._store is None:
                try:
                    self._store = Store.open(self.settings)
                except StoreError as exc:
                    log.warning("store not available: %s", exc)
                    raise unavailable() from None
            return self._store

    def ready(self) -> bool:
        """True when the store answers a query and its schema is this auditlens's head."""
        try:
            store = self.get()
            with store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return current_revision(store.engine) == head_revision()
        except Problem:
            return False
        except Exception as exc:  # any driver error means "not ready", never a 500
            log.warning("store not ready: %s", type(exc).__name__)
            return False

    def close(self) -> None:
        """Release the store's connections (at application shutdown)."""
        with self._lock:
            if self._views is not None:
                self._views.close()  # what was read is recorded before the store closes
                self._views = None
            if self._store is not None:
                self._store.close()
                self._store = None


def store(request: Request) -> Store:
    """FastAPI dependency: the application's open store (503 when unavailable)."""
    holder: StoreHolder = request.app.state.stores
    return holder.get()
