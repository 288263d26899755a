"""The model catalogue view: every registered model, which one is in force, and the runs
that scored with it.

Example::

    with Store.open(settings) as store:
        active = next(m for m in model_versions(store) if m.active)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from auditlens.store.db import score_runs
from auditlens.store.repo import Store
from auditlens.views.common import ViewModel, utc


class ModelVersion(ViewModel):
    """One registered model."""

    sha256: str
    kind: str = Field(description="unsupervised or ensemble")
    created_at: dt.datetime
    active: bool = Field(description="the model `auditlens run` scores with now")
    n_train: int = Field(description="training windows")
    feature_count: int
    config_hash: str
    data_batch_id: int | None
    params: dict[str, Any]
    metrics: dict[str, Any] | None = Field(description="evaluation figures, where stored")
    runs: int = Field(description="score runs made with it")
    last_run_id: int | None


def model_versions(store: Store) -> tuple[ModelVersion, ...]:
    """Every registered model, newest first; ``active`` marks the one in force."""
    active = store.models.in_force()
    with store.engine.connect() as conn:
        used = {
            str(sha): (int(n), int(last))
            for sha, n, last in conn.execute(
                select(score_runs.c.model_sha256, func.count(), func.max(score_runs.c.id)).group_by(
                    score_runs.c.model_sha256
                )
            )
        }
    versions = []
    for record in store.models.all():
        runs, last = used.get(record.sha256, (0, None))
        metrics = record.params.get("metrics")
        versions.append(
            ModelVersion(
                sha256=record.sha256,
                kind=record.kind,
                created_at=utc(record.created_at),
                active=active is not None and active.sha256 == record.sha256,
                n_train=record.n_train,
                feature_count=len(record.feature_columns),
                config_hash=record.config_hash,
                data_batch_id=record.data_batch_id,
                params={k: v for k, v in record.params.items() if k != "metrics"},
                metrics=metrics if isinstance(metrics, dict) else None,
                runs=runs,
                last_run_id=last,
            )
        )
    return tuple(versions)
