from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlens.coercion import _cleaned, _maybe_unclean
from auditlens.errors import ConfigError, ValidationFailed
from auditlens.schema import CORE_ACTIONS, EVENT_COLUMNS, EVENT_DTYPES, LOCATION
from auditlens.validate import validate
from auditlens.vocabulary import (
    VALUE_MAP_COLUMNS,
    ValueRules,
    builtin_actions,
    builtin_success,
    check_value_map,
    read_value_map,
)

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
        ),
        rules=ValueRules(date_order="MDY"),  # 09/01/2026 is September 1 only when so told
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
    assert reasons["in.csv:5"] == (  # a second later: same id, other content
        "event_id a repeated with different content (first at in.csv:2): possible log tampering"
    )
    assert reasons["in.csv:6"].startswith("timestamp: is in the future")
    assert "success: cannot read 'perhaps'" in reasons["in.csv:7"]
    assert "resource_id is required unless action_type is one of" in reasons["in.csv:7"]
    assert reasons["in.csv:8"].startswith("action_type: unknown action 'bad action!'")
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


# --- the fast paths give the same answers as the plain per-value rules ------------------

#: Every character Python and Unicode call white space, and some near misses.
_SPACES = "\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
_NEAR = "\u200b\ufeff\x7f\x00é인"


def _typed(n: int) -> pl.DataFrame:
    """A clean, already typed batch, as read from Parquet."""
    ts = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(n)],
            "user_id": [f"u{i % 7}" for i in range(n)],
            "timestamp": [ts + dt.timedelta(minutes=i) for i in range(n)],
            "action_type": ["view"] * n,
            "resource_id": [f"db/t{i % 5}" for i in range(n)],
            "success": [i % 3 > 0 for i in range(n)],
            "department": ["인사팀", "it"] * (n // 2) + ["it"] * (n % 2),
        }
    ).with_columns(pl.format("in.parquet#row={}", pl.int_range(pl.len())).alias(LOCATION))


def _expected_text(values: list[str | None], *, lower: bool) -> list[str | None]:
    out: list[str | None] = []
    for value in values:
        text = None if value is None else pl.Series([value]).str.strip_chars().item()
        if text is not None and lower:
            text = text.lower()
        out.append(text or None)
    return out


def test_clean_typed_batch_passes_unchanged() -> None:
    raw = _typed(1000)
    result = validate(raw, timezone="Asia/Seoul", now=NOW)
    assert result.rejected == 0
    assert result.quarantined.schema == pl.Schema(
        {LOCATION: pl.String(), "reason": pl.String(), "raw": pl.String()}
    )
    expected = raw.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("host", "src_ip", "role")
    ).select(*EVENT_DTYPES, LOCATION)
    assert result.valid.equals(expected)


def test_whitespace_upper_case_and_empty_text_among_clean_rows() -> None:
    raw = _typed(500)
    odd = [f"{s}u1" for s in _SPACES] + [f"u1{s}" for s in _SPACES] + [f"u{c}" for c in _NEAR]
    odd += ["", " ", "\u3000", "x y"]
    actions = ["VIEW", " view", "Edit\n", "İ", "ΣΑΣ", "\xa0login\xa0"]
    spots = list(range(3, 3 + 7 * len(odd), 7))
    users = raw.get_column("user_id").to_list()
    acts = raw.get_column("action_type").to_list()
    for spot, value in zip(spots, odd, strict=True):
        users[spot] = value
    for spot, value in zip(spots, actions, strict=False):
        acts[spot] = value
    raw = raw.with_columns(pl.Series("user_id", users), pl.Series("action_type", acts))
    result = validate(raw, timezone="Asia/Seoul", now=NOW)
    assert result.ingested == raw.height
    given = raw.select(
        LOCATION, pl.col("user_id").alias("in_user"), pl.col("action_type").alias("in_action")
    )
    valid = result.valid.join(given, on=LOCATION)
    assert valid.get_column("user_id").to_list() == _expected_text(
        valid.get_column("in_user").to_list(), lower=False
    )
    assert valid.get_column("action_type").to_list() == _expected_text(
        valid.get_column("in_action").to_list(), lower=True
    )
    reasons = dict(zip(result.quarantined[LOCATION], result.quarantined["reason"], strict=True))
    empty_user = [
        f"in.parquet#row={spot}" for spot, v in zip(spots, odd, strict=False) if not v.strip()
    ]
    assert empty_user and all(
        reasons[loc] == "user_id: is missing (required)" for loc in empty_user
    )


