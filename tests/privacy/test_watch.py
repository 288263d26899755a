"""Watch the watchers: every read of a named person is an audit entry that verifies."""

from __future__ import annotations

import datetime as dt

import pytest

from auditlens.config import Settings
from auditlens.pipeline.trail import audit_log, verify_trail
from auditlens.privacy import ViewError, record_view
from auditlens.store.repo import Store
from tests.alerts.conftest import T0
from tests.privacy.conftest import DIRECTORY, open_alert


def test_each_read_is_recorded_and_the_trail_verifies(store: Store, settings: Settings) -> None:
    open_alert(store)
    kim, on_behalf = DIRECTORY.acting("kim"), DIRECTORY.acting("choi", "lee")
    first = record_view(store, kim, "U0042", "risk", "HR case 31", now=T0, pseudonymised=True)
    later = T0 + dt.timedelta(minutes=3)
    second = record_view(store, on_behalf, " U0042 ", "history", None, now=later)
    assert (first.action, first.actor, first.subject, first.target) == (
        "view",
        "kim",
        "U0042",
        "user:U0042",
    )
    assert (first.reason_code, first.note, first.criteria) == (
        "risk",
        "HR case 31",
        {"pseudonymised": True},
    )
    assert second.actor == "choi" and second.criteria["on_behalf_of"] == "lee"
    assert second.note == "" and second.at == later and second.subject == "U0042"
    # who looked at U0042: `auditlens audit log --user U0042`
    looked = [
        (e.actor, e.reason_code) for e in audit_log(settings, user="U0042") if e.action == "view"
    ]
    assert looked == [("kim", "risk"), ("choi", "history")]
    with pytest.raises(ViewError, match="unknown view"):
        record_view(store, kim, "U0042", "salary", now=T0)
    with pytest.raises(ViewError):
        record_view(store, kim, "  ", "risk", now=T0)
    long = record_view(store, kim, "U0042", "alert", "x" * 2_000, now=T0)
    assert len(long.note) == 500
    assert verify_trail(settings).ok


def test_a_busy_service_records_reads_in_few_commits(store: Store, settings: Settings) -> None:
    """Reads arriving while a commit runs go into the next one (group commit): every read
    gets its own entry, in one unbroken chain, with far fewer transactions than reads."""
    import threading

    from sqlalchemy import event

    from auditlens.privacy import ViewRecorder

    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    recorder = ViewRecorder(store)
    kim = DIRECTORY.acting("kim")
    futures = []
    lock = threading.Lock()

    def read(n: int) -> None:
        for i in range(25):
            done = recorder.submit(kim, f"U{n:04d}", "risk", f"case {i}", now=T0)
            with lock:
                futures.append(done)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [f.result(timeout=30) for f in futures]
    recorder.close()
    assert len({e.seq for e in entries}) == 200
    assert sum(commits) < 200
    assert verify_trail(settings).ok
    looked = [e for e in audit_log(settings, user="U0003") if e.action == "view"]
    assert [e.note for e in looked] == [f"case {i}" for i in range(25)]


def test_a_failed_commit_fails_every_read_of_its_batch(store: Store) -> None:
    from auditlens.privacy import ViewRecorder

    recorder = ViewRecorder(store)
    kim = DIRECTORY.acting("kim")
    store.engine.dispose()
    store.engine.pool.connect = None  # type: ignore[method-assign]  # the database is gone
    failed = recorder.submit(kim, "U0042", "risk", now=T0)
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        failed.result(timeout=30)
    recorder.close()
    with pytest.raises(ViewError, match="closed"):
        recorder.submit(kim, "U0042", "risk", now=T0)


@pytest.mark.parametrize("durable", [True, False])
def test_view_commits_skip_the_wal_flush_only_when_asked(
    store: Store, settings: Settings, durable: bool
) -> None:
    """privacy.durable_views off: on PostgreSQL a batch's commit does not wait for its WAL
    flush (SQLite's default durability); the entries are the same and verify."""
    from sqlalchemy import event

    from auditlens.privacy import ViewRecorder

    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    recorder = ViewRecorder(store, durable=durable)
    entry = recorder.submit(DIRECTORY.acting("kim"), "U0042", "risk", now=T0).result(timeout=30)
    recorder.close()
    assert entry.action == "view" and verify_trail(settings).ok
    skipped = any("synchronous_commit" in s for s in statements)
    assert skipped == (not durable and store.engine.dialect.name == "postgresql")
