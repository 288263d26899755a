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
import io
import os
import pickle
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.config import Settings
from auditlens.detect.base import remove_stale_temp_files, temp_path
from auditlens.features.history import FeatureHistory
from auditlens.schema import EVENT_COLUMNS
from auditlens.scoring import RiskHistory
from auditlens.store.repo import Store
from auditlens.store.scores import SCORE_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa

#: Bump when the stored layout changes: older files are then ignored (a full run).
VERSION: Final = 3
#: A history file's first bytes, the layout's version last: a file of another layout (up
#: to version 2, a plain pickle) or not one of ours is ignored, as a broken one is.
_MAGIC: Final = b"auditlens-hist\x00" + bytes([VERSION])
#: The magic, the number of parts (the pickle stream, then its buffers) and the checksum
#: (:func:`_write`); each part's length (``<Q``) follows.
_HEADER: Final = struct.Struct("<16sQQ")
#: Each part of a history file starts at a multiple of this many bytes.
_ALIGN: Final = 64


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
    """The value :func:`_write` wrote to ``path``; None when there is none, or the file
    cannot be read, is of another layout, cut short or garbled (a broken cache costs a
    full run, nothing more)."""
    try:
        with path.open("rb") as file:
            parts = _parts(file)
            if parts is None:
                return None
            # written by save_history under data_dir
            return pickle.loads(parts[0], buffers=parts[1:])  # noqa: S301
    except Exception:  # a broken cache costs a full run, nothing more
        return None


def _parts(file: io.BufferedReader) -> list[memoryview] | None:
    """The pickle stream and the buffers of a file :func:`_write` wrote, each read
    straight into memory of its own, which the arrays and frames unpickled from it then
    use (no other copy); None when the file is not whole: another layout, a length or
    the checksum that does not match.

    Read, not mapped (``mmap``: some 12 ms less for 73 MB): a mapped file cut short
    under the process would kill it (SIGBUS), and on Windows could not be replaced."""
    size = os.fstat(file.fileno()).st_size
    head = file.read(_HEADER.size)
    if len(head) != _HEADER.size:
        return None
    magic, count, checksum = _HEADER.unpack(head)
    start = _padded(_HEADER.size + 8 * count)
    if magic != _MAGIC or count == 0 or start > size:
        return None
    lengths = struct.unpack(f"<{count}Q", file.read(8 * count))
    if start + sum(_padded(n) for n in lengths) != size:
        return None
    file.seek(start)
    parts, total = [], sum(lengths)
    for n in lengths:
        slot = np.empty(_padded(n), dtype=np.uint8)
        if file.readinto(slot.data) != slot.size:  # (the file changed under us: not ours)
            return None
        total += _word_sum(slot)
        parts.append(slot.data[:n])
    return parts if total % 2**64 == checksum else None


def save_history(settings: Settings, history: RunHistory) -> Path:
    """Write ``history`` atomically: the feature history (large) first, then the small
    head (watermark, lake digest, risk) that names it; a reader sees the old files or the
    new ones, and a head whose feature file is another run's is ignored."""
    path = history_path(settings, history.model_sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)  # of writes killed midway (tens of MB each)
    _write(path, (history.parts, history.features))
    _write(path.with_suffix(".risk"), replace(history, features=FeatureHistory.empty()))
    return path


def _write(path: Path, value: object) -> None:
    """Write ``value`` to ``path`` atomically (a temporary file renamed over it): pickle
    protocol 5 with every buffer out of band (numpy arrays, the Arrow buffers of Polars
    frames: :class:`_Pickler`), written from where it is, without a copy. The file: the
    header (:data:`_HEADER`, then each part's length), the pickle stream, the buffers;
    each at a multiple of :data:`_ALIGN` bytes, zero-padded.

    No fsync: the history is a cache, and a file a crash left cut short or zeroed fails
    :func:`_parts`' length or checksum test (a full run).
    """
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    _Pickler(stream, protocol=5, buffer_callback=buffers.append).dump(value)
    parts = [stream.getbuffer(), *(buffer.raw() for buffer in buffers)]
    lengths = [part.nbytes for part in parts]
    checksum = (sum(lengths) + sum(_word_sum(part) for part in parts)) % 2**64
    head = _HEADER.pack(_MAGIC, len(parts), checksum) + struct.pack(f"<{len(parts)}Q", *lengths)
    name = temp_path(path)  # (a killed write's leftover: removed by the next save)
    handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in [memoryview(head), *parts]:
                out.write(part)
                out.write(bytes(_padded(part.nbytes) - part.nbytes))
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


class _Pickler(pickle.Pickler):
    """A pickler of Polars frames as Arrow tables (zero-copy both ways), whose buffers
    protocol 5 hands out of band; Polars' own pickling serializes each frame into new
    bytes (a tenth of a second for the history of 10M events)."""

    def reducer_override(self, obj: object) -> Any:  # (NotImplemented: pickle's way)
        """A frame's Arrow table and its sorted columns; anything else as pickle does."""
        if type(obj) is not pl.DataFrame or not obj.width:  # (no columns: no table)
            return NotImplemented
        flags = [(c.name, c.flags) for c in obj.iter_columns()]
        ordered = tuple(
            (n, f["SORTED_DESC"]) for n, f in flags if f["SORTED_ASC"] or f["SORTED_DESC"]
        )
        return _frame, (obj.to_arrow(compat_level=pl.CompatLevel.newest()), ordered)


def _frame(table: pa.Table, ordered: tuple[tuple[str, bool], ...]) -> pl.DataFrame:
    """The frame :class:`_Pickler` pickled as ``table``, its columns ``ordered`` (name,
    descending) flagged sorted again, as they were (Arrow has no such flag)."""
    frame = pl.from_arrow(table, rechunk=False)
    if not isinstance(frame, pl.DataFrame):
        raise TypeError("not a table")
    if ordered:
        frame = frame.with_columns(pl.col(n).set_sorted(descending=d) for n, d in ordered)
    return frame


def _word_sum(data: memoryview | npt.NDArray[np.uint8]) -> int:
    """The sum of ``data``'s little-endian 64-bit words, the last zero-padded."""
    whole = len(data) // 8
    total = int(np.frombuffer(data, dtype="<u8", count=whole).sum(dtype=np.uint64))
    return total + int.from_bytes(bytes(data[8 * whole :]), "little")


def _padded(n: int) -> int:
    """``n`` bytes rounded up to a multiple of :data:`_ALIGN`."""
    return -(-n // _ALIGN) * _ALIGN


def new_events(store: Store, since_batch: int, upto_batch: int) -> pl.DataFrame:
    """The valid events of the batches after ``since_batch`` up to ``upto_batch``."""
    return store.events.between(since_batch, upto_batch).select(EVENT_COLUMNS).collect()