def test_cheap_text_test_never_misses_a_change() -> None:
    # What strip/lower-case can change: white space and cased characters (Python's sets
    # include Rust's), plus each UTF-8 length boundary and printable ASCII's edges; each
    # alone, first and last. bench/bench_text_check.py runs all 1.1 million code points.
    every = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    changeable = [c for c in every if c.isspace() or c.lower() != c]
    edges = [chr(c) for c in (0x0, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF)]
    chars = [*changeable, *edges, "\u3000", "\uff21", "\U00010000", "\U0001d400", "\U0010ffff"]
    values = [*chars, *(c + "a" for c in chars), *("a" + c for c in chars), "", None]
    for name in ("host", "action_type"):
        frame = pl.DataFrame({name: values}, schema={name: pl.String})
        out = frame.select(
            _maybe_unclean(name).fill_null(False).alias("maybe"),
            _cleaned(name).ne_missing(pl.col(name)).alias("changes"),
        )
        assert out.get_column("changes").any()  # the sample does hold changes to miss
        assert out.filter(pl.col("changes") & ~pl.col("maybe")).height == 0


def test_repeated_ids_in_a_large_batch() -> None:
    raw = _typed(3000)
    ids = raw.get_column("event_id").to_list()
    ids[10], ids[2000], ids[2999] = "E5", "E5", "E7"
    ids[20] = ids[21] = None
    raw = raw.with_columns(pl.Series("event_id", ids))
    result = validate(raw, timezone="Asia/Seoul", now=NOW)
    reasons = dict(zip(result.quarantined[LOCATION], result.quarantined["reason"], strict=True))
    reused, differently = "event_id", "repeated with different content"
    tamper = ": possible log tampering"
    assert reasons == {
        "in.parquet#row=10": f"{reused} E5 {differently} (first at in.parquet#row=5){tamper}",
        "in.parquet#row=2000": f"{reused} E5 {differently} (first at in.parquet#row=5){tamper}",
        "in.parquet#row=2999": f"{reused} E7 {differently} (first at in.parquet#row=7){tamper}",
        "in.parquet#row=20": "event_id: is missing (required)",
        "in.parquet#row=21": "event_id: is missing (required)",
    }
    assert result.accepted == 2995


def test_known_ids_with_nulls_and_repeats() -> None:
    known = pl.Series(["E3", None, "E3", "zz", "E8"])
    result = validate(_typed(10), timezone="Asia/Seoul", now=NOW, known_ids=known)
    assert result.quarantined.get_column(LOCATION).to_list() == [
        "in.parquet#row=3",
        "in.parquet#row=8",
    ]
    assert result.quarantined.get_column("reason").to_list() == [
        "duplicate event_id E3 (already ingested)",
        "duplicate event_id E8 (already ingested)",
    ]
    assert result.redundant == 2


def test_empty_typed_batch() -> None:
    result = validate(_typed(0), timezone="Asia/Seoul", now=NOW)
    assert result.ingested == 0
    assert dict(result.valid.drop(LOCATION).schema) == EVENT_DTYPES


def test_mixed_timestamp_text_in_a_large_batch() -> None:
    raw = _typed(400).with_columns(
        pl.col("timestamp").dt.convert_time_zone("Asia/Seoul").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    )
    stamps = raw.get_column("timestamp").to_list()
    stamps[1] = "2026-09-01T09:00:00"  # naive: Seoul
    stamps[2] = "2026-09-01 00:00:00Z"
    stamps[3] = "2026-09-01T09:00:00.5+09:00"
    stamps[4] = "09/01/2026 09:00:00"
    stamps[5] = "soon"
    raw = raw.with_columns(pl.Series("timestamp", stamps), pl.col("success").cast(pl.String))
    result = validate(raw, timezone="Asia/Seoul", now=NOW, rules=ValueRules(date_order="MDY"))
    got = dict(zip(result.valid[LOCATION], result.valid["timestamp"], strict=True))
    midnight = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert [got[f"in.parquet#row={i}"] for i in (0, 1, 2, 4)] == [midnight] * 4
    assert got["in.parquet#row=3"] == midnight + dt.timedelta(milliseconds=500)
    assert got["in.parquet#row=399"] == midnight + dt.timedelta(minutes=399)
    assert result.quarantined.get_column(LOCATION).to_list() == ["in.parquet#row=5"]


