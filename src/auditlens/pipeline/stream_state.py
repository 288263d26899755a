"""The streaming run's per-user state: today's events in memory over baselines loaded
once per day, scored per updated (user, day) window.

Design (bounded memory, no re-read of weeks per micro-batch):

* ``history``: the events of the ``profile_days + 1`` days before today, read from the
  lake **once per day** (at start and when the first event of a later day arrives),
  plus a compacted remainder of everything older: per user the first event of each
  resource, host and source IP (with its success flag), so first-seen features see all
  history without keeping it. ``first``: each user's first window, for warm-up.
* ``recent``: today's (and any late) events, appended per micro-batch, in memory.
* Each micro-batch builds the matrix of ``history + recent`` with the fitted pipeline in
  force (``MatrixBuilder.transform``: the batch run's own code, so trailing baselines,
  first-seen values, sequences and peer groups are computed exactly as there), then
  scores only the updated users' rows. Cost per micro-batch is one matrix build over
  about ``profile_days`` days of events, independent of how many events the batch holds.
* A day's rows are provisional while the day runs (peers may still act); when a later
  day starts the completed day is scored once more over everything (``close``): those
  rows equal the batch features of that day. Caveats: peer groups are the mode of each
  user's department/role over the loaded events (the batch uses all history), and risk
  decay looks back over the loaded days only.

Memory: ``profile_days + 1`` days of events, today's events and one compacted row per
(user, resource/host/IP). The River detector (detect/online.py) is warmed on the
history's days on start and learns every updated window after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.config import Settings
from auditlens.detect.online import OnlineDetector
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.matrix import HISTORY_DAYS, FeatureMatrix
from auditlens.fitted import FittedPipeline
from auditlens.schema import EVENT_COLUMNS, HOST, RESOURCE_ID, SRC_IP, SUCCESS, TIMESTAMP, USER_ID
from auditlens.store.repo import Store

_FIRST = "_first_window"
#: River scores at or above this get reasons (HalfSpaceTrees: 0 usual .. 1 isolated).
REASON_SCORE: Final = 0.6


def local_windows(timestamps: pl.Expr, timezone: str) -> pl.Expr:
    """The local day (the feature window) of UTC timestamps."""
    return timestamps.dt.convert_time_zone(timezone).dt.date()


@dataclass(frozen=True)
class Update:
    """The matrix rows of updated windows: features, context, and the River score."""

    matrix: FeatureMatrix  # the updated users' rows of every loaded day (decay, peaks)
    keys: pl.DataFrame  # user_id, window: the windows this update is about
    online: npt.NDArray[np.float64]  # River's score of each key (keys' order)
    online_reasons: list[str]  # River's reasons per key (JSON)
    learned: int = 0  # rows River had learned before scoring these
    closing: bool = False  # a completed day scored once more over everything


class DayState:
    """Today's events over once-a-day baselines (module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        model: FittedPipeline,
        ctx: FeatureContext,
        online: OnlineDetector,
    ) -> None:
        self.store = store
        self.settings = settings
        self.model = model
        self.ctx = ctx
        self.online = online
        self.timezone = settings.timezone
        self.day: dt.date | None = None
        self.history = pl.DataFrame()
        self.recent = pl.DataFrame()
        self.first = pl.DataFrame(
            {USER_ID: [], _FIRST: []}, schema={USER_ID: pl.String, _FIRST: pl.Date}
        )
        self.loads = 0

    # --- loading ---------------------------------------------------------------------

    def start(self, warm: bool = True) -> None:
        """Load the newest stored day and its baselines; warm River on the history days."""
        lake = self.store.events.scan()
        newest = lake.select(local_windows(pl.col(TIMESTAMP), self.timezone).max()).collect()
        day = newest.item() if newest.height else None
        if day is None:
            return
        self._load(day)
        if warm and self.history.height:
            matrix = self._matrix()
            rows = matrix.frame.filter(pl.col(WINDOW) < day).sort(WINDOW, USER_ID)
            self.online.learn(rows)

    def _load(self, day: dt.date) -> None:
        """Baselines for ``day`` from the lake (once per day)."""
        lake = self.store.events.scan().select(EVENT_COLUMNS)
        window = local_windows(pl.col(TIMESTAMP), self.timezone)
        start = day - dt.timedelta(days=self.ctx.profile_days + 1)
        events = lake.filter(window >= start).collect()
        older = lake.filter(window < start)
        compact = (
            pl.concat(
                [
                    older.sort(TIMESTAMP).unique([USER_ID, column, SUCCESS], keep="first")
                    for column in (RESOURCE_ID, HOST, SRC_IP)
                ]
            )
            .unique(keep="first")
            .collect()
        )
        local = events.with_columns(window.alias(WINDOW))
        self.history = pl.concat([compact, local.filter(pl.col(WINDOW) < day).drop(WINDOW)])
        self.recent = local.filter(pl.col(WINDOW) >= day).drop(WINDOW)
        self.first = lake.group_by(USER_ID).agg(window.min().alias(_FIRST)).collect()
        self.day = day
        self.loads += 1

    # --- updates ---------------------------------------------------------------------

    def update(self, events: pl.DataFrame) -> list[Update]:
        """Add a committed micro-batch's valid events; return the completed day's closing
        update (when this batch starts a later day) and the updated windows' update."""
        if events.height == 0:
            return []
        events = events.select(EVENT_COLUMNS)
        keys = (
            events.select(USER_ID, local_windows(pl.col(TIMESTAMP), self.timezone).alias(WINDOW))
            .unique()
            .sort(*KEYS)
        )
        newest = keys.get_column(WINDOW).max()
        out: list[Update] = []
        if self.day is None:
            self.start(warm=False)  # the batch is committed: the lake holds it
        else:
            self.recent = pl.concat([self.recent, events], how="vertical_relaxed")
            self.first = (
                pl.concat([self.first, keys.rename({WINDOW: _FIRST})])
                .group_by(USER_ID)
                .agg(pl.col(_FIRST).min())
            )
            if isinstance(newest, dt.date) and newest > self.day:
                # the current day and any day this batch began and ended are complete
                done = [self.day, *[d for d in keys[WINDOW].unique() if self.day < d < newest]]
                out.append(self._close(done))
                self._load(newest)
        out.append(self._score(keys, learn=True))
        return out

    def close(self) -> Update | None:
        """Score the current day once more over everything (``stream`` stopping)."""
        return None if self.day is None else self._close([self.day])

    def _close(self, days: list[dt.date]) -> Update:
        frame = self._matrix()
        keys = frame.frame.filter(pl.col(WINDOW).is_in(days)).select(*KEYS)
        return self._pick(frame, keys, learn=False, closing=True)

    def _score(self, keys: pl.DataFrame, *, learn: bool) -> Update:
        return self._pick(self._matrix(), keys, learn=learn, closing=False)

    def _pick(
        self, matrix: FeatureMatrix, keys: pl.DataFrame, *, learn: bool, closing: bool
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
        return Update(part, rows.select(*KEYS), online, reasons, learned, closing)

    def _matrix(self) -> FeatureMatrix:
        """The matrix of everything loaded, warm-up measured from each user's first day."""
        events = pl.concat([self.history, self.recent], how="vertical_relaxed")
        matrix = self.model.matrix(events, self.ctx)
        first = self.first
        info = (
            matrix.info.join(first, on=USER_ID, how="left")
            .with_columns(
                (pl.col(WINDOW) - pl.coalesce(_FIRST, pl.col(WINDOW)))
                .dt.total_days()
                .cast(pl.Int64)
                .alias(HISTORY_DAYS)
            )
            .drop(_FIRST)
        )
        return FeatureMatrix(matrix.frame, info, matrix.unknown_resources)
