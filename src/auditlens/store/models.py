"""The models aggregate: every fitted model the store knows, by sha256.

Example::

    record = store.models.latest("ensemble")  # ModelRecord(sha256=..., kind=...) or None
    same = store.models.by_sha(record.sha256)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, insert, select, update

from auditlens.store.db import champions, models
from auditlens.store.repository import Repository

#: Kind of the unsupervised model `auditlens run` fits.
UNSUPERVISED_KIND: Final = "unsupervised"
#: Kind of the stacked ensemble `auditlens train` registers; `run` prefers it.
ENSEMBLE_KIND: Final = "ensemble"


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


class ModelRepository(Repository):
    """Registered models (saved files with their sha256, kind and training facts)."""

    def register(self, record: ModelRecord) -> None:
        """Record a saved model as the newest registered.

        A model already known by its sha256 (a fit on the same data and settings gives
        the same bytes) keeps its row, its file and when it was first created; it is
        registered again: it becomes the newest of its kind, with this registration's
        params (e.g. which model it replaces), data batch and settings.
        """
        with self._writing() as conn:
            exists = conn.execute(
                select(models.c.id).where(models.c.sha256 == record.sha256)
            ).scalar_one_or_none()
            order = (conn.execute(select(func.max(models.c.registered))).scalar() or 0) + 1
            params = json.dumps(record.params, sort_keys=True, default=str)
            if exists is None:
                values = record.__dict__ | {
                    "feature_columns": json.dumps(record.feature_columns),
                    "params": params,
                    "registered": order,
                }
                conn.execute(insert(models).values(**values))
                return
            conn.execute(
                update(models)
                .where(models.c.id == exists)
                .values(
                    params=params,
                    data_batch_id=record.data_batch_id,
                    config_hash=record.config_hash,
                    registered=order,
                )
            )

    def latest(self, kind: str) -> ModelRecord | None:
        """The newest registered model of ``kind``."""
        newest = models.c.registered.desc()
        with self._reading() as conn:
            row = conn.execute(
                select(models).where(models.c.kind == kind).order_by(newest).limit(1)
            ).first()
        return None if row is None else _model(row._asdict())

    def in_force(self) -> ModelRecord | None:
        """The model `auditlens run` scores with: the champion the store recorded last
        (table ``champions``: a training that became the first champion, a promotion, a
        rollback), unless an unsupervised model was fitted to replace it (``run --refit
        --unsupervised``). With no champion recorded: the newest trained ensemble, unless
        a newer unsupervised model replaced it; else the newest unsupervised model."""
        plain = self.latest(UNSUPERVISED_KIND)
        with self._reading() as conn:
            sha = conn.execute(
                select(champions.c.model_sha256).order_by(champions.c.id.desc()).limit(1)
            ).scalar_one_or_none()
        recorded = None if sha is None else self.by_sha(str(sha))
        if recorded is not None:
            if plain is not None and plain.params.get("replaces") == recorded.sha256:
                return plain
            return recorded
        ensemble = self.latest(ENSEMBLE_KIND)
        if ensemble is not None and not (
            plain is not None and plain.params.get("replaces") == ensemble.sha256
        ):
            return ensemble
        return plain

    def all(self) -> list[ModelRecord]:
        """Every registered model, the newest registered first."""
        with self._reading() as conn:
            rows = conn.execute(select(models).order_by(models.c.registered.desc()))
            return [_model(r._asdict()) for r in rows]

    def by_sha(self, sha256: str) -> ModelRecord | None:
        """The registered model with this sha256."""
        with self._reading() as conn:
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