def test_a_raw_column_named_reason_does_not_hide_the_reason() -> None:
    raw = _raw(
        [{"event_id": "1", "user_id": None, "timestamp": "2026-09-01T10:00:00",
          "action_type": "login", "reason": "from the export"}]
    )  # fmt: skip
    _, bad = _check(raw)
    assert bad.get_column("reason").item() == "user_id: is missing (required)"
    assert json.loads(bad.get_column("raw").item())["reason"] == "from the export"


# --- value maps, the vocabulary, dates and local times ------------------------------------

ENGLISH = [
    ("1", "kim", "2026-09-01T09:00:00", "login", None, "true"),
    ("2", "kim", "2026-09-01T09:05:00", "view", "db/a", "true"),
    ("3", "kim", "2026-09-01T09:06:00", "edit", "db/a", "false"),
    ("4", "kim", "2026-09-01T09:07:00", "delete", "db/a", "true"),
    ("5", "kim", "2026-09-01T09:08:00", "download", "db/a", "false"),
    ("6", "kim", "2026-09-01T09:09:00", "print", "db/a", "true"),
    ("7", "kim", "2026-09-01T09:10:00", "export", "db/a", "false"),
    ("8", "kim", "2026-09-01T09:11:00", "login", None, "false"),
]
KOREAN = [
    ("1", "kim", "2026-09-01T09:00:00", "로그인", None, "성공"),
    ("2", "kim", "2026-09-01T09:05:00", " 조회 ", "db/a", "Y"),
    ("3", "kim", "2026-09-01T09:06:00", "수정", "db/a", "실패"),
    ("4", "kim", "2026-09-01T09:07:00", "삭제", "db/a", "1.0"),
    ("5", "kim", "2026-09-01T09:08:00", "다운로드", "db/a", "0.0"),
    ("6", "kim", "2026-09-01T09:09:00", "출력", "db/a", "y"),
    ("7", "kim", "2026-09-01T09:10:00", "반출", "db/a", "N"),
    ("8", "kim", "2026-09-01T09:11:00", "로그인실패", None, None),
]


def _events(rows: list[tuple[str, ...]]) -> pl.DataFrame:
    names = ("event_id", "user_id", "timestamp", "action_type", "resource_id", "success")
    return _raw([dict(zip(names, row, strict=True)) for row in rows])


def test_korean_actions_and_success_flags_read_as_the_english_ones() -> None:
    english, bad_en = _check(_events(ENGLISH))
    korean, bad_ko = _check(_events(KOREAN))
    assert bad_en.height == bad_ko.height == 0
    assert korean.drop(LOCATION).equals(english.drop(LOCATION))
    assert korean.get_column("success").to_list()[-1] is False  # 로그인실패: a failed login


def test_a_value_map_wins_over_the_built_in_synonyms_and_maps_any_categorical_column() -> None:
    raw = _raw(
        [
            {"event_id": "1", "user_id": "kim", "timestamp": "2026-09-01T09:00:00",
             "action_type": "결재", "resource_id": "doc/1", "success": "정상",
             "department": "IT본부", "role": "DBA"},
            {"event_id": "2", "user_id": "kim", "timestamp": "2026-09-01T09:01:00",
             "action_type": "READ_REC", "resource_id": "doc/1", "success": "비정상",
             "department": "영업", "role": "DBA"},
            {"event_id": "3", "user_id": "kim", "timestamp": "2026-09-01T09:02:00",
             "action_type": "인증오류", "resource_id": None, "success": "정상",
             "department": "영업", "role": "DBA"},
        ]
    )  # fmt: skip
    rules = ValueRules(
        value_map=check_value_map(
            {
                "action_type": {"결재": "other", "read_rec": "view", "인증오류": "login:failed"},
                "success": {"정상": True, "비정상": "false"},
                "department": {"IT본부": "IT"},
            }
        )
    )
    valid, bad = _check(raw, rules=rules)
    assert bad.height == 0
    assert valid.get_column("action_type").to_list() == ["other", "view", "login"]
    assert valid.get_column("success").to_list() == [True, False, False]
    assert valid.get_column("department").to_list() == ["IT", "영업", "영업"]


