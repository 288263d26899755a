"""The scores aggregate: score runs and their per-window score rows.

A score run and all its score rows are committed in one transaction; each row carries
its own evidence (model sha256, feature-row hash, data watermark = last ingest batch,
config hash) so ``auditlens explain`` can replay it from the store alone.

Example::

    run = store.scores.last_run()  # ScoreRun(id=7, model_sha256=..., ...) or None
    rows = store.scores.of_run(run.id)  # a polars frame, one row per (user, window)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from sqlalchemy import Connection, Float, false, func, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError

from auditlens.store.db import score_runs, scores

# ModelRecord: re-exported for pipeline/run.py and learning.py until they import store.models
from auditlens.store.repository import Repository, new_id, utc

if TYPE_CHECKING:
    pass

#: Columns of the score rows a run writes (besides run_id).
SCORE_COLUMNS = (
    "user_id",
    "window",
    "raw_score",
    "surprise",
    "risk",
    "decayed_risk",
    "severity",
    "reasons",
    "feature_hash",
    "model_sha256",
    "config_hash",
    "data_batch_id",
)

#: The columns commit_run inserts, in the order of its row tuples.
_INSERTED: Final = ("run_id", *SCORE_COLUMNS)
#: Score rows converted to Python values at a time: a whole run's rows at once were the
#: run's peak memory (2.6 GB as dicts for 1.75M rows).
_SLICE: Final = 5_000


@dataclass(frozen=True)
class RunRecord:
    """One score run to store (its rows go in ``rows``)."""

    started_at: dt.datetime
    finished_at: dt.datetime
    model_sha256: str
    config_hash: str
    data_batch_id: int
    events: int
    windows: int
    reason_method: str
    capacity: int
    capacity_cutoff: float | None
    #: ``pending`` (its alerts are still to be raised) or ``skipped`` (--no-alerts).
    alerts_state: str = "pending"
    #: The settings that change scores (Settings.scoring_config) as JSON.
    config: str | None = None
    #: The model registry's version of the model (migration 0011; None: not registered).
    model_version: int | None = None


@dataclass(frozen=True)
class ScoreRun:
    """A stored score run (times in UTC)."""

    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    model_sha256: str
    config_hash: str
    data_batch_id: int
    events: int
    windows: int
    reason_method: str
    capacity: int
    capacity_cutoff: float | None
    #: ``pending``, ``raised`` (with its last alert) or ``skipped`` (--no-alerts).
    alerts_state: str
    alerts_raised_at: dt.datetime | None
    #: The settings that changed scores when it ran, as JSON (None before migration 0007).
    config: str | None
    #: The model registry's version scored with (None: not registered, or before 0011).
    model_version: int | None = None


class ScoreRepository(Repository):
    """Score runs and their rows."""

    def commit_run(self, run: RunRecord, rows: pl.DataFrame) -> int:
        """Store a run and its score rows in one transaction; return the run id.

        The rows go in as tuples of driver values, a slice at a time, without
        SQLAlchemy's per-row parameter handling: COPY on PostgreSQL (psycopg), one
        INSERT run over every row elsewhere (a day's 10,220 rows: 0.20 -> 0.065 CPU-s on
        PostgreSQL, 0.16 -> 0.11 on SQLite, whose own B-tree inserts and WAL checkpoint
        are most of the rest). The stored values are those ``insert(scores)`` stores:
        its conversions are applied (:func:`_row_values`).
        """
        frame = rows.select(SCORE_COLUMNS)
        with self._writing() as conn:
            run_id = new_id(conn.execute(insert(score_runs).values(**run.__dict__)))
            for start in range(0, frame.height, _SLICE):
                part = frame.slice(start, _SLICE).select(
                    pl.lit(run_id, dtype=pl.Int64).alias("run_id"), pl.all()
                )
                _insert_rows(conn, part)
        return run_id

    def last_run(self) -> ScoreRun | None:
        """The newest score run."""
        with self._reading() as conn:
            row = conn.execute(select(score_runs).order_by(score_runs.c.id.desc()).limit(1)).first()
        return None if row is None else _run(row._asdict())

    def run(self, run_id: int) -> ScoreRun | None:
        """One score run (None: no such run)."""
        with self._reading() as conn:
            row = conn.execute(select(score_runs).where(score_runs.c.id == run_id)).first()
        return None if row is None else _run(row._asdict())

    def history(self, user_id: str, window: dt.date | None = None) -> pl.DataFrame:
        """Stored score rows of a user (optionally one window), newest run first."""
        query = select(scores).where(scores.c.user_id == user_id)
        if window is not None:
            query = query.where(scores.c.window == window)
        return self.query_frame(query.order_by(scores.c.run_id.desc(), scores.c.window))

    def newest_days(self, model_sha256: str) -> pl.DataFrame:
        """``user_id, window, run_id, decayed_risk`` of the newest stored row of each
        (user, day) scored with ``model_sha256``: what that model's runs found."""
        newest = (
            select(scores.c.user_id, scores.c.window, func.max(scores.c.run_id).label("run_id"))
            .where(scores.c.model_sha256 == model_sha256)
            .group_by(scores.c.user_id, scores.c.window)
            .subquery("newest")
        )
        on = (
            (scores.c.user_id == newest.c.user_id)
            & (scores.c.window == newest.c.window)
            & (scores.c.run_id == newest.c.run_id)
        )
        return self.query_frame(
            select(
                scores.c.user_id, scores.c.window, scores.c.run_id, scores.c.decayed_risk
            ).select_from(newest.join(scores, on))
        )

    def newest_rows(self, model_sha256: str, keys: pl.DataFrame) -> pl.DataFrame:
        """``run_id`` and SCORE_COLUMNS of the newest stored row scored with
        ``model_sha256`` of each (user, day) in ``keys`` (``user_id, window``)."""
        pairs = list(keys.select("user_id", "window").unique().iter_rows())
        found = [self.query_frame(select(scores.c.run_id, *self._columns()).where(false()))]
        for i in range(0, len(pairs), 500):
            found.append(
                self.query_frame(
                    select(scores.c.run_id, *self._columns()).where(
                        scores.c.model_sha256 == model_sha256,
                        tuple_(scores.c.user_id, scores.c.window).in_(pairs[i : i + 500]),
                    )
                )
            )
        rows = pl.concat([f for f in found if f.width], how="vertical_relaxed")
        newest = pl.col("run_id") == pl.col("run_id").max().over("user_id", "window")
        return rows.filter(newest).sort("user_id", "window")

    @staticmethod
    def _columns() -> list[Any]:
        return [scores.c[c] for c in SCORE_COLUMNS]

    def of_run(self, run_id: int) -> pl.DataFrame:
        """Every score row of one run."""
        return self.query_frame(select(scores).where(scores.c.run_id == run_id))

    def pending_runs(self) -> list[int]:
        """Ids of runs whose alerts are not fully raised (a run killed before it finished
        raising them, or one that stopped midway), oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(score_runs.c.id)
                .where(score_runs.c.alerts_state == "pending")
                .order_by(score_runs.c.id)
            )
            return [int(r[0]) for r in rows]

    def mark_alerts_raised(self, run_id: int, now: dt.datetime) -> None:
        """Record that every alert of ``run_id`` is raised (bind it to the transaction of
        the run's last alert with :meth:`within`, so the mark and the alerts commit
        together)."""
        with self._writing() as conn:
            conn.execute(
                update(score_runs)
                .where(score_runs.c.id == run_id)
                .values(alerts_state="raised", alerts_raised_at=now)
            )


def _insert_rows(conn: Connection, part: pl.DataFrame) -> None:
    """Insert ``part`` (the columns of :data:`_INSERTED`) into ``scores`` in ``conn``'s
    transaction."""
    dialect = conn.dialect
    if dialect.driver == "psycopg":
        _copy_rows(conn, part)
    elif dialect.positional:
        compiled = insert(scores).compile(dialect=dialect, column_keys=list(_INSERTED))
        # the tuples' values in the order of the statement's placeholders
        order = list(compiled.positiontup or ())
        conn.exec_driver_sql(compiled.string, _row_values(part.select(order), conn))
    else:  # other drivers (none tested): SQLAlchemy's own executemany
        conn.execute(insert(scores), part.to_dicts())


def _copy_rows(conn: Connection, part: pl.DataFrame) -> None:
    """COPY ``part`` into ``scores`` (PostgreSQL with psycopg): the values are written by
    psycopg's text dumpers, as its INSERT parameters are, and parsed by the server as
    the INSERT's would be. Errors are raised as SQLAlchemy's, as an INSERT's would be."""
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(scores.name)} ({', '.join(quote(c) for c in _INSERTED)}) FROM STDIN"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in _row_values(part, conn):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


