from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from auditlens.alerts.routing import Rule, Schedule, plan, rules_from_settings
from auditlens.calendar import BusinessCalendar
from auditlens.config import ScheduleConfig, Settings
from auditlens.errors import ConfigError
from auditlens.store.alerts import Alert

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
CAL = BusinessCalendar()


def kst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]


def alert(severity: str = "high", department: str | None = "retail", scenario: str = "x") -> Alert:
    now = kst(2026, 9, 8, 10)
    return Alert(
        id=1,
        dedup_key=f"U1|{scenario}",
        user_id="U1",
        department=department,
        window=dt.date(2026, 9, 7),
        score_id=1,
        run_id=1,
        risk=80.0,
        severity=severity,
        scenario=scenario,
        reasons=[],
        model_sha256="a" * 64,
        status="open",
        close_requested_by=None,
        created_at=now,
        updated_at=now,
    )


def test_business_hours_hold_until_the_next_working_morning() -> None:
    hours = Schedule.business_hours(CAL)
    assert hours.is_open(kst(2026, 9, 8, 10))  # Tuesday 10:00
    assert hours.next_open(kst(2026, 9, 8, 10)) == kst(2026, 9, 8, 10)
    assert hours.next_open(kst(2026, 9, 8, 7, 30)) == kst(2026, 9, 8, 9)  # before work
    assert hours.next_open(kst(2026, 9, 8, 18)) == kst(2026, 9, 9, 9)  # end is exclusive
    assert hours.next_open(kst(2026, 9, 11, 20)) == kst(2026, 9, 14, 9)  # Friday -> Monday
    # Wednesday evening before Chuseok (24-26 Sep): held over the holidays and the weekend
    assert hours.next_open(kst(2026, 9, 23, 20)) == kst(2026, 9, 28, 9)
    assert not hours.is_open(kst(2026, 9, 25, 10))


def test_custom_window_and_always() -> None:
    night = Schedule.from_config(
        ScheduleConfig(days=["sat", "sun"], start=dt.time(10), end=dt.time(12)), CAL
    )
    assert night.next_open(kst(2026, 9, 8, 10)) == kst(2026, 9, 12, 10)  # Tuesday -> Saturday
    assert night.next_open(kst(2026, 9, 12, 12)) == kst(2026, 9, 13, 10)
    assert not night.skip_holidays and night.is_open(kst(2026, 9, 26, 11))  # Chuseok Saturday
    always = Schedule.from_config("always", CAL)
    assert always.next_open(kst(2026, 9, 25, 3)) == kst(2026, 9, 25, 3)
    digest = Schedule.business_hours(CAL).next_time_of_day(kst(2026, 9, 11, 9, 30), dt.time(9))
    assert digest == kst(2026, 9, 14, 9)  # Friday 09:30 -> Monday 09:00
    with pytest.raises(ValueError, match="after start"):
        ScheduleConfig(start=dt.time(18), end=dt.time(9))
    closed = Schedule(CAL, days=frozenset({3}), skip_holidays=True, start=dt.time(9))
    assert closed.next_open(kst(2026, 9, 24, 10)) == kst(2026, 9, 30, 9)
    with pytest.raises(ConfigError, match="never"):
        Schedule(CAL, days=frozenset()).next_open(kst(2026, 9, 8, 10))


def test_plan_routes_by_severity_department_and_scenario() -> None:
    settings = Settings(
        alert_channels={
            "pd": {"kind": "pagerduty", "routing_key": "k"},
            "teams": {"kind": "teams", "webhook_url": "http://t"},
            "slack": {"kind": "slack", "webhook_url": "http://s"},
            "mail": {"kind": "email", "host": "h", "sender": "a@b"},
        },
        alert_routes=[
            {"id": "crit", "severities": ["critical"], "channels": ["pd", "teams"]},
            {
                "id": "high",
                "severities": ["high", "critical"],
                "channels": ["teams", "slack", "mail"],
                "schedule": "business_hours",
                "recipients": ["lead@bank.example"],
            },
            {
                "id": "medium",
                "severities": ["medium"],
                "channels": ["mail"],
                "digest_at": "09:00:00",
                "schedule": "business_hours",
            },
            {
                "id": "it-usb",
                "severities": ["low", "medium", "high", "critical"],
                "departments": ["it"],
                "scenarios": ["usb_connect_count"],
                "channels": ["slack"],
            },
        ],
    )  # type: ignore[arg-type]
    rules = rules_from_settings(settings, CAL)
    night = kst(2026, 9, 8, 23)
    morning = kst(2026, 9, 9, 9)

    crit = plan(alert("critical"), rules, night)
    assert [(r.rule_id, r.channel, r.not_before) for r in crit] == [
        ("crit", "pd", night),
        ("crit", "teams", night),  # Teams only once although "high" names it too
        ("high", "slack", morning),
        ("high", "mail", morning),
    ]
    assert crit[3].recipients == ["lead@bank.example"] and crit[3].held(night)

    medium = plan(alert("medium"), rules, kst(2026, 9, 8, 10))
    assert [(r.channel, r.digest, r.not_before) for r in medium] == [("mail", True, morning)]

    assert plan(alert("low"), rules, night) == []
    usb = plan(alert("low", department="it", scenario="usb_connect_count"), rules, night)
    assert [(r.rule_id, r.not_before) for r in usb] == [("it-usb", night)]
    assert plan(alert("low", department="hr", scenario="usb_connect_count"), rules, night) == []


def test_rule_matching_with_empty_filters_matches_any() -> None:
    rule = Rule("r", ("c",), Schedule.always_open(CAL))
    assert rule.matches(alert("high", department=None))
    assert not rule.matches(alert("low"))