def test_unknown_actions_are_quarantined_with_the_batch_counts_or_kept() -> None:
    rows = [
        {"event_id": str(i), "user_id": "kim", "timestamp": "2026-09-01T09:00:00",
         "action_type": action, "resource_id": "db/a"}
        for i, action in enumerate(["view", "결재", "결재", "결재", "approve", "VIEW"])
    ]  # fmt: skip
    result = validate(_raw(rows), timezone="Asia/Seoul", now=NOW)
    assert result.valid.get_column("action_type").to_list() == ["view", "view"]
    assert dict(result.unknown_actions) == {"결재": 3, "approve": 1}
    reasons = result.quarantined.get_column("reason").to_list()
    assert len(reasons) == 4
    assert reasons[0] == (
        "action_type: unknown action '결재' (not in the vocabulary; unknown in this batch: "
        "'결재' x3, 'approve' x1); map it in the source's value_map.action_type or set "
        'unknown_actions = "keep"'
    )
    kept = validate(
        _raw(rows), timezone="Asia/Seoul", now=NOW, rules=ValueRules(unknown_actions="keep")
    )
    assert kept.rejected == 0
    assert kept.valid.get_column("action_type").to_list()[1:5] == [
        "결재",
        "결재",
        "결재",
        "approve",
    ]
    assert dict(kept.unknown_actions) == {"결재": 3, "approve": 1}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"action_type": {"결재": "approve"}}, "'approve' is not a canonical action"),
        ({"success": {"정상": "maybe"}}, "expected true or false"),
        ({"host": {"a": "b"}}, "'host' is not a categorical column"),
        ({"department": {" ": "IT"}}, "an empty value cannot be mapped"),
    ],
)
def test_value_map_mistakes_are_named(mapping: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_value_map(mapping)


def test_value_map_files_in_toml_and_csv_read_the_same(tmp_path: Path) -> None:
    toml = tmp_path / "map.toml"
    toml.write_text(
        '[action_type]\n"열람" = "view"\n"인증오류" = "login:failed"\n\n[success]\n"정상" = true\n',
        encoding="utf-8",
    )
    csv = tmp_path / "map.csv"
    csv.write_text(
        "column,value,canonical\naction_type,열람,view\naction_type,인증오류,login:failed\n"
        "success,정상,true\n",
        encoding="utf-8",
    )
    expected = {
        "action_type": {"열람": "view", "인증오류": "login:failed"},
        "success": {"정상": "true"},
    }
    assert read_value_map(toml) == read_value_map(csv) == expected
    twice = tmp_path / "twice.csv"
    twice.write_text("column,value,canonical\nrole,a,b\nrole,a,c\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3: role='a' is mapped twice"):
        read_value_map(twice)
    with pytest.raises(ConfigError, match=r"unknown file type '\.json'"):
        read_value_map(tmp_path / "map.json")


def _stamps(*values: str) -> pl.DataFrame:
    return _raw(
        [
            {"event_id": str(i), "user_id": "kim", "timestamp": v, "action_type": "login"}
            for i, v in enumerate(values)
        ]
    )


def test_day_month_dates_are_never_guessed() -> None:
    ambiguous = _stamps("2026-09-02T10:00:00", "01/09/2026 09:00:00")
    with pytest.raises(ValidationFailed) as caught:
        validate(ambiguous, timezone="UTC", now=NOW)
    message = str(caught.value)
    assert "in.csv:3: column 'timestamp'" in message
    assert "'01/09/2026 09:00:00'" in message
    assert "01 September 2026 day first or 09 January 2026 month first" in message
    assert 'date_order = "DMY"' in message and '"MDY"' in message
    # only one reading possible still is not a reason to guess
    with pytest.raises(ValidationFailed, match=r"read only day first"):
        validate(_stamps("13/09/2026 09:00:00"), timezone="UTC", now=NOW)
    # with the order set, the same text reads as told
    day_first = validate(ambiguous, timezone="UTC", now=NOW, rules=ValueRules(date_order="DMY"))
    month_first = validate(ambiguous, timezone="UTC", now=NOW, rules=ValueRules(date_order="MDY"))
    assert day_first.valid["timestamp"][1] == dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)
    assert month_first.valid["timestamp"][1] == dt.datetime(2026, 1, 9, 9, tzinfo=dt.UTC)
    assert day_first.valid["timestamp"][0] == dt.datetime(2026, 9, 2, 10, tzinfo=dt.UTC)
    dotted = validate(
        _stamps("1.9.2026 09:00"), timezone="UTC", now=NOW, rules=ValueRules(date_order="DMY")
    )
    assert dotted.valid["timestamp"][0] == dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)
    # a value that fits neither order is an ordinary unreadable row, not a refusal
    garbage = validate(_stamps("2026-09-02T10:00:00", "31/02/2026 25:61"), timezone="UTC", now=NOW)
    assert garbage.quarantined["reason"][0].startswith("timestamp: cannot read '31/02/2026 25:61'")
    wrong = validate(
        _stamps("09/13/2026 09:00:00"), timezone="UTC", now=NOW, rules=ValueRules(date_order="DMY")
    )
    assert "DD/MM/YYYY HH:MM:SS (date_order = DMY)" in wrong.quarantined["reason"][0]


