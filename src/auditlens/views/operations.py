"""How the deployment runs: runs, ingestion, scores, alerts, deliveries, the model in
force, detection quality (precision and miss rate of the last 28 days) — over the store's
whole life, for monitoring (``monitor/metrics.py`` turns it into
Prometheus metrics; docs/monitoring.md lists them).

The counts are the store's, not a process's: a restart resets nothing and every exporter
of one store reports the same numbers. Quarantine kinds are counted as
:func:`auditlens.views.data.data_health` counts them (a row once under each of its
kinds), alerts by the statuses of ``store/alerts.py`` and severities of ``vocabulary``,
deliveries by the outbox's statuses, the model in force as ``auditlens run`` picks it,
drift as the newest run with drift rows measured it (views/drift.py).

Only runs that stored scores are known to the store: a run that failed, or found no new
events and stored nothing, leaves no row (the "no run in 26 h" alert sees both).

Example::

    with Store.open(settings) as store:
        now = operations(store)
        now.last_run_finished_at, now.deliveries_by_status["dead"]
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Final

from pydantic import Field
from sqlalchemy import Connection, case, func, select

from auditlens.store.alerts import ALERT_STATUSES
from auditlens.store.db import (
    alerts,
    deliveries,
    delivery_attempts,
    ingest_batches,
    quarantine,
    score_runs,
    tamper_findings,
)
from auditlens.store.repo import Store
from auditlens.views.common import ViewModel, reading, utc
from auditlens.views.data import reason_kinds
from auditlens.views.drift import RunDrift, latest_drift
from auditlens.views.quality import RecentQuality, recent_quality
from auditlens.vocabulary import Severity

#: What ``score_runs.alerts_state`` says of a run's alerts (store/scores.py).
RUN_ALERT_STATES: Final = ("raised", "pending", "skipped")


class SourceIntake(ViewModel):
    """Every batch committed from one source."""

    source: str
    batches: int
    ingested: int = Field(description="rows read (accepted + quarantined)")
    accepted: int
    quarantined: int
    last_committed_at: dt.datetime


class AlertCount(ViewModel):
    """Alerts of one severity that are in one status now."""

    severity: str
    status: str
    alerts: int


class ModelInForce(ViewModel):
    """The model ``auditlens run`` scores with (store/models.py ``in_force``)."""

    sha256: str
    kind: str
    created_at: dt.datetime
    age_seconds: float


class Operations(ViewModel):
    """The store's running totals and states at ``at``."""

    at: dt.datetime
    runs: dict[str, int] = Field(description="stored runs by alerts state (raised, ...)")
    last_run_started_at: dt.datetime | None
    last_run_finished_at: dt.datetime | None = Field(description="the newest stored run")
    last_run_seconds: float | None
    scores_stored: int = Field(description="score rows of every stored run")
    sources: tuple[SourceIntake, ...]
    quarantine_by_kind: dict[str, int] = Field(description="rows per kind, every batch")
    tamper_by_kind: dict[str, int]
    alerts: tuple[AlertCount, ...] = Field(description="every severity x status, zeros too")
    deliveries_by_status: dict[str, int]
    attempts: dict[str, int] = Field(description="delivery attempts: ok, failed")
    outbox_oldest_pending_seconds: float | None = Field(
        description="age of the oldest pending delivery (None: none pending)"
    )
    outbox_oldest_due_seconds: float | None = Field(
        description="how long the longest-waiting *due* delivery is overdue: a dispatcher "
        "that stopped (quiet hours and retry back-off are not due yet)"
    )
    model: ModelInForce | None
    drift: RunDrift | None = Field(
        default=None, description="the newest run with drift rows (None: none measured yet)"
    )
    quality: RecentQuality = Field(
        description="precision per scenario and the miss rate of the last 28 days, review "
        "samples per status (views/quality.py)"
    )


