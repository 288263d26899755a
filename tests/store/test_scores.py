"""ScoreRepository.commit_run stores what SQLAlchemy's ``insert(scores)`` stores, in one
transaction, slice by slice (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

import polars as pl
import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, insert

from auditlens.config import Settings
from auditlens.store import scores as scores_module
from auditlens.store.db import score_runs, scores
from auditlens.store.repo import Store
from auditlens.store.repository import new_id
from auditlens.store.scores import SCORE_COLUMNS
from tests.store.test_repositories import _model, _run

SHA = "d" * 64
#: Text a COPY or a CSV could mangle: its delimiters, escapes, quotes, line ends, Korean,
#: an end-of-data marker, nothing at all.
AWKWARD = ["a\tb", "back\\slash \\N", 'quo"te, comma', "line\nend\r\n", "한글 사유", "\\.", ""]


def _tricky_rows() -> pl.DataFrame:
    n = len(AWKWARD)
    return pl.DataFrame(
        {
            "user_id": [f"U{i}" for i in range(n - 1)] + [""],
            "window": [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(n - 1)]
            + [dt.date(999, 1, 2)],
            "raw_score": [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 2.5],
            "surprise": [math.inf, -math.inf, 0.0, 1e22, 123456789012345678.0, -1.5, 7.0],
            "risk": [1, 2, 3, 4, 5, 6, 2**53 + 1],  # integers into a Float column
            "decayed_risk": pl.Series([0.1, 0.2, 0.3, 1e-40, 3.4e38, 1.5, 0.7], dtype=pl.Float32),
            "severity": ["low", "medium", "high", "critical", "low", "low", "low"],
            "reasons": AWKWARD,
            "feature_hash": [f"{i:064x}" for i in range(n)],
            "model_sha256": [SHA] * n,
            "config_hash": ["c" * 64] * n,
            "data_batch_id": pl.Series([3] * n, dtype=pl.Int32),
        }
    ).select(SCORE_COLUMNS)


def _stored(conn: Connection, run_id: int) -> list[tuple[Any, ...]]:
    """The rows of ``run_id`` as the database holds them (SQLite: with each value's
    storage class), floats by their bits, in id order."""
    columns = ", ".join(f'"{c}"' for c in SCORE_COLUMNS)
    if conn.dialect.name == "sqlite":
        columns += ", " + ", ".join(f'typeof("{c}")' for c in SCORE_COLUMNS)
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = conn.exec_driver_sql(
        f"SELECT {columns} FROM scores WHERE run_id = {placeholder} ORDER BY id",  # noqa: S608
        (run_id,),
    )
    return [
        tuple(struct.pack("<d", v) if isinstance(v, float) else (type(v), v) for v in row)
        for row in rows
    ]


def _reference_run(store: Store, frame: pl.DataFrame) -> int:
    """Store ``frame`` as SQLAlchemy's insert(scores) does, each row a dict."""
    with store.engine.begin() as conn:
        run_id = new_id(conn.execute(insert(score_runs).values(**_run(SHA).__dict__)))
        conn.execute(insert(scores), [r | {"run_id": run_id} for r in frame.to_dicts()])
    return run_id


def test_commit_run_stores_what_an_insert_of_each_row_stores(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores_module, "_SLICE", 3)  # 7 rows: slices of 3, 3 and 1
    frame = _tricky_rows()
    with Store.open(settings, migrate=True) as store:
        store.models.register(_model(SHA))
        reference = _reference_run(store, frame)
        run_id = store.scores.commit_run(_run(SHA), frame)
        with store.engine.connect() as conn:
            expected, got = _stored(conn, reference), _stored(conn, run_id)
        assert len(got) == frame.height and got == expected
        back = store.scores.of_run(run_id)
        assert back["reasons"].to_list() == AWKWARD
        assert back["window"].to_list() == frame["window"].to_list()
        assert back["risk"].to_list()[-1] == float(2**53 + 1)


def test_commit_run_of_no_rows_stores_the_run_alone(settings: Settings) -> None:
    with Store.open(settings, migrate=True) as store:
        store.models.register(_model(SHA))
        run_id = store.scores.commit_run(_run(SHA), _tricky_rows().clear())
        assert store.scores.run(run_id) is not None and store.scores.of_run(run_id).height == 0


def test_a_refused_row_undoes_the_whole_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores_module, "_SLICE", 3)
    frame = _tricky_rows().with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(None)
        .otherwise(pl.col("user_id"))
        .alias("user_id")
    )
    with Store.open(settings, migrate=True) as store:
        store.models.register(_model(SHA))
        # the same error an INSERT raises (NOT NULL), in the second slice
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            store.scores.commit_run(_run(SHA), frame)
        assert store.scores.last_run() is None
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM scores").scalar() == 0
