"""Typed reads and writes of models, score runs and per-window scores.

A score run and all its score rows are committed in one transaction; each row carries
its own evidence (model sha256, feature-row hash, data watermark = last ingest batch,
config hash) so ``auditlens explain`` can replay it from the store alone.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from auditlens.store.db import ingest_batches, models, score_runs, scores
from auditlens.store.repo import Store

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


@dataclass(frozen=True)
class ModelRecord:
    """A fitted model the store knows."""

    sha256: str
    kind: str
    path: str
    feature_columns: list[str]
    params: dict[str, Any]
    n_train: int
    data_batch_id: int | None
    config_hash: str
    created_at: dt.datetime


@dataclass(frozen=True)
class RunRecord:
    """One score run (its rows go in ``rows``)."""

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


def last_batch_id(store: Store) -> int:
    """Id of the newest committed ingest batch (0 when nothing was ingested)."""
    with store.engine.connect() as conn:
        value = conn.execute(select(func.max(ingest_batches.c.id))).scalar()
    return int(value or 0)


def events_upto(store: Store, batch_id: int) -> pl.LazyFrame:
    """Committed events of batches up to ``batch_id`` (the data as a run saw it)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(ingest_batches.c.lake_part)
            .where(ingest_batches.c.lake_part.is_not(None), ingest_batches.c.id <= batch_id)
            .order_by(ingest_batches.c.id)
        )
        parts = [str(r[0]) for r in rows]
    return store.lake.scan(parts)


def first_event_day_after(store: Store, batch_id: int) -> dt.datetime | None:
    """Earliest event time among batches newer than ``batch_id`` (None: nothing new)."""
    with store.engine.connect() as conn:
        value = conn.execute(
            select(func.min(ingest_batches.c.min_ts)).where(ingest_batches.c.id > batch_id)
        ).scalar()
    return value


def register_model(store: Store, record: ModelRecord) -> None:
    """Record a saved model (idempotent for the same sha256)."""
    with store.engine.begin() as conn:
        exists = conn.execute(
            select(models.c.id).where(models.c.sha256 == record.sha256)
        ).scalar_one_or_none()
        if exists is None:
            values = record.__dict__ | {
                "feature_columns": json.dumps(record.feature_columns),
                "params": json.dumps(record.params, sort_keys=True, default=str),
            }
            conn.execute(insert(models).values(**values))


def latest_model(store: Store, kind: str) -> ModelRecord | None:
    """The newest registered model of ``kind``."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(models).where(models.c.kind == kind).order_by(models.c.id.desc()).limit(1)
        ).first()
    return None if row is None else _model(row._asdict())


def model_by_sha(store: Store, sha256: str) -> ModelRecord | None:
    """The registered model with this sha256."""
    with store.engine.connect() as conn:
        row = conn.execute(select(models).where(models.c.sha256 == sha256)).first()
    return None if row is None else _model(row._asdict())


def _model(row: dict[str, Any]) -> ModelRecord:
    return ModelRecord(
        sha256=row["sha256"],
        kind=row["kind"],
        path=row["path"],
        feature_columns=json.loads(row["feature_columns"]),
        params=json.loads(row["params"]),
        n_train=int(row["n_train"]),
        data_batch_id=row["data_batch_id"],
        config_hash=row["config_hash"],
        created_at=row["created_at"],
    )


def last_run(store: Store) -> dict[str, Any] | None:
    """The newest score run as a dict of its columns."""
    with store.engine.connect() as conn:
        row = conn.execute(select(score_runs).order_by(score_runs.c.id.desc()).limit(1)).first()
    return None if row is None else row._asdict()


def commit_run(store: Store, run: RunRecord, rows: pl.DataFrame) -> int:
    """Store a run and its score rows in one transaction; return the run id."""
    records = rows.select(SCORE_COLUMNS).to_dicts()
    with store.engine.begin() as conn:
        run_id = int(
            conn.execute(insert(score_runs).values(**run.__dict__)).inserted_primary_key[0]  # type: ignore[index]
        )
        for start in range(0, len(records), 5_000):
            chunk = [r | {"run_id": run_id} for r in records[start : start + 5_000]]
            conn.execute(insert(scores), chunk)
    return run_id


def score_history(store: Store, user_id: str, window: dt.date | None = None) -> pl.DataFrame:
    """Stored score rows of a user (optionally one window), newest run first."""
    query = select(scores).where(scores.c.user_id == user_id)
    if window is not None:
        query = query.where(scores.c.window == window)
    return store.query_frame(query.order_by(scores.c.run_id.desc(), scores.c.window))


def run_scores(store: Store, run_id: int) -> pl.DataFrame:
    """Every score row of one run."""
    return store.query_frame(select(scores).where(scores.c.run_id == run_id))


def pending_runs(store: Store) -> list[int]:
    """Ids of runs whose alerts are not fully raised (a run killed before it finished
    raising them, or one that stopped midway), oldest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(score_runs.c.id)
            .where(score_runs.c.alerts_state == "pending")
            .order_by(score_runs.c.id)
        )
        return [int(r[0]) for r in rows]


def mark_alerts_raised(conn: Connection, run_id: int, now: dt.datetime) -> None:
    """Record that every alert of ``run_id`` is raised (in the caller's transaction, the
    one of its last alert, so the mark and the alerts commit together)."""
    conn.execute(
        update(score_runs)
        .where(score_runs.c.id == run_id)
        .values(alerts_state="raised", alerts_raised_at=now)
    )


def run_record(store: Store, run_id: int) -> dict[str, Any] | None:
    """One score run as a dict of its columns."""
    with store.engine.connect() as conn:
        row = conn.execute(select(score_runs).where(score_runs.c.id == run_id)).first()
    return None if row is None else row._asdict()