def test_timestamps_before_1970_are_quarantined_not_crashing() -> None:
    result = validate(
        _stamps("0001-01-01T00:00:00", "1969-12-31T23:59:59+00:00", "1970-01-01T00:00:00Z"),
        timezone="Asia/Seoul",
        now=NOW,
    )
    assert result.valid["timestamp"].to_list() == [dt.datetime(1970, 1, 1, tzinfo=dt.UTC)]
    reasons = result.quarantined["reason"].to_list()
    too_early = "timestamp: is before 1970-01-01 (accepted: 1970-01-01 to now + future_tolerance"
    assert reasons == [f"{too_early}_seconds)"] * 2


def test_dst_gap_and_fall_back_times_say_so() -> None:
    zone = "America/New_York"
    raw = _stamps("2026-03-08T02:30:00", "2026-11-01T01:30:00", "2026-11-01T03:30:00")
    result = validate(raw, timezone=zone, now=NOW)
    assert result.valid["timestamp"].to_list() == [dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)]
    assert result.quarantined["reason"].to_list() == [
        "timestamp: '2026-03-08T02:30:00' does not exist in America/New_York (DST gap: the "
        "clocks skip this hour)",
        "timestamp: '2026-11-01T01:30:00' is ambiguous in America/New_York (DST fall-back: "
        'this local time occurs twice); set ambiguous_times = "earliest" or "latest" to '
        "accept such times",
    ]
    for policy, hour in (("earliest", 5), ("latest", 6)):
        chosen = validate(raw, timezone=zone, now=NOW, rules=ValueRules(ambiguous_times=policy))
        assert chosen.valid["timestamp"][0] == dt.datetime(2026, 11, 1, hour, 30, tzinfo=dt.UTC)
        assert chosen.rejected == 1  # the gap stays quarantined
    typed = raw.with_columns(pl.col("timestamp").str.to_datetime())
    again = validate(typed, timezone=zone, now=NOW)
    assert again.quarantined["reason"].to_list() == result.quarantined["reason"].to_list()


def test_the_vocabulary_is_one_and_documented() -> None:
    """Value-map columns are canonical; every canonical action, synonym and success word
    is in the table of docs/ingestion.md."""
    assert set(VALUE_MAP_COLUMNS) <= set(EVENT_COLUMNS)
    assert set(builtin_actions().values()) - CORE_ACTIONS == {"login:failed"}
    docs = (Path(__file__).parents[1] / "docs" / "ingestion.md").read_text(encoding="utf-8")
    for word in [*builtin_actions(), *builtin_success()]:
        assert f"`{word}`" in docs, f"{word} missing from docs/ingestion.md"
