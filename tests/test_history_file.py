"""The run history's files (pipeline/increments.py): what is loaded is what was saved,
frame for frame and array for array, and a file that is not whole, of another layout or
not ours is no history (a full run), never an error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pickle
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from auditlens.config import Settings
from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.history import FeatureHistory, advance
from auditlens.features.matrix import MatrixBuilder
from auditlens.pipeline import increments
from auditlens.pipeline.increments import (
    RunHistory,
    history_path,
    load_head,
    load_history,
    parts_digest,
    save_history,
)
from auditlens.scoring import RiskHistory
from auditlens.sources.synthetic import GeneratorSpec, generate
from auditlens.store.repo import Store

SPEC = GeneratorSpec(users=40, days=12, seed=5, insider_rate=0.1)
SHA = "ab" * 32


@pytest.fixture(scope="module")
def features() -> FeatureHistory:
    """The feature history of a small sample (frames, a series, numpy arrays)."""
    data = generate(SPEC)
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    builder = MatrixBuilder().fit(data.events, ctx)
    _, history = advance(builder, data.events, ctx)
    assert history.sequences is not None and history.sequences.step_user.size > 0
    return history


@pytest.fixture
def store(sqlite_settings: Settings) -> Iterator[Store]:
    with Store.open(sqlite_settings, migrate=True) as store:
        yield store


def _odd_frame() -> pl.DataFrame:
    """Every kind of column a history keeps, with nulls, NaN, -0.0 and sorted flags."""
    utc = dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "user_id": ["U1", "U2", "U3-a-name-longer-than-twelve-bytes", None],
            "window": [dt.date(2026, 3, 1), None, dt.date(2026, 3, 2), dt.date(2026, 3, 3)],
            "n": [1, -(2**63), 2**63 - 1, None],
            "x": [0.1, float("nan"), -0.0, None],
            "flag": [True, False, None, True],
            "hosts": [["h1", "a-host-name-longer-than-twelve"], [], None, [None]],
            "at": [utc, None, utc, utc],
            "_n": pl.Series([1, 2, 3, 4], dtype=pl.UInt32),
            "_day": pl.Series([9, 8, 7, 6], dtype=pl.Int32),
        }
    ).with_columns(pl.col("_n").set_sorted(), pl.col("_day").set_sorted(descending=True))


def _history(features: FeatureHistory, settings: Settings, store: Store) -> RunHistory:
    risk = RiskHistory.empty()
    return RunHistory(
        model_sha256=SHA,
        config_hash=settings.fingerprint(),
        data_batch_id=0,
        parts=parts_digest(store.events.ingested_parts(0)),
        features=features,
        risk=RiskHistory(risk.carry, risk.peaks.sort("user_id")),
        events=1234,
        stored=_odd_frame(),
    )


def _same(a: object, b: object, where: str = "history") -> None:
    """``b`` is ``a``: the same types, values, dtypes, sorted flags, array bytes."""
    assert type(a) is type(b), where
    if isinstance(a, pl.DataFrame):
        assert isinstance(b, pl.DataFrame)
        assert a.schema == b.schema, where
        assert_frame_equal(a, b, check_exact=True)
        for x, y in zip(a.iter_columns(), b.iter_columns(), strict=True):
            _same(x, y, f"{where}.{x.name}")
    elif isinstance(a, pl.Series):
        assert isinstance(b, pl.Series)
        assert_series_equal(a, b, check_exact=True)
        sorted_flags = ("SORTED_ASC", "SORTED_DESC")
        assert [a.flags[f] for f in sorted_flags] == [b.flags[f] for f in sorted_flags], where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), where
        assert b.flags.writeable, where  # as arrays unpickled from in-band bytes are
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            _same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_a_saved_history_loads_as_it_was_saved(
    features: FeatureHistory, sqlite_settings: Settings, store: Store
) -> None:
    history = _history(features, sqlite_settings, store)
    path = save_history(sqlite_settings, history)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, f"{path.stem}.risk"]
    loaded = load_history(store, sqlite_settings, SHA)
    assert loaded is not None
    _same(history, loaded)
    head = load_head(store, sqlite_settings, SHA, 0)
    assert head is not None and head.features.last_window is None
    _same(dataclasses.replace(history, features=FeatureHistory.empty()), head)
    assert load_head(store, sqlite_settings, SHA, 1) is None  # another run's watermark


def test_frames_without_columns_and_plain_values_round_trip(tmp_path: Path) -> None:
    value = {
        "frames": [_odd_frame(), _odd_frame().clear(), pl.DataFrame(), _odd_frame()[1:3]],
        "series": pl.Series("users", ["a", "b"]).set_sorted(),
        "arrays": [
            np.arange(10.0).reshape(2, 5),
            np.asfortranarray(np.arange(6).reshape(2, 3)),
            np.zeros(0, dtype=np.int64),
            np.arange(3)[::2],
            np.array([True, False, True]),
            np.array(["2026-01-01"], dtype="datetime64[D]"),
        ],
        "plain": (1, "two", None, dt.date(2026, 1, 1), b"\x00bytes"),
    }
    path = tmp_path / "value.pkl"
    increments._write(path, value)
    got = increments._read(path)
    assert isinstance(got, dict) and got.keys() == value.keys()
    for key in value:
        _same(value[key], got[key], key)


def _cut(data: bytes, value: object) -> bytes:
    return data[: len(data) // 2]


def _flip(data: bytes, value: object) -> bytes:  # one bit of the buffers' middle
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :]


def _zeroed_tail(data: bytes, value: object) -> bytes:  # a crash before the data reached the disk
    return data[:-4096] + bytes(4096)


def _longer(data: bytes, value: object) -> bytes:
    return data + bytes(64)


def _wrong_count(data: bytes, value: object) -> bytes:  # a header that promises more than the file
    header = increments._HEADER
    magic, _, checksum = header.unpack(data[: header.size])
    return header.pack(magic, 2**60, checksum) + data[header.size :]


def _other_version(data: bytes, value: object) -> bytes:
    return data[:15] + bytes([increments.VERSION + 1]) + data[16:]


def _old_layout(data: bytes, value: object) -> bytes:  # up to version 2: a plain pickle
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


DAMAGES: dict[str, Callable[[bytes, object], bytes]] = {
    "cut short": _cut,
    "a bit flipped": _flip,
    "zeroed tail": _zeroed_tail,
    "longer": _longer,
    "empty": lambda *_: b"",
    "not ours": lambda *_: b"some other program's file\n" * 100,
    "a garbled count": _wrong_count,
    "another version": _other_version,
    "the old layout": _old_layout,
}


@pytest.mark.parametrize("which", [".pkl", ".risk"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_or_old_file_is_no_history(
    features: FeatureHistory,
    sqlite_settings: Settings,
    store: Store,
    which: str,
    damage: str,
) -> None:
    """A full run then, never an error nor another history."""
    history = _history(features, sqlite_settings, store)
    path = save_history(sqlite_settings, history).with_suffix(which)
    empty = FeatureHistory.empty()
    value = (history.parts, features) if which == ".pkl" else replace(history, features=empty)
    path.write_bytes(DAMAGES[damage](path.read_bytes(), value))
    assert load_history(store, sqlite_settings, SHA) is None
    if which == ".risk":
        assert load_head(store, sqlite_settings, SHA, 0) is None


def test_an_unreadable_or_missing_file_is_no_history(
    features: FeatureHistory, sqlite_settings: Settings, store: Store
) -> None:
    assert load_history(store, sqlite_settings, SHA) is None  # none saved yet
    path = save_history(sqlite_settings, _history(features, sqlite_settings, store))
    path.unlink()
    path.mkdir()  # (reading it fails with IsADirectoryError)
    assert load_history(store, sqlite_settings, SHA) is None


def test_a_head_with_another_runs_feature_file_is_ignored(
    features: FeatureHistory, sqlite_settings: Settings, store: Store
) -> None:
    """A crash between the two writes: the feature file is the run's before."""
    history = _history(features, sqlite_settings, store)
    path = save_history(sqlite_settings, history)
    increments._write(path, ("the parts of another run", features))
    assert load_history(store, sqlite_settings, SHA) is None
    assert load_head(store, sqlite_settings, SHA, 0) is not None  # (its own parts match)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(
    features: FeatureHistory,
    sqlite_settings: Settings,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = _history(features, sqlite_settings, store)
    path = save_history(sqlite_settings, history)
    before = path.read_bytes()

    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        save_history(sqlite_settings, dataclasses.replace(history, events=99))
    assert path.read_bytes() == before
    assert sorted(p.name for p in history_path(sqlite_settings, SHA).parent.iterdir()) == [
        path.name,
        f"{path.stem}.risk",
    ]


def test_a_write_killed_midway_leaves_a_temp_file_the_next_save_removes(
    features: FeatureHistory, sqlite_settings: Settings, store: Store
) -> None:
    """kill -9 during a save leaves tens of MB behind: the next save removes it, and
    leaves alone a temp file of a save still running in another process."""
    history = _history(features, sqlite_settings, store)
    path = save_history(sqlite_settings, history)
    dead = subprocess.Popen(["true"])  # a process that has ended
    dead.wait()
    running = subprocess.Popen(["sleep", "30"])
    try:
        killed = path.with_name(f".{path.name}.tmp-{dead.pid}-0badc0de")
        busy = path.with_name(f".{path.name}.tmp-{running.pid}-cafe0123")
        killed.write_bytes(b"half a history")
        busy.write_bytes(b"a history being written")
        save_history(sqlite_settings, dataclasses.replace(history, events=99))
        assert not killed.exists()
        assert busy.exists()
        assert load_history(store, sqlite_settings, SHA) is not None
    finally:
        running.kill()
        running.wait()
