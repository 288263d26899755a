"""The shadow scores aggregate: the challenger's scores of a run scored in shadow mode.

Stored apart from ``scores`` (table ``shadow_scores``) so that nothing reading the
champion's scores (views, API, alerts, reports) can see them; only ``auditlens model
compare`` (views/shadow.py) reads them. ``risk`` is the challenger's decayed risk, the
figure its peaks, severity and capacity cut use (the champion's ``scores.decayed_risk``).

Example::

    store.shadow.add(run_id, rows)  # user_id, window, risk, severity, flagged, reasons, ...
    rows = store.shadow.of_run(run_id)  # a polars frame, one row per (user, window)
    store.shadow.runs(limit=5)  # the newest shadow-scored runs' ids, newest first
"""

from __future__ import annotations

from typing import Final

import polars as pl
from sqlalchemy import func, insert, select

from auditlens.store.db import shadow_scores
from auditlens.store.repository import Repository

#: Columns of the rows a shadow run writes (besides run_id).
SHADOW_COLUMNS: Final = (
    "model_version",
    "model_sha256",
    "user_id",
    "window",
    "risk",
    "severity",
    "flagged",
    "reasons",
)


class ShadowRepository(Repository):
    """The challenger's score rows of shadow-scored runs."""

    def add(self, run_id: int, rows: pl.DataFrame) -> int:
        """Store the challenger's ``rows`` of run ``run_id`` in one transaction (bind the
        repository with :meth:`within` to join the caller's); returns the rows stored."""
        records = rows.select(SHADOW_COLUMNS).to_dicts()
        with self._writing() as conn:
            for start in range(0, len(records), 5_000):
                chunk = [r | {"run_id": run_id} for r in records[start : start + 5_000]]
                conn.execute(insert(shadow_scores), chunk)
        return len(records)

    def of_run(self, run_id: int) -> pl.DataFrame:
        """Every challenger row of run ``run_id`` (empty: the run was not shadow-scored)."""
        return self.query_frame(
            select(shadow_scores)
            .where(shadow_scores.c.run_id == run_id)
            .order_by(shadow_scores.c.user_id, shadow_scores.c.window)
        )

    def runs(self, limit: int | None = None) -> list[int]:
        """Ids of the runs that have challenger rows, newest first (at most ``limit``)."""
        query = (
            select(shadow_scores.c.run_id)
            .group_by(shadow_scores.c.run_id)
            .order_by(shadow_scores.c.run_id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            return [int(r) for r in conn.execute(query).scalars()]

    def count(self) -> int:
        """Challenger rows stored, every run."""
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(shadow_scores)).scalar_one())
