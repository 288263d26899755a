"""Parquet values must arrive as they were: nested columns refused, NaN ids rejected."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl

from auditlens import schema
from auditlens.sources.files import FileSource
from tests.sources.reading import unreadable

TIMES = [dt.datetime(2026, 9, 1, 9, m) for m in range(4)]


def test_a_struct_column_is_refused_with_its_name_and_type(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pl.DataFrame(
        {
            "timestamp": TIMES[:2],
            "user_id": [{"id": 1}, {"id": 2}],  # stored as '{1}' before
            "action_type": ["view", "view"],
        }
    ).write_parquet(path)
    assert re.search(r"nested\.parquet: column 'user_id' \(user_id\) holds", unreadable(path))
    pl.DataFrame(
        {"timestamp": TIMES[:1], "user_id": ["E1"], "action_type": [["view"]]}
    ).write_parquet(path)
    assert re.search(r"'action_type'.*List", unreadable(path))


def test_nan_ids_are_rejected_and_whole_floats_read_as_integers(tmp_path: Path) -> None:
    path = tmp_path / "float_ids.parquet"
    pl.DataFrame(
        {
            "timestamp": TIMES,
            "user_id": [1001.0, float("nan"), 1003.0, 1004.5],  # pandas: int column with a gap
            "action_type": ["view"] * 4,
            "resource_id": ["/a", "/b", None, "/d"],
        }
    ).write_parquet(path)
    (batch,) = FileSource(path).read()
    assert batch.events[schema.USER_ID].to_list() == ["1001", "1003", "1004.5"]
    assert batch.events[schema.LOCATION].to_list() == [f"{path}#row={i}" for i in (0, 2, 3)]
    assert batch.rejected is not None
    ((location, reason, raw),) = batch.rejected.rows()
    assert location == f"{path}#row=1"
    assert reason == "user_id: nan in a floating-point column (expected text or an integer)"
    assert json.loads(raw) == {
        "timestamp": "2026-09-01 09:01:00",
        "user_id": "nan",
        "action_type": "view",
        "resource_id": "/b",
    }
    assert "NaN" not in batch.events[schema.USER_ID].to_list()