def operations(store: Store, *, now: dt.datetime | None = None) -> Operations:
    """The running totals and states of ``store`` at ``now`` (default: the clock)."""
    at = utc(now or dt.datetime.now(dt.UTC))
    with reading(store.engine) as conn:
        runs = _runs(conn)
        last = conn.execute(
            select(score_runs.c.started_at, score_runs.c.finished_at)
            .order_by(score_runs.c.id.desc())
            .limit(1)
        ).first()
        stored = conn.execute(select(func.coalesce(func.sum(score_runs.c.windows), 0)))
        scores_stored = int(stored.scalar_one())
        sources = _sources(conn)
        reasons = conn.execute(
            select(quarantine.c.reason, func.count()).group_by(quarantine.c.reason)
        ).all()
        tampered = conn.execute(
            select(tamper_findings.c.kind, func.count()).group_by(tamper_findings.c.kind)
        ).all()
        alert_counts = _alerts(conn)
        attempts = _attempts(conn)
        oldest, overdue = _outbox_ages(conn, at)
    model = store.models.in_force()
    drift = latest_drift(store)
    quality = recent_quality(store, now=at)
    return Operations(
        at=at,
        runs=runs,
        last_run_started_at=None if last is None else utc(last.started_at),
        last_run_finished_at=None if last is None else utc(last.finished_at),
        last_run_seconds=None
        if last is None
        else (utc(last.finished_at) - utc(last.started_at)).total_seconds(),
        scores_stored=scores_stored,
        sources=sources,
        quarantine_by_kind=dict(sorted(reason_kinds((str(r), int(n)) for r, n in reasons).items())),
        tamper_by_kind=dict(sorted((str(k), int(n)) for k, n in tampered)),
        alerts=alert_counts,
        deliveries_by_status=store.alerts.outbox.counts(),
        attempts=attempts,
        outbox_oldest_pending_seconds=oldest,
        outbox_oldest_due_seconds=overdue,
        model=None
        if model is None
        else ModelInForce(
            sha256=model.sha256,
            kind=model.kind,
            created_at=utc(model.created_at),
            age_seconds=(at - utc(model.created_at)).total_seconds(),
        ),
        drift=drift,
        quality=quality,
    )


def _runs(conn: Connection) -> dict[str, int]:
    found = Counter(
        {
            str(state): int(n)
            for state, n in conn.execute(
                select(score_runs.c.alerts_state, func.count()).group_by(score_runs.c.alerts_state)
            )
        }
    )
    return {s: found.get(s, 0) for s in RUN_ALERT_STATES} | {
        s: n for s, n in sorted(found.items()) if s not in RUN_ALERT_STATES
    }


def _sources(conn: Connection) -> tuple[SourceIntake, ...]:
    b = ingest_batches.c
    rows = conn.execute(
        select(
            b.source,
            func.count(),
            func.sum(b.ingested),
            func.sum(b.accepted),
            func.sum(b.quarantined),
            func.max(b.committed_at),
        )
        .group_by(b.source)
        .order_by(b.source)
    ).all()
    return tuple(
        SourceIntake(
            source=str(source),
            batches=int(n),
            ingested=int(ingested or 0),
            accepted=int(accepted or 0),
            quarantined=int(bad or 0),
            last_committed_at=utc(last),
        )
        for source, n, ingested, accepted, bad, last in rows
    )


def _alerts(conn: Connection) -> tuple[AlertCount, ...]:
    counts = {
        (str(severity), str(status)): int(n)
        for severity, status, n in conn.execute(
            select(alerts.c.severity, alerts.c.status, func.count()).group_by(
                alerts.c.severity, alerts.c.status
            )
        )
    }
    known = [(s.value, st) for s in Severity for st in ALERT_STATUSES]
    every = dict.fromkeys(known, 0) | dict(sorted(counts.items()))
    return tuple(AlertCount(severity=s, status=st, alerts=n) for (s, st), n in every.items())


def _attempts(conn: Connection) -> dict[str, int]:
    outcome = case((delivery_attempts.c.ok == 1, "ok"), else_="failed")
    found = {
        str(o): int(n) for o, n in conn.execute(select(outcome, func.count()).group_by(outcome))
    }
    return {"ok": found.get("ok", 0), "failed": found.get("failed", 0)}


def _outbox_ages(conn: Connection, at: dt.datetime) -> tuple[float | None, float | None]:
    pending = deliveries.c.status == "pending"
    created = conn.execute(select(func.min(deliveries.c.created_at)).where(pending))
    oldest = created.scalar_one()
    due = conn.execute(
        select(func.min(deliveries.c.not_before)).where(pending, deliveries.c.not_before <= at)
    ).scalar_one()
    return (
        None if oldest is None else max(0.0, (at - utc(oldest)).total_seconds()),
        None if due is None else max(0.0, (at - utc(due)).total_seconds()),
    )
