"""Watch-list patterns: parsing, and the fast matcher against brute force (hypothesis)."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlens.calendar import BusinessCalendar
from auditlens.errors import ConfigError
from auditlens.features.base import LEVEL, WINDOW
from auditlens.features.sequences import WORD, tokenise
from auditlens.features.watchlist import WatchPattern, find_matches, parse_pattern

T0 = dt.datetime(2026, 9, 22, 23, 0, tzinfo=dt.UTC)


def brute_force(
    times: list[int], actions: list[str], levels: list[int], resources: list[str], p: WatchPattern
) -> set[int]:
    """Indices of events completing a match, trying every ordered combination."""
    ends: set[int] = set()
    limit = None if p.within is None else p.within.total_seconds()
    order = sorted(range(len(times)), key=lambda i: (times[i], i))
    for combo in itertools.combinations(order, len(p.actions)):
        if any(actions[c] != p.actions[j] for j, c in enumerate(combo)):
            continue
        if p.min_level is not None and any(levels[c] < p.min_level for c in combo):
            continue
        if p.same_resource and len({resources[c] for c in combo}) != 1:
            continue
        if limit is not None and times[combo[-1]] - times[combo[0]] > limit:
            continue
        ends.add(combo[-1])
    return ends


def frame(
    times: list[int], actions: list[str], levels: list[int], resources: list[str]
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ["u"] * len(times),
            "timestamp": [T0 + dt.timedelta(seconds=t) for t in times],
            "action_type": actions,
            "resource_id": resources,
            "_level": levels,
            "_i": list(range(len(times))),
        }
    ).sort("timestamp", "_i")


def test_parse_the_documented_form() -> None:
    p = parse_pattern("t", "View > Edit > Delete within 10m on sensitivity>=high same resource")
    assert p.actions == ("view", "edit", "delete")
    assert p.within == dt.timedelta(minutes=10)
    assert p.min_level == 2 and p.same_resource
    assert parse_pattern("t", p.text) == p
    bare = parse_pattern("u", "export>usb_connect>delete")
    assert bare.within is None and bare.min_level is None and not bare.same_resource


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("view>>edit", "cannot read"),
        ("view>edit within ten minutes", "cannot read"),
        ("view>edit on sensitivity>=secret", "'secret' is not one of low, medium, high"),
    ],
)
def test_bad_patterns_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pattern("bad", text)


def test_gap_rule_is_inclusive_and_order_matters() -> None:
    p = parse_pattern("t", "view>edit>delete within 10m")
    times, acts = [0, 300, 600], ["view", "edit", "delete"]
    got = find_matches(frame(times, acts, [0] * 3, ["r"] * 3), [p], "_level")
    assert got.height == 1 and got.row(0, named=True)["start"] == T0
    late = find_matches(frame([0, 300, 601], acts, [0] * 3, ["r"] * 3), [p], "_level")
    assert late.height == 0  # 10 min 1 s from first to last
    backwards = find_matches(
        frame([0, 60, 120], ["delete", "edit", "view"], [0] * 3, ["r"] * 3), [p], "_level"
    )
    assert backwards.height == 0
    # a later view restarts the clock: view(0) view(500) edit(700) delete(1000) matches
    restart = find_matches(
        frame([0, 500, 700, 1000], ["view", "view", "edit", "delete"], [0] * 4, ["r"] * 4),
        [p], "_level",
    )  # fmt: skip
    assert restart.height == 1 and restart.row(0, named=True)["start"] == T0 + dt.timedelta(
        seconds=500
    )


ACTIONS = ["view", "edit", "delete"]


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 3_000),
            st.sampled_from(ACTIONS),
            st.integers(0, 3),
            st.sampled_from(["a", "b"]),
        ),
        max_size=9,
    ),
    actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3),
    within=st.one_of(st.none(), st.integers(0, 2_000)),
    level=st.one_of(st.none(), st.integers(0, 3)),
    same=st.booleans(),
)
def test_matcher_equals_brute_force(
    events: list[tuple[int, str, int, str]],
    actions: list[str],
    within: int | None,
    level: int | None,
    same: bool,
) -> None:
    p = WatchPattern(
        "p", tuple(actions), None if within is None else dt.timedelta(seconds=within), level, same
    )
    times = [e[0] for e in events]
    acts = [e[1] for e in events]
    levels = [e[2] for e in events]
    res = [e[3] for e in events]
    expected = brute_force(times, acts, levels, res, p)
    got = find_matches(frame(times, acts, levels, res), [p], "_level")
    # compare the completing events' times and resources (several may share a time)
    ordered = sorted(range(len(times)), key=lambda i: (times[i], i))
    want = sorted((times[i], res[i]) for i in ordered if i in expected)
    have = sorted(
        (int((e - T0).total_seconds()), r)
        for e, r in zip(got["end"], got["resource_id"], strict=True)
    )
    assert have == want


def test_kept_unknown_actions_are_other_for_patterns_and_sequences() -> None:
    """unknown_actions = "keep" stores '결재' as given; the features see 'other'."""
    with pytest.raises(ConfigError, match="'approve' is not a canonical action"):
        parse_pattern("bad", "approve>delete")
    p = parse_pattern("t", "other>delete within 10m")
    got = find_matches(frame([0, 60], ["결재", "delete"], [0, 0], ["r", "r"]), [p], "_level")
    assert got.height == 1
    kept = frame([0, 60, 120], ["결재", "approve", "view"], [0, 0, 0], ["r"] * 3)
    prepared = kept.with_columns(
        pl.col("timestamp").dt.date().alias(WINDOW), pl.col("_level").alias(LEVEL)
    )
    assert tokenise(prepared)[WORD].cast(pl.String).to_list() == ["other", "other", "view"]


def _calendar() -> BusinessCalendar:
    return BusinessCalendar(timezone="Asia/Seoul")


def _export_run(start_local: dt.datetime) -> pl.DataFrame:
    """view > download > export, five minutes apart, starting at a Seoul wall-clock time."""
    seoul = ZoneInfo("Asia/Seoul")
    stamps = [
        (start_local + dt.timedelta(minutes=5 * i)).replace(tzinfo=seoul).astimezone(dt.UTC)
        for i in range(3)
    ]
    return pl.DataFrame(
        {
            "user_id": ["u"] * 3,
            "timestamp": stamps,
            "action_type": ["view", "download", "export"],
            "resource_id": ["r1"] * 3,
            "_level": [3] * 3,
        }
    )


def test_off_hours_and_holiday_conditions_parse_in_any_order() -> None:
    p = parse_pattern("야간반출", "view>download>export on holiday within 30m off hours")
    assert p.off_hours and p.on_holiday and p.within == dt.timedelta(minutes=30)
    assert parse_pattern(p.name, p.text) == p
    assert not parse_pattern("x", "view>export").needs_calendar


@pytest.mark.parametrize(
    ("local_start", "off_hours", "on_holiday"),
    [
        (dt.datetime(2026, 9, 22, 14, 0), False, False),  # a Tuesday afternoon, working day
        (dt.datetime(2026, 9, 22, 22, 30), True, False),  # the same Tuesday, late evening
        (dt.datetime(2026, 9, 25, 14, 0), True, True),  # Chuseok (추석) holiday, afternoon
        (dt.datetime(2026, 9, 26, 10, 0), True, True),  # a Saturday morning
    ],
)
def test_off_hours_and_holiday_conditions_use_the_business_calendar(
    local_start: dt.datetime, off_hours: bool, on_holiday: bool
) -> None:
    events = _export_run(local_start)
    patterns = [
        parse_pattern("any", "view>download>export within 30m"),
        parse_pattern("night", "view>download>export within 30m off_hours"),
        parse_pattern("holiday", "view>download>export within 30m on holiday"),
    ]
    found = set(find_matches(events, patterns, "_level", _calendar()).get_column("pattern"))
    expected = (
        {"any"} | ({"night"} if off_hours else set()) | ({"holiday"} if on_holiday else set())
    )
    assert found == expected


def test_a_run_that_crosses_into_business_hours_is_not_off_hours() -> None:
    # 08:50, 08:55, 09:00: the last step is inside business hours (09:00-18:00)
    events = _export_run(dt.datetime(2026, 9, 22, 8, 50))
    night = parse_pattern("night", "view>download>export within 30m off_hours")
    assert find_matches(events, [night], "_level", _calendar()).height == 0
    with pytest.raises(ValueError, match="business calendar"):
        find_matches(events, [night], "_level")
