"""The drift aggregate: how far each stored run's features, scores and alert rate moved
from its model's training reference (measured by monitor/drift.py, table ``run_drift``).

One row per measure and run, written in one transaction. ``kind`` is ``feature`` (``name``
a feature column), ``score`` (``name`` ``risk``), ``alert_rate`` or, for a run that was
looked at but not measured, ``unmeasured`` with ``name`` saying why (``no_reference``:
its model was saved before auditlens kept a training reference; ``too_few_rows``: fewer
new windows than ``[monitoring] drift_min_rows``). A run with no row at all ran before
drift was measured.

Example::

    store.drift.record(run_id, rows, now=clock())
    store.drift.of_run(run_id)  # [DriftRow(kind='feature', name='n_events', ...), ...]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import delete, func, insert, select

from auditlens.store.db import run_drift, score_runs
from auditlens.store.repository import Repository, utc

#: Kinds of measures (and the marker of a run that was not measured).
FEATURE: Final = "feature"
SCORE: Final = "score"
ALERT_RATE: Final = "alert_rate"
UNMEASURED: Final = "unmeasured"
#: Why a run was not measured (``name`` of its ``unmeasured`` row).
NO_REFERENCE: Final = "no_reference"
TOO_FEW_ROWS: Final = "too_few_rows"


@dataclass(frozen=True)
class DriftRow:
    """One measure of one run (``psi``/``ks`` None where they do not apply).

    For ``alert_rate``: ``reference_value`` and ``current_value`` are the shares of
    windows at or above the alert line, ``ks_pvalue`` the two-sided binomial test's
    p-value of the run's count under the reference share (no KS there).
    """

    model_sha256: str
    kind: str
    name: str
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    reference_value: float | None
    current_value: float | None
    reference_n: int
    current_n: int
    drifted: bool
    #: The bins behind ``psi`` as JSON (labels, reference and run shares), for charts.
    bins: str | None = None


@dataclass(frozen=True)
class StoredDrift:
    """A run's stored measures, with when they were written (UTC)."""

    run_id: int
    created_at: dt.datetime
    rows: tuple[DriftRow, ...]


class DriftRepository(Repository):
    """Drift measures per score run."""

    def record(self, run_id: int, rows: list[DriftRow], *, now: dt.datetime) -> None:
        """Store the measures of ``run_id`` in one transaction, replacing any before."""
        values = [
            asdict(row) | {"run_id": run_id, "drifted": int(row.drifted), "created_at": now}
            for row in rows
        ]
        with self._writing() as conn:
            conn.execute(delete(run_drift).where(run_drift.c.run_id == run_id))
            if values:
                conn.execute(insert(run_drift), values)

    def of_run(self, run_id: int) -> StoredDrift | None:
        """The measures of one run (None: nothing stored for it)."""
        with self._reading() as conn:
            found = conn.execute(
                select(run_drift).where(run_drift.c.run_id == run_id).order_by(run_drift.c.id)
            ).all()
        if not found:
            return None
        first = found[0]._asdict()
        return StoredDrift(
            run_id=run_id,
            created_at=utc(first["created_at"]),
            rows=tuple(_row(r._asdict()) for r in found),
        )

    def latest_run_id(self) -> int | None:
        """The newest run with stored measures (or a not-measured marker)."""
        with self._reading() as conn:
            found = conn.execute(select(func.max(run_drift.c.run_id))).scalar_one()
        return None if found is None else int(found)

    def recent_run_ids(self, limit: int) -> list[int]:
        """Up to ``limit`` newest runs with stored drift rows, newest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(run_drift.c.run_id)
                .join(score_runs, score_runs.c.id == run_drift.c.run_id)
                .group_by(run_drift.c.run_id)
                .order_by(run_drift.c.run_id.desc())
                .limit(limit)
            )
            return [int(r[0]) for r in rows]


def expected_rate(reference_rate: float, reference_n: int) -> float:
    """The alert-rate reference a run is compared with: ``reference_rate`` kept within
    half a row of 0 and 1 (of ``reference_n`` rows), so a ratio to it stays finite."""
    floor = 0.5 / max(reference_n, 1)
    return min(max(reference_rate, floor), 1.0 - floor)


def alert_rate_ratio(row: DriftRow) -> float | None:
    """An ``alert_rate`` row's current share / reference share (None for other rows)."""
    if row.kind != ALERT_RATE or row.current_value is None or row.reference_value is None:
        return None
    return row.current_value / expected_rate(row.reference_value, row.reference_n)


def _row(row: dict[str, Any]) -> DriftRow:
    return DriftRow(
        model_sha256=row["model_sha256"],
        kind=row["kind"],
        name=row["name"],
        psi=row["psi"],
        ks=row["ks"],
        ks_pvalue=row["ks_pvalue"],
        reference_value=row["reference_value"],
        current_value=row["current_value"],
        reference_n=int(row["reference_n"]),
        current_n=int(row["current_n"]),
        drifted=bool(row["drifted"]),
        bins=row["bins"],
    )
