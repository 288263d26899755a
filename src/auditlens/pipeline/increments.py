"""The daily run's increment: what an earlier run left (:class:`RunHistory`), so a run
reads and scores only the days with new events.

A run on the in-memory engine writes, beside its scores, the feature history
(features/history.py), the risk history (``scoring.RiskHistory``: each user's
accumulated excess and peak days) of the data it scored and the stored rows of those peak
days, under
``data_dir/history/<model>-<settings>.pkl``. The next run with the same model and scoring
settings, whose new events all fall on later days, reads only the lake parts of the
batches after it and computes those days from the history: the same features, scores
and peaks as a run over every event (tests/test_increments.py). Anything else is a full
run, which writes a fresh history: another model or settings, an event of a day already
computed (a late file), events erased or a lake that is not the one the history was
computed from (its parts are compared), a partitioned or Spark run, shadow mode.

The history is a cache of a pure function of (model, settings, events): it holds no
secret and no decision, and losing it costs one full run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import polars as pl

from auditlens.config import Settings
from auditlens.features.history import FeatureHistory
from auditlens.schema import EVENT_COLUMNS
from auditlens.scoring import RiskHistory
from auditlens.store.repo import Store
from auditlens.store.scores import SCORE_COLUMNS

#: Bump when the pickled layout changes: older files are then ignored (a full run).
VERSION: Final = 2


@dataclass(frozen=True)
class RunHistory:
    """What a run over the lake up to ``data_batch_id`` leaves for the next one."""

    model_sha256: str
    config_hash: str
    data_batch_id: int
    parts: str  # sha256 of the lake part names up to data_batch_id
    features: FeatureHistory
    risk: RiskHistory
    events: int  # valid events up to data_batch_id
    version: int = VERSION
    #: The stored score rows (SCORE_COLUMNS) of every user's peak days, as the runs
    #: stored them: an increment copies the earlier ones a user's new rows need from
    #: here instead of looking them up in the store (None: look them up).
    stored: pl.DataFrame | None = None

    def with_stored(
        self, rows: pl.DataFrame, earlier: pl.DataFrame, peak_days: pl.DataFrame
    ) -> RunHistory:
        """This history once a run stored ``rows``, having read ``earlier`` (stored rows
        of peak days it did not score); ``peak_days``: every user's peak days now."""
        keys = ["user_id", "window"]
        found = [rows.select(SCORE_COLUMNS)]
        if "raw_score" in earlier.columns:  # (none read: no columns)
            found.append(earlier.select(SCORE_COLUMNS))
        if self.stored is not None:
            found.append(self.stored)
        newest = pl.concat(found, how="vertical_relaxed").unique(keys, keep="first")
        kept = newest.join(peak_days.select(keys), on=keys, how="semi")
        return replace(self, stored=kept.sort("user_id", "window"))


def history_path(settings: Settings, model_sha256: str) -> Path:
    """Where the history of ``model_sha256`` under these scoring settings lives."""
    name = f"{model_sha256[:16]}-{settings.fingerprint()[:16]}.pkl"
    return settings.data_dir / "history" / name


def parts_digest(parts: list[str]) -> str:
    """A digest of the lake part names a history was computed from."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def load_history(store: Store, settings: Settings, model_sha256: str) -> RunHistory | None:
    """The history of ``model_sha256`` under these settings, when it matches the lake
    (None: none, another layout, or the lake's parts up to it changed)."""
    head = _read(history_path(settings, model_sha256).with_suffix(".risk"))
    if not isinstance(head, RunHistory) or not _matches(head, store, settings, model_sha256):
        return None
    features = _read(history_path(settings, model_sha256))
    if not isinstance(features, tuple) or len(features) != 2 or features[0] != head.parts:
        return None  # the feature file of another run (a crash between the two writes)
    if not isinstance(features[1], FeatureHistory):
        return None
    return replace(head, features=features[1])


def load_head(
    store: Store, settings: Settings, model_sha256: str, data_batch_id: int
) -> RunHistory | None:
    """The history without its features (small: every user's risk carry, peak days and
    their stored rows) of the run of ``model_sha256`` up to ``data_batch_id``, when it
    matches the lake."""
    head = _read(history_path(settings, model_sha256).with_suffix(".risk"))
    if not isinstance(head, RunHistory) or head.data_batch_id != data_batch_id:
        return None
    return head if _matches(head, store, settings, model_sha256) else None


def _matches(head: RunHistory, store: Store, settings: Settings, sha: str) -> bool:
    if head.version != VERSION or head.model_sha256 != sha:
        return False
    if head.config_hash != settings.fingerprint():
        return False
    return head.parts == parts_digest(store.events.ingested_parts(head.data_batch_id))


def _read(path: Path) -> object:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return pickle.loads(data)  # noqa: S301 - written by save_history under data_dir
    except Exception:  # a broken cache costs a full run, nothing more
        return None


def save_history(settings: Settings, history: RunHistory) -> Path:
    """Write ``history`` atomically: the feature history (large) first, then the small
    head (watermark, lake digest, risk) that names it; a reader sees the old files or the
    new ones, and a head whose feature file is another run's is ignored."""
    path = history_path(settings, history.model_sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, (history.parts, history.features))
    _write(path.with_suffix(".risk"), replace(history, features=FeatureHistory.empty()))
    return path


def _write(path: Path, value: object) -> None:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=".history-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def new_events(store: Store, since_batch: int, upto_batch: int) -> pl.DataFrame:
    """The valid events of the batches after ``since_batch`` up to ``upto_batch``."""
    return store.events.between(since_batch, upto_batch).select(EVENT_COLUMNS).collect()
