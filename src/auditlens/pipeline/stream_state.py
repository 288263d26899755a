"""The streaming run's per-user state: a feature and risk history up to yesterday, today's
events in memory, and per micro-batch the matrix of today only, scored for the updated
(user, day) windows.

Design (every feature is causal: a (user, day) window depends only on events up to the
end of that day, features/history.py):

* ``yesterday`` (:class:`features.history.FeatureHistory`) and ``risk``
  (:class:`scoring.RiskHistory`): what every day before the current day ``day`` leaves
  (trailing baselines, first-seen values, sequence habits, peer days; each user's decay
  carry and peak days). Obtained on start from the daily run's stored history
  (pipeline/increments.py) when it was computed with the model in force under these
  settings and no later batch holds an event of its days, advanced over the lake's events
  of the days between it and yesterday; else by ``advance`` over the lake's events up to
  yesterday (once, ``CHUNK_DAYS`` days of events at a time, read with their timestamp
  bounds pushed down to the lake scan).
* ``running`` (:class:`features.today.RunningDay`): the current day's events, and its
  per-user aggregations and distinct values merged per micro-batch.
* Each micro-batch: ``running.matrix()`` gives today's rows, bit for bit the batch
  features of today's events so far (what ``advance(builder, today, ctx, yesterday)``
  gives); the updated users' rows are scored with decay continuing from ``risk``. Cost:
  the micro-batch's events for the aggregations, today's users for the rows, the
  sequence features of the users who acted over their day so far, and a fixed part over
  the history's peer tables (README "Measured").
* Day change (a batch holds a later day): the completed day is closed over its complete
  events (``closing``, ``RunningDay.close``: what ``advance`` gives, without preparing
  the day's events again; any day the batch began and ended is advanced after it): those
  rows equal the batch features of that day, and the history after them becomes
  ``yesterday`` (their scores move ``risk`` on).
* Late events (a day before ``day``, e.g. a producer's backlog): ``advance`` cannot take
  them, so everything before today is computed again from the lake, from scratch (as at
  a start without a stored history), and the late windows are scored with every later
  day of their users, decay continuing from the risk history before the first late
  day. Correct, and costs one start.

Memory: the history (grows with users, hosts and distinct steps, not with events) and
today's events; on start (and after late events) also one chunk's events and matrix and
the rows of the last ``profile_days + 1`` days. River (detect/online.py) is warmed on
start on those rows (after a stored history, only the days since its run) and learns
every updated window after.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.config import Settings
from auditlens.detect.online import OnlineDetector
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.history import FeatureHistory, advance
from auditlens.features.matrix import FeatureMatrix
from auditlens.features.today import RunningDay
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.detection import score_matrix
from auditlens.pipeline.increments import load_history, new_events
from auditlens.schema import DEPARTMENT, EVENT_COLUMNS, TIMESTAMP, USER_ID
from auditlens.scoring import RiskHistory
from auditlens.store.repo import Store

#: River scores at or above this get reasons (HalfSpaceTrees: 0 usual .. 1 isolated).
REASON_SCORE: Final = 0.6
#: Days of lake events advanced at once when the history is computed (start, late
#: events): memory holds one chunk's events and matrix, not the whole lake.
CHUNK_DAYS: Final = 7


def local_windows(timestamps: pl.Expr, timezone: str) -> pl.Expr:
    """The local day (the feature window) of UTC timestamps."""
    return timestamps.dt.convert_time_zone(timezone).dt.date()


def midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The UTC instant local ``day`` starts (a bound the lake scan can push down)."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


@dataclass(frozen=True)
class Update:
    """The matrix rows of updated windows: features, context, and the River score."""

    #: the updated users' rows of the update's days (a late window's: every day from it)
    matrix: FeatureMatrix
    keys: pl.DataFrame  # user_id, window: the windows this update is about
    online: npt.NDArray[np.float64]  # River's score of each key (keys' order)
    online_reasons: list[str]  # River's reasons per key (JSON)
    learned: int = 0  # rows River had learned before scoring these
    closing: bool = False  # a completed day scored once more over its complete events
    #: what the days before ``matrix``'s left (decay carry, peaks)
    risk: RiskHistory = field(default_factory=RiskHistory.empty)


class DayState:
    """Today's events over a history up to yesterday (module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        model: FittedPipeline,
        ctx: FeatureContext,
        online: OnlineDetector,
        model_sha256: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.model = model
        self.ctx = ctx
        self.online = online
        self.model_sha256 = model_sha256  # None: never start from a stored history
        self.timezone = settings.timezone
        self.day: dt.date | None = None
        self.yesterday = FeatureHistory.empty()
        self.risk = RiskHistory.empty()
        self.running: RunningDay | None = None
        self.loads = 0  # days begun (start, day changes, rebuilds)
        self.rebuilds = 0  # late events: everything before today computed again
        self.stored = False  # the last load started from the daily run's history

    # --- loading ---------------------------------------------------------------------

    def start(self, warm: bool = True) -> None:
        """Load the newest stored day and the history before it; warm River."""
        lake = self.store.events.scan()
        newest = lake.select(local_windows(pl.col(TIMESTAMP), self.timezone).max()).collect()
        day = newest.item() if newest.height else None
        if day is None:
            return
        past, _ = self._load(day, stored=True)
        if warm and past is not None:  # the profile window's rows, in day order
            self.online.learn(past.frame.sort(WINDOW, USER_ID))

    def _load(
        self, day: dt.date, *, stored: bool, keep_from: dt.date | None = None
    ) -> tuple[FeatureMatrix | None, RiskHistory]:
        """Make ``day`` the current day: ``yesterday`` and ``risk`` from the stored run
        history (``stored``, when it fits) or from the lake, ``today`` from the lake.

        The days before ``day`` are advanced ``CHUNK_DAYS`` at a time (memory: one
        chunk's events and matrix). Returns the rows of the days from ``keep_from``
        (default: the ``profile_days + 1`` days before ``day``) and the risk history
        before them."""
        keep_from = keep_from or day - dt.timedelta(days=self.ctx.profile_days + 1)
        found = self._from_run(day) if stored else None
        self.stored = found is not None
        if found is None:
            history, risk, newer = FeatureHistory.empty(), RiskHistory.empty(), None
            first = self._first_day()
        else:
            history, risk, newer = found
            assert history.last_window is not None  # noqa: S101 - _from_run checked it
            first = history.last_window + dt.timedelta(days=1)
        kept: list[FeatureMatrix] = []
        before_kept = risk
        lo = first
        while lo is not None and lo < day:
            hi = min(lo + dt.timedelta(days=CHUNK_DAYS), day)
            hi = keep_from if lo < keep_from < hi else hi
            if lo <= keep_from:
                before_kept = risk
            events = self._days(lo, hi) if newer is None else _within(newer, lo, hi, self.timezone)
            if events.height:
                matrix, history = advance(self.model.features, events, self.ctx, history)
                risk = self._risk_after(matrix, risk)
                if lo >= keep_from:
                    kept.append(matrix)
            lo = hi
        self.yesterday, self.risk = history, risk
        self._begin(day, self._days(day, day + dt.timedelta(days=1)))
        self.loads += 1
        return _joined(kept), before_kept

    def _days(self, lo: dt.date, hi: dt.date) -> pl.DataFrame:
        """The lake's events of the days from ``lo`` to before ``hi`` (bounds pushed down)."""
        lake = self.store.events.scan().select(EVENT_COLUMNS)
        bounds = pl.col(TIMESTAMP).is_between(
            midnight(lo, self.timezone), midnight(hi, self.timezone), closed="left"
        )
        return _within(lake.filter(bounds).collect(), lo, hi, self.timezone)

    def _first_day(self) -> dt.date | None:
        """The lake's first local day (None: no events)."""
        lake = self.store.events.scan()
        found = lake.select(local_windows(pl.col(TIMESTAMP).min(), self.timezone)).collect()
        first = found.item() if found.height else None
        return first if isinstance(first, dt.date) else None

    def _from_run(self, day: dt.date) -> tuple[FeatureHistory, RiskHistory, pl.DataFrame] | None:
        """The daily run's stored history and the lake's events after it,
        when that history is of the model in force and these settings, ends before
        ``day`` and no later batch holds an event of its days (None: compute from the
        lake)."""
        if self.model_sha256 is None:
            return None
        run = load_history(self.store, self.settings, self.model_sha256)
        last = None if run is None else run.features.last_window
        if run is None or last is None or last >= day:
            return None
        newer = new_events(self.store, run.data_batch_id, self.store.events.last_batch_id())
        window = newer.select(local_windows(pl.col(TIMESTAMP), self.timezone)).to_series()
        if (window <= last).any():  # a late file: that history misses events of its days
            return None
        return run.features, run.risk, newer

    def _risk_after(self, matrix: FeatureMatrix, risk: RiskHistory) -> RiskHistory:
        """``risk`` once ``matrix``'s windows (all later than its) are scored."""
        scoring = score_matrix(matrix, self.model, self.settings, history=risk)
        return risk.after(scoring.windows, self.settings.decay_half_life_days)

    # --- updates ---------------------------------------------------------------------

    def update(self, events: pl.DataFrame) -> list[Update]:
        """Add a committed micro-batch's valid events; return the completed day's closing
        update (when this batch starts a later day) and the updated windows' update."""
        if events.height == 0:
            return []
        events = events.select(EVENT_COLUMNS)
        window = local_windows(pl.col(TIMESTAMP), self.timezone)
        keys = events.select(USER_ID, window.alias(WINDOW)).unique().sort(*KEYS)
        first, newest = keys.get_column(WINDOW).min(), keys.get_column(WINDOW).max()
        assert isinstance(first, dt.date) and isinstance(newest, dt.date)  # noqa: S101
        if self.day is None or first < self.day:  # the first events, or late ones
            return self._rebuild(keys, max(newest, self.day or newest))
        out: list[Update] = []
        if newest > self.day:
            # the current day and any day this batch began and ended are complete
            assert self.running is not None  # noqa: S101 - a current day has one
            when = events.select(window).to_series()
            self.running.add(events.filter(when == self.day))
            matrix, after = self.running.close()
            between = events.filter((when > self.day) & (when < newest))
            if between.height:
                more, after = advance(self.model.features, between, self.ctx, after)
                matrix = _joined([matrix, more]) or matrix
            out.append(self._pick(matrix, matrix.frame.select(*KEYS), self.risk, closing=True))
            self.risk = self._risk_after(matrix, self.risk)
            self.yesterday = after
            self._begin(newest, events.filter(when == newest))
            self.loads += 1
        else:
            assert self.running is not None  # noqa: S101 - a current day has one
            self.running.add(events)
        today = keys.filter(pl.col(WINDOW) == self.day)
        out.append(self._pick(self._today(), today, self.risk, learn=True))
        return out

    def close(self) -> Update | None:
        """Score the current day once more over its events so far (``stream`` stopping)."""
        if self.running is None or self.running.height == 0:
            return None
        matrix = self._today()
        return self._pick(matrix, matrix.frame.select(*KEYS), self.risk, closing=True)

    def department_counts(self) -> pl.DataFrame:
        """``user_id, department, _n``: events per user and department over every event
        the state holds (the history's peer counts and today's), what
        schema.user_departments counts over the lake (alerts name the department)."""
        counts = self.yesterday.peers.counts
        before = counts.select(USER_ID, DEPARTMENT, pl.col("_n").cast(pl.Int64))
        if self.running is None or self.running.height == 0:
            return before
        today = self.running.role_counts().group_by(USER_ID, DEPARTMENT).agg(pl.col("_n").sum())
        return pl.concat([before, today])

    def _begin(self, day: dt.date, events: pl.DataFrame) -> None:
        """Make ``day`` (over ``yesterday``) the current day, with its ``events`` so far."""
        self.day = day
        self.running = RunningDay(self.model.features, self.ctx, self.yesterday, day)
        self.running.add(events)

    def _today(self) -> FeatureMatrix:
        """The matrix of today's events so far (rows of the current day only)."""
        assert self.running is not None  # noqa: S101 - called with a current day
        return self.running.matrix()

    def _rebuild(self, keys: pl.DataFrame, day: dt.date) -> list[Update]:
        """Everything before ``day`` computed again from the lake (which holds the
        batch): the closing update of the days that ended, then the update of ``keys``
        (late windows: every day of their users from the first late one on, decay from
        the risk history before it)."""
        before = self.day
        self.rebuilds += before is not None
        first = keys.get_column(WINDOW).min()
        assert isinstance(first, dt.date)  # noqa: S101 - keys of a batch with events
        keep_from = first if before is None else min(first, before)
        past, risk = self._load(day, stored=False, keep_from=keep_from)
        today = self._today() if self.running is not None and self.running.height else None
        matrix = _joined([m for m in (past, today) if m is not None])
        if matrix is None:
            return []
        out: list[Update] = []
        if before is not None and day > before:
            ended = matrix.frame.filter(pl.col(WINDOW).is_between(before, day, closed="left"))
            out.append(self._pick(matrix, ended.select(*KEYS), risk, closing=True))
        out.append(self._pick(matrix, keys, risk, learn=True))
        return out

    def _pick(
        self,
        matrix: FeatureMatrix,
        keys: pl.DataFrame,
        risk: RiskHistory,
        *,
        learn: bool = False,
        closing: bool = False,
    ) -> Update:
        users = keys.select(USER_ID).unique()
        part = FeatureMatrix(
            frame=matrix.frame.join(users, on=USER_ID, how="semi"),
            info=matrix.info.join(users, on=USER_ID, how="semi"),
            unknown_resources=matrix.unknown_resources,
        )
        rows = part.frame.join(keys, on=list(KEYS), how="semi").sort(WINDOW, USER_ID)
        info = part.info.join(rows.select(*KEYS), on=list(KEYS), how="semi")
        info = rows.select(*KEYS).join(info, on=list(KEYS), how="left")
        X = rows.select(*KEYS, *self.model.feature_columns)
        learned = self.online.learned_
        online = self.online.score_learn(X) if learn else self.online.score(X)
        from auditlens.detect.explain import reasons_json

        # River's reasons where they can matter: its unusual rows (wording costs ~0.1 ms)
        unusual = pl.Series(online >= REASON_SCORE)
        reasons = [reasons_json(r) for r in self.online.reasons(X, info, rows=unusual)]
        return Update(part, rows.select(*KEYS), online, reasons, learned, closing, risk)


def _within(events: pl.DataFrame, lo: dt.date, hi: dt.date, timezone: str) -> pl.DataFrame:
    """The rows of ``events`` on the local days from ``lo`` to before ``hi``."""
    window = local_windows(pl.col(TIMESTAMP), timezone)
    return events.filter(window.is_between(lo, hi, closed="left"))


def _joined(parts: list[FeatureMatrix]) -> FeatureMatrix | None:
    """The rows of consecutive matrices as one (None: none)."""
    if not parts:
        return None
    return FeatureMatrix(
        frame=pl.concat([m.frame for m in parts], how="vertical_relaxed"),
        info=pl.concat([m.info for m in parts], how="diagonal_relaxed"),
        unknown_resources=tuple(sorted({r for m in parts for r in m.unknown_resources})),
    )