def _row_values(part: pl.DataFrame, conn: Connection) -> list[tuple[Any, ...]]:
    """The rows of ``part`` as tuples of the values SQLAlchemy would hand the driver.

    A column whose type converts values for this dialect (SQLite: dates to ISO text,
    numbers to float) is converted the same way: by Polars where that gives the same
    value (a Date column's ISO text, a float column's floats), else value by value with
    SQLAlchemy's own conversion.
    """
    dialect = conn.dialect
    columns: list[list[Any]] = []
    for name in part.columns:
        series = part.get_column(name)
        kind = scores.c[name].type
        convert = kind.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None and dialect.name == "sqlite" and series.dtype == pl.Date:
            # SQLite's DATE stores "%04d-%02d-%02d": what chrono's %Y-%m-%d writes
            columns.append(series.dt.to_string("%Y-%m-%d").to_list())
        elif convert is None or (isinstance(kind, Float) and series.dtype.is_float()):
            columns.append(series.to_list())  # Python floats: float() would return them
        else:
            columns.append([convert(v) for v in series.to_list()])
    return list(zip(*columns, strict=True))


def _run(row: dict[str, Any]) -> ScoreRun:
    raised = row["alerts_raised_at"]
    return ScoreRun(
        **row
        | {
            "started_at": utc(row["started_at"]),
            "finished_at": utc(row["finished_at"]),
            "alerts_raised_at": None if raised is None else utc(raised),
        }
    )
