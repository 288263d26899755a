"""Routing rules and quiet hours: which channels an alert goes to, and when.

A rule matches an alert by severity (and optionally department and scenario) and names
channels and recipients. Its schedule says when it may deliver: ``always``,
``business_hours`` (the configured business calendar: hours, weekends, Korean and company
holidays) or an explicit window. An alert outside the window is *held*: its delivery is
due when the window next opens, so nothing is lost. A rule with ``digest_at`` collects
its alerts and sends one message at that local time.

Example::

    >>> settings = Settings(
    ...     alert_channels={
    ...         "pagerduty": {"kind": "pagerduty", "routing_key": "R0UT1NGKEY"},
    ...         "mail": {"kind": "email", "host": "smtp.bank.example",
    ...                  "sender": "auditlens@bank.example"},
    ...     },
    ...     alert_routes=[
    ...         {"id": "high-page", "severities": ["high", "critical"],
    ...          "channels": ["pagerduty"]},
    ...         {"id": "high-mail", "severities": ["high"], "channels": ["mail"],
    ...          "schedule": "business_hours"},
    ...     ],
    ... )
    >>> rules = rules_from_settings(settings)
    >>> seoul = BusinessCalendar.from_settings(settings).zone
    >>> saturday_night = dt.datetime(2026, 9, 12, 23, tzinfo=seoul)
    >>> for route in plan(alert, rules, saturday_night):  # paged now, mailed Monday 09:00
    ...     print(route.rule_id, route.channel, route.not_before.astimezone(seoul))
    high-page pagerduty 2026-09-12 23:00:00+09:00
    high-mail mail 2026-09-14 09:00:00+09:00
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from auditlens.calendar import BusinessCalendar
from auditlens.config import WEEKDAY_NAMES, AlertRouteConfig, ScheduleConfig, Settings
from auditlens.errors import ConfigError
from auditlens.store.alerts import Alert
from auditlens.vocabulary import Severity

#: Due time of a route that is never held.
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Days searched for the next open window before giving up (a schedule that never opens).
HORIZON_DAYS: Final = 400


@dataclass(frozen=True)
class Schedule:
    """When deliveries may go out, in the calendar's time zone (end exclusive)."""

    calendar: BusinessCalendar
    days: frozenset[int] = frozenset(range(1, 8))  # ISO weekdays
    start: dt.time = dt.time(0, 0)
    end: dt.time | None = None  # None: until midnight
    skip_holidays: bool = False
    always: bool = False

    @classmethod
    def always_open(cls, calendar: BusinessCalendar) -> Schedule:
        """Any hour of any day."""
        return cls(calendar=calendar, always=True)

    @classmethod
    def business_hours(cls, calendar: BusinessCalendar) -> Schedule:
        """The calendar's business hours on working days (no weekends, no holidays)."""
        workdays = frozenset(range(1, 8)) - calendar.weekend
        return cls(calendar, workdays, calendar.start, calendar.end, skip_holidays=True)

    @classmethod
    def from_config(cls, spec: str | ScheduleConfig, calendar: BusinessCalendar) -> Schedule:
        """The schedule a rule's ``schedule`` setting describes."""
        if spec == "always":
            return cls.always_open(calendar)
        if spec == "business_hours":
            return cls.business_hours(calendar)
        if isinstance(spec, ScheduleConfig):
            days = frozenset(WEEKDAY_NAMES.index(d) + 1 for d in spec.days)
            return cls(calendar, days, spec.start, spec.end, spec.skip_holidays)
        raise ConfigError(
            f"unknown schedule {spec!r} (expected always, business_hours or a window)",
            ko=f"알 수 없는 일정 {spec!r}입니다 (always, business_hours 또는 시간대 지정)",
        )

    def is_open(self, moment: dt.datetime) -> bool:
        """True when ``moment`` (timezone-aware) falls inside the window."""
        if self.always:
            return True
        local = moment.astimezone(self.calendar.zone)
        if not self._day_open(local.date()):
            return False
        return self.start <= local.time() and (self.end is None or local.time() < self.end)

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` itself when open, else the (UTC) time the window next opens.

        Raises:
            ConfigError: the window never opens (no day allowed in over a year).
        """
        if self.is_open(moment):
            return moment.astimezone(dt.UTC)
        local = moment.astimezone(self.calendar.zone)
        for offset in range(HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            if not self._day_open(day):
                continue
            opens = dt.datetime.combine(day, self.start, tzinfo=self.calendar.zone)
            if opens > local:
                return opens.astimezone(dt.UTC)
        raise ConfigError(
            "an alert schedule never opens",
            hint="check the rule's days",
            ko="알림 일정이 한 번도 열리지 않습니다",
            ko_hint="규칙의 요일을 확인하십시오",
        )

    def next_time_of_day(self, moment: dt.datetime, at: dt.time) -> dt.datetime:
        """The first local ``at`` o'clock at or after ``moment`` inside the window (UTC)."""
        local = moment.astimezone(self.calendar.zone)
        for offset in range(HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            when = dt.datetime.combine(day, at, tzinfo=self.calendar.zone)
            if when >= local and self.is_open(when):
                return when.astimezone(dt.UTC)
        raise ConfigError(
            f"a digest at {at} never falls inside its rule's schedule",
            ko=f"{at}의 묶음 알림이 규칙의 일정 안에 한 번도 들어가지 않습니다",
        )

    def _day_open(self, day: dt.date) -> bool:
        if day.isoweekday() not in self.days:
            return False
        return not (self.skip_holidays and self.calendar.is_holiday(day))


@dataclass(frozen=True)
class Rule:
    """A routing rule, ready to match alerts."""

    rule_id: str
    channels: tuple[str, ...]
    schedule: Schedule
    severities: frozenset[str] = frozenset({Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL})
    departments: frozenset[str] = frozenset()
    scenarios: frozenset[str] = frozenset()
    recipients: tuple[str, ...] = ()
    digest_at: dt.time | None = None

    def matches(self, alert: Alert) -> bool:
        """True when severity, department and scenario all match (empty = any)."""
        return (
            alert.severity in self.severities
            and (not self.departments or (alert.department or "") in self.departments)
            and (not self.scenarios or alert.scenario in self.scenarios)
        )


@dataclass(frozen=True)
class Route:
    """One planned delivery: the rule that chose it, the channel and when it is due."""

    rule_id: str
    channel: str
    recipients: list[str] = field(default_factory=list)
    not_before: dt.datetime = EPOCH
    digest: bool = False

    def held(self, now: dt.datetime) -> bool:
        """True when the schedule holds this delivery past ``now``."""
        return self.not_before > now


def rules_from_settings(settings: Settings, calendar: BusinessCalendar | None = None) -> list[Rule]:
    """The configured ``alert_routes`` as rules (in the configured business calendar)."""
    cal = calendar or BusinessCalendar.from_settings(settings)
    return [rule_from_config(cfg, cal) for cfg in settings.alert_routes]


def rule_from_config(cfg: AlertRouteConfig, calendar: BusinessCalendar) -> Rule:
    """One ``[[alert_routes]]`` entry as a rule."""
    return Rule(
        rule_id=cfg.id,
        channels=tuple(cfg.channels),
        schedule=Schedule.from_config(cfg.schedule, calendar),
        severities=frozenset(cfg.severities),
        departments=frozenset(cfg.departments),
        scenarios=frozenset(cfg.scenarios),
        recipients=tuple(cfg.recipients),
        digest_at=cfg.digest_at,
    )


def plan(alert: Alert, rules: Sequence[Rule], now: dt.datetime) -> list[Route]:
    """Deliveries for ``alert``: one per matching rule and channel, each with its due time.

    A channel named by several matching rules gets one delivery, from the first rule
    (rules are tried in configured order) — nobody is paged twice for one alert.
    """
    routes: list[Route] = []
    taken: set[str] = set()
    for rule in rules:
        if not rule.matches(alert):
            continue
        if rule.digest_at is not None:
            due = rule.schedule.next_time_of_day(now, rule.digest_at)
        else:
            due = rule.schedule.next_open(now)
        for channel in rule.channels:
            if channel in taken:
                continue
            taken.add(channel)
            routes.append(
                Route(
                    rule_id=rule.rule_id,
                    channel=channel,
                    recipients=list(rule.recipients),
                    not_before=due,
                    digest=rule.digest_at is not None,
                )
            )
    return routes
