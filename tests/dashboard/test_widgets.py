"""Numbers, durations, periods and words as the dashboard shows them (no Streamlit run)."""

from __future__ import annotations

import datetime as dt

import pytest

from auditlens.dashboard.labels import department_label, scenario_label, status_label
from auditlens.dashboard.login import credentials
from auditlens.dashboard.navigation import TITLES, title
from auditlens.dashboard.widgets import (
    change,
    count,
    duration,
    percent,
    period_text,
    previous_period,
    severity_text,
    severity_word,
)


def test_counts_carry_the_korean_counter_and_english_grouping() -> None:
    assert (count(1234567, "ko"), count(1234567, "en")) == ("1,234,567건", "1,234,567")
    assert (count(56, "ko", ko_unit="명", en_unit="users"), count(56, "en", en_unit="users")) == (
        "56명",
        "56 users",
    )
    assert (count(0, "ko"), count(None, "ko")) == ("0건", "—")


@pytest.mark.parametrize(
    ("seconds", "ko", "en"),
    [
        (None, "—", "—"),
        (45 * 60, "45분", "45 min"),
        (3599, "60분", "60 min"),
        (3600, "1.0시간", "1.0 h"),
        (11520, "3.2시간", "3.2 h"),
        (48 * 3600 - 1, "48.0시간", "48.0 h"),
        (48 * 3600, "2.0일", "2.0 days"),
        (216000, "2.5일", "2.5 days"),
    ],
)
def test_durations_read_in_the_unit_that_fits(seconds: float | None, ko: str, en: str) -> None:
    assert (duration(seconds, "ko"), duration(seconds, "en")) == (ko, en)


def test_rates_and_changes() -> None:
    assert (percent(0.125, "ko"), percent(1 / 3, "en"), percent(None, "en")) == (
        "12.5%",
        "33.3%",
        "—",
    )
    assert (change(80, 60, "ko"), change(3, 10, "en"), change(5, None, "en")) == ("+20", "-7", "")
    assert change(2.5, 1.0, "en") == "+1.5"
    assert change(0.5, 0.25, "ko", points=True) == "+25.0%p"


def test_periods() -> None:
    start, end = dt.date(2026, 9, 8), dt.date(2026, 9, 14)
    assert previous_period(start, end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 7))
    assert previous_period(start, start) == (dt.date(2026, 9, 7), dt.date(2026, 9, 7))
    assert period_text(start, end, "en") == "2026-09-08 to 2026-09-14"
    assert period_text(start, end, "ko") == "2026-09-08 ~ 2026-09-14"
    assert period_text(start, start, "ko") == "2026-09-08"


def test_words_in_both_languages() -> None:
    assert (severity_word("critical", "ko"), severity_word("critical", "en")) == (
        "심각",
        "critical",
    )
    assert severity_text("high", "ko") == ":red[높음]"
    assert scenario_label("usb_connect_count", "en") == "USB connections"
    assert scenario_label("no_such_feature", "ko") == "no_such_feature"
    assert (scenario_label("unexplained", "ko"), department_label(None, "ko")) == (
        "사유 없음",
        "미상",
    )
    assert (status_label("close_requested", "en"), status_label("dismissed", "ko")) == (
        "close requested",
        "오탐 기각",
    )
    assert [title(name, "ko") for name in TITLES] == [
        "현황",
        "알림 처리",
        "개인별 상세",
        "모델과 데이터",
    ]


def test_a_credential_goes_where_the_api_would_take_it() -> None:
    assert credentials(" alk_abc_def ") == ("alk_abc_def", None)
    assert credentials("Bearer eyJ.a.b") == (None, "Bearer eyJ.a.b")
    assert credentials("eyJ.a.b") == (None, "Bearer eyJ.a.b")
