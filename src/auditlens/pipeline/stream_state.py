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
  yesterday (once).
* ``today``: the current day's events, appended per micro-batch.
* Each micro-batch: ``advance(builder, today, ctx, yesterday)`` gives today's rows, bit
  for bit the batch features of today's events so far; the updated users' rows are scored
  with decay continuing from ``risk``. Cost ∝ today's events, not ``profile_days`` days.
* Day change (a batch holds a later day): the completed day (and any day the batch began
  and ended) is advanced over its complete events once more (``closing``): those rows
  equal the batch features of that day, and the history after them becomes ``yesterday``
  (their scores move ``risk`` on).
* Late events (a day before ``day``, e.g. a producer's backlog): ``advance`` cannot take
  them, so everything before today is computed again from the lake, from scratch (as at
  a start without a stored history), and the late windows are scored over every day of
  their users (decay from each user's first day). Correct, and costs one start.

Memory: the history (grows with users, hosts and distinct steps, not with events) and
today's events. River (detect/online.py) is warmed on start on the rows advance computed
for days before today — the last ``profile_days + 1`` of them; after a stored history,
only the days since its run — and learns every updated window after.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.config import Settings
from auditlens.detect.online import OnlineDetector
from auditlens.errors import AuditlensError
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.history import FeatureHistory, advance
from auditlens.features.matrix import FeatureMatrix
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.detection import score_matrix
from auditlens.pipeline.increments import load_history, new_events
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP, USER_ID
from auditlens.scoring import RiskHistory
from auditlens.store.repo import Store

#: River scores at or above this get reasons (HalfSpaceTrees: 0 usual .. 1 isolated).
REASON_SCORE: Final = 0.6


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

    #: the updated users' rows of the update's days; with ``risk`` None, of every day of
    #: theirs (decay from each user's first day)
    matrix: FeatureMatrix
    keys: pl.DataFrame  # user_id, window: the windows this update is about
    online: npt.NDArray[np.float64]  # River's score of each key (keys' order)
    online_reasons: list[str]  # River's reasons per key (JSON)
    learned: int = 0  # rows River had learned before scoring these
    closing: bool = False  # a completed day scored once more over its complete events
    #: what the days before ``matrix``'s left (decay carry, peaks); None: see ``matrix``
    risk: RiskHistory | None = None


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
        self.today = pl.DataFrame()
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
        past = self._load(day, stored=True)
        if warm and past is not None:
            since = day - dt.timedelta(days=self.ctx.profile_days + 1)
            rows = past.frame.filter(pl.col(WINDOW) >= since).sort(WINDOW, USER_ID)
            self.online.learn(rows)

    def _load(self, day: dt.date, *, stored: bool) -> FeatureMatrix | None:
        """Make ``day`` the current day: ``yesterday`` and ``risk`` from the stored run
        history (``stored``, when it fits) or from the lake, ``today`` from the lake.
        Returns the rows computed for days before ``day`` (None: none)."""
        lake = self.store.events.scan().select(EVENT_COLUMNS)
        window = local_windows(pl.col(TIMESTAMP), self.timezone)
        found = self._from_run(day) if stored else None
        self.stored = found is not None
        if found is None:
            start = pl.col(TIMESTAMP) < midnight(day, self.timezone)  # pushed down
            before = lake.filter(start).filter(window < day).collect()
            history, risk = FeatureHistory.empty(), None
        else:
            history, risk, before = found
        past = None
        if before.height:
            past, history = advance(self.model.features, before, self.ctx, history)
        self.yesterday = history
        self.risk = self._risk_after(past, risk)
        bounds = pl.col(TIMESTAMP).is_between(
            midnight(day, self.timezone),
            midnight(day + dt.timedelta(days=1), self.timezone),
            closed="left",
        )
        self.today = lake.filter(bounds).filter(window == day).collect()
        self.day = day
        self.loads += 1
        return past

    def _from_run(self, day: dt.date) -> tuple[FeatureHistory, RiskHistory, pl.DataFrame] | None:
        """The daily run's stored history and the lake's events after it up to yesterday,
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
        return run.features, run.risk, newer.filter(window < day)

    def _risk_after(self, matrix: FeatureMatrix | None, risk: RiskHistory | None) -> RiskHistory:
        """``risk`` (None: nothing before) once ``matrix``'s windows are scored."""
        start = risk or RiskHistory.empty()
        if matrix is None:
            return start
        try:
            scoring = score_matrix(matrix, self.model, self.settings, history=risk)
        except AuditlensError:  # every user still in warm-up
            return start
        return start.after(scoring.windows, self.settings.decay_half_life_days)

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
            when = events.select(window).to_series()
            done = pl.concat([self.today, events.filter(when < newest)], how="vertical_relaxed")
            matrix, after = advance(self.model.features, done, self.ctx, self.yesterday)
            out.append(self._pick(matrix, matrix.frame.select(*KEYS), self.risk, closing=True))
            self.risk = self._risk_after(matrix, self.risk)
            self.yesterday, self.today, self.day = after, events.filter(when == newest), newest
            self.loads += 1
        else:
            self.today = pl.concat([self.today, events], how="vertical_relaxed")
        today = keys.filter(pl.col(WINDOW) == self.day)
        out.append(self._pick(self._today(), today, self.risk, learn=True))
        return out

    def close(self) -> Update | None:
        """Score the current day once more over its events so far (``stream`` stopping)."""
        if self.day is None or self.today.height == 0:
            return None
        matrix = self._today()
        return self._pick(matrix, matrix.frame.select(*KEYS), self.risk, closing=True)

    def _today(self) -> FeatureMatrix:
        """The matrix of today's events so far (rows of the current day only)."""
        features, ctx = self.model.features, self.ctx
        matrix, _ = advance(features, self.today, ctx, self.yesterday, keep=False)
        return matrix

    def _rebuild(self, keys: pl.DataFrame, day: dt.date) -> list[Update]:
        """Everything before ``day`` computed again from the lake (which holds the
        batch): the closing update of the days that ended, then the update of ``keys``
        over every day of their users (late windows: decay from each user's first day)."""
        before = self.day
        self.rebuilds += before is not None
        past = self._load(day, stored=False)
        parts = [m for m in (past, self._today() if self.today.height else None) if m is not None]
        if not parts:
            return []
        matrix = FeatureMatrix(
            frame=pl.concat([m.frame for m in parts], how="vertical_relaxed"),
            info=pl.concat([m.info for m in parts], how="diagonal_relaxed"),
            unknown_resources=tuple(sorted({r for m in parts for r in m.unknown_resources})),
        )
        out: list[Update] = []
        if before is not None and day > before:
            ended = matrix.frame.filter(pl.col(WINDOW).is_between(before, day, closed="left"))
            out.append(self._pick(matrix, ended.select(*KEYS), None, closing=True))
        out.append(self._pick(matrix, keys, None, learn=True))
        return out

    def _pick(
        self,
        matrix: FeatureMatrix,
        keys: pl.DataFrame,
        risk: RiskHistory | None,
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
