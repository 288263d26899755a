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

from auditlens.store.db import score_runs, scores
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


class ModelChange(ViewModel):
    """What a model changed against the one registered just before it."""

    sha256: str
    previous_sha256: str | None = Field(description="null for the first model")
    kind_before: str | None
    kind: str
    features_added: tuple[str, ...]
    features_removed: tuple[str, ...]
    params_changed: tuple[str, ...] = Field(description="parameters added, removed or changed")
    config_changed: bool = Field(description="the scoring settings' fingerprint differs")
    n_train_before: int | None
    n_train: int


def model_changes(store: Store) -> tuple[ModelChange, ...]:
    """Each registered model against the one registered before it, newest first."""
    records = store.models.all()  # newest first
    changes = []
    for record, previous in zip(records, [*records[1:], None], strict=True):
        before_params = {} if previous is None else previous.params
        keys = set(record.params) | set(before_params)
        before_columns = [] if previous is None else previous.feature_columns
        changes.append(
            ModelChange(
                sha256=record.sha256,
                previous_sha256=None if previous is None else previous.sha256,
                kind_before=None if previous is None else previous.kind,
                kind=record.kind,
                features_added=tuple(c for c in record.feature_columns if c not in before_columns),
                features_removed=tuple(
                    c for c in before_columns if c not in record.feature_columns
                ),
                params_changed=tuple(
                    sorted(
                        k
                        for k in keys
                        if previous is not None and record.params.get(k) != before_params.get(k)
                    )
                ),
                config_changed=previous is not None and record.config_hash != previous.config_hash,
                n_train_before=None if previous is None else previous.n_train,
                n_train=record.n_train,
            )
        )
    return tuple(changes)


def period_models(store: Store, start: dt.date, end: dt.date) -> tuple[str, ...]:
    """The sha256 of every model behind the risk a period shows, sorted: the models of
    each (user, day)'s newest score from ``start`` to ``end`` (as ``activity`` and
    ``top_risks`` read them) — what a report of the period rests on."""
    newest = (
        select(scores.c.user_id, scores.c.window, func.max(scores.c.run_id).label("run_id"))
        .where(scores.c.window >= start, scores.c.window <= end)
        .group_by(scores.c.user_id, scores.c.window)
        .subquery("newest")
    )
    query = (
        select(score_runs.c.model_sha256)
        .where(score_runs.c.id.in_(select(newest.c.run_id).distinct()))
        .distinct()
    )
    with store.engine.connect() as conn:
        return tuple(sorted(str(sha) for sha in conn.execute(query).scalars()))
