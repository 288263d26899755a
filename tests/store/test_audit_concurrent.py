"""Many writers appending to the trail at once: every entry lands, the chain stays one line.

On SQLite the last entry used to be read *before* the write transaction began (the driver
begins one only at the first INSERT), so two writers could read the same last entry and
the second failed on the duplicate sequence number.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from auditlens.config import Settings
from auditlens.store.audit import GENESIS, NewEntry, append, entry_hash
from auditlens.store.db import audit_log
from auditlens.store.repo import Store

T0 = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)
WRITERS = 8
EACH = 25


def test_concurrent_appends_all_land_in_one_chain(settings: Settings) -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)
    with Store.open(settings, migrate=True) as store:

        def write(n: int) -> None:
            start.wait()
            for i in range(EACH):
                try:
                    with store.engine.begin() as conn:
                        entry = NewEntry("kim", "view", f"user:U{n}", f"U{n}", "risk", str(i), {})
                        append(conn, entry, T0)
                except BaseException as exc:  # every failure is the finding
                    failures.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(audit_log).order_by("seq"))]
    assert failures == []
    assert [row["seq"] for row in rows] == list(range(1, WRITERS * EACH + 1))
    previous = GENESIS
    for row in rows:
        assert row["prev_hash"] == previous
        assert row["hash"] == entry_hash(row)
        previous = row["hash"]
