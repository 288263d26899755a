"""The online scores aggregate: what the streaming run's River detector said of each
window it scored (table ``online_scores``, beside the run's ``scores`` rows).

Example::

    store.online.add(run_id, rows)  # user_id, window, score, learned, closing, reasons
    store.online.of_run(run_id)     # a polars frame, one row per (user, window)
"""

from __future__ import annotations

from typing import Final

import polars as pl
from sqlalchemy import insert, select

from auditlens.store.db import online_scores
from auditlens.store.repository import Repository

#: Columns of the rows a stream run writes (besides run_id).
ONLINE_COLUMNS: Final = ("user_id", "window", "score", "learned", "closing", "reasons")


class OnlineRepository(Repository):
    """The online detector's score rows of stream runs."""

    def add(self, run_id: int, rows: pl.DataFrame) -> int:
        """Store ``rows`` of run ``run_id`` in one transaction; returns the rows stored."""
        records = [r | {"run_id": run_id} for r in rows.select(ONLINE_COLUMNS).to_dicts()]
        if records:
            with self._writing() as conn:
                conn.execute(insert(online_scores), records)
        return len(records)

    def of_run(self, run_id: int) -> pl.DataFrame:
        """Every online row of run ``run_id``."""
        return self.query_frame(
            select(online_scores)
            .where(online_scores.c.run_id == run_id)
            .order_by(online_scores.c.user_id, online_scores.c.window)
        )

    def of_user(self, user_id: str) -> pl.DataFrame:
        """Every online row of a user, newest run first."""
        return self.query_frame(
            select(online_scores)
            .where(online_scores.c.user_id == user_id)
            .order_by(online_scores.c.run_id.desc())
        )
