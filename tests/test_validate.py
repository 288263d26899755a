from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlens.schema import EVENT_DTYPES, LOCATION
from auditlens.validate import validate

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _raw(rows: list[dict[str, object]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(pl.Series(LOCATION, [f"in.csv:{i + 2}" for i in range(frame.height)]))


def _check(raw: pl.DataFrame, **kw: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = validate(raw, timezone="Asia/Seoul", now=NOW, **kw)  # type: ignore[arg-type]
    assert result.ingested == raw.height == result.accepted + result.rejected
    return result.valid, result.quarantined


def test_naive_timestamps_are_local_and_stored_in_utc() -> None:
    valid, bad = _check(
        _raw(
            [
                {
                    "event_id": "1",
                    "user_id": "kim",
                    "timestamp": "2026-09-01T09:00:00",
                    "action_type": "login",
                },
                {
                    "event_id": "2",
                    "user_id": "kim",
                    "timestamp": "09/01/2026 09:00:00",
                    "action_type": "LOGOUT",
                },
                {
                    "event_id": "3",
                    "user_id": "kim",
                    "timestamp": "2026-09-01 00:00:00Z",
                    "action_type": "login",
                },
                {
                    "event_id": "4",
                    "user_id": "kim",
                    "timestamp": "2026-09-01T09:00:00.250+09:00",
                    "action_type": "login",
                },
            ]
        )
    )
    assert bad.height == 0
    assert valid.schema["timestamp"] == pl.Datetime("us", "UTC")
    midnight_utc = dt.datetime(2026, 9, 1, 0, 0, tzinfo=dt.UTC)
    assert valid.get_column("timestamp").to_list()[:3] == [midnight_utc] * 3
    assert valid.get_column("timestamp")[3] == midnight_utc + dt.timedelta(milliseconds=250)
    assert valid.get_column("action_type")[1] == "logout"  # normalised to lower case
    assert dict(valid.drop(LOCATION).schema) == EVENT_DTYPES


def test_each_problem_is_named_with_row_and_field() -> None:
    raw = _raw(
        [
            {
                "event_id": "a",
                "user_id": "lee",
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "view",
                "resource_id": "db/x",
                "success": "true",
            },
            {
                "event_id": "b",
                "user_id": None,
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "view",
                "resource_id": "db/x",
                "success": "true",
            },
            {
                "event_id": "c",
                "user_id": "lee",
                "timestamp": "not a time",
                "action_type": "view",
                "resource_id": "db/x",
                "success": "true",
            },
            {
                "event_id": "a",
                "user_id": "lee",
                "timestamp": "2026-09-01T10:00:01",
                "action_type": "view",
                "resource_id": "db/x",
                "success": "true",
            },
            {
                "event_id": "d",
                "user_id": "lee",
                "timestamp": "2027-09-01T10:00:00",
                "action_type": "view",
                "resource_id": "db/x",
                "success": "true",
            },
            {
                "event_id": "e",
                "user_id": "lee",
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "view",
                "resource_id": None,
                "success": "perhaps",
            },
            {
                "event_id": "f",
                "user_id": "lee",
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "bad action!",
                "resource_id": "x",
                "success": None,
            },
        ]
    )
    valid, bad = _check(raw)
    assert valid.get_column("event_id").to_list() == ["a"]
    reasons = dict(zip(bad.get_column(LOCATION), bad.get_column("reason"), strict=True))
    assert reasons["in.csv:3"] == "user_id: is missing (required)"
    assert reasons["in.csv:4"].startswith("timestamp: cannot read 'not a time' (expected ISO 8601")
    assert reasons["in.csv:5"] == "duplicate event_id a (first at in.csv:2)"
    assert reasons["in.csv:6"].startswith("timestamp: is in the future")
    assert "success: cannot read 'perhaps'" in reasons["in.csv:7"]
    assert "resource_id is required unless action_type is one of" in reasons["in.csv:7"]
    assert reasons["in.csv:8"].startswith("action_type: must be a lower-case word")
    raw_row = json.loads(bad.filter(pl.col(LOCATION) == "in.csv:4").get_column("raw").item())
    assert raw_row["timestamp"] == "not a time"  # the auditor sees what arrived


def test_future_tolerance_is_respected() -> None:
    raw = _raw(
        [
            {
                "event_id": "1",
                "user_id": "u",
                "timestamp": (NOW + dt.timedelta(seconds=200)),
                "action_type": "login",
            },
            {
                "event_id": "2",
                "user_id": "u",
                "timestamp": (NOW + dt.timedelta(seconds=400)),
                "action_type": "login",
            },
        ]
    )
    valid, bad = _check(raw, future_tolerance=dt.timedelta(seconds=300))
    assert valid.get_column("event_id").to_list() == ["1"]
    assert bad.get_column(LOCATION).to_list() == ["in.csv:3"]


def test_duplicates_of_already_stored_events() -> None:
    raw = _raw(
        [
            {
                "event_id": "old",
                "user_id": "u",
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "login",
            },
            {
                "event_id": "new",
                "user_id": "u",
                "timestamp": "2026-09-01T10:00:00",
                "action_type": "login",
            },
        ]
    )
    valid, bad = _check(raw, known_ids=pl.Series(["old", "other"]))
    assert valid.get_column("event_id").to_list() == ["new"]
    assert bad.get_column("reason").item() == "duplicate event_id old (already ingested)"


def test_missing_required_column_quarantines_every_row() -> None:
    raw = pl.DataFrame(
        {"event_id": ["1"], "timestamp": ["2026-09-01T10:00:00"], "action_type": ["login"]}
    )
    valid, bad = _check(raw)
    assert valid.height == 0
    assert "user_id: column is missing from the input" in bad.get_column("reason").item()
    assert bad.get_column(LOCATION).item() == "row 1"


def test_typed_naive_datetimes_are_localised() -> None:
    raw = pl.DataFrame(
        {
            "event_id": ["1"],
            "user_id": ["u"],
            "timestamp": [dt.datetime(2026, 9, 1, 9)],
            "action_type": ["login"],
        }
    )
    valid, _ = _check(raw)
    assert valid.get_column("timestamp").item() == dt.datetime(2026, 9, 1, 0, tzinfo=dt.UTC)


_cell = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["", " ", "u1", "view"]))
_ts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
        lambda d: d.isoformat(timespec="seconds")
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "event_id": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", ""])),
                "user_id": _cell,
                "timestamp": _ts,
                "action_type": st.one_of(_cell, st.sampled_from(["login", "Edit", "usb_connect"])),
                "resource_id": _cell,
                "success": st.one_of(st.none(), st.sampled_from(["true", "0", "maybe"])),
            }
        ),
        min_size=1,
        max_size=25,
    )
)
def test_no_row_is_ever_lost(rows: list[dict[str, object]]) -> None:
    raw = _raw(rows)
    valid, bad = _check(raw)
    assert set(valid.get_column(LOCATION)) | set(bad.get_column(LOCATION)) == set(
        raw.get_column(LOCATION)
    )
    assert set(valid.get_column(LOCATION)).isdisjoint(set(bad.get_column(LOCATION)))
    assert bad.get_column("reason").is_not_null().all()
    assert (bad.get_column("reason").str.len_chars() > 0).all()
    assert valid.get_column("event_id").is_unique().all()
    assert valid.get_column("user_id").is_not_null().all()


@pytest.mark.parametrize("value", ["2026-02-30T10:00:00", "2026-09-01T25:00:00", "yesterday"])
def test_impossible_dates_are_quarantined(value: str) -> None:
    raw = _raw([{"event_id": "1", "user_id": "u", "timestamp": value, "action_type": "login"}])
    valid, bad = _check(raw)
    assert valid.height == 0 and bad.get_column("reason").item().startswith("timestamp:")
