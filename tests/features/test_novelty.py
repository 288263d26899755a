"""Novelty: first-ever behaviour against the person's whole history and the peer group."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from auditlens.features.matrix import build_matrix
from tests.features.test_features import CTX, at, events, row

USERS = ("a", "b", "c", "d", "e")
ORDINARY_DAYS = (1, 2, 3, 4, 7, 8)  # 2026-09-01 is a Tuesday; 5-6 are the weekend


def _org() -> list[dict[str, Any]]:
    """Five sales staff, each logging on to their own PC at 09:30 and working at 10:00."""
    rows: list[dict[str, Any]] = []
    for user in USERS:
        for day in ORDINARY_DAYS:
            host = f"PC-{user}"
            rows += [{"user": user, "t": at(day, 9, 30), "action": "login", "host": host}]
            rows += [{"user": user, "t": at(day, 10), "resource": "fileshare/a", "host": host}]
    # b uses a USB stick now and then, in the daytime
    rows += [{"user": "b", "t": at(d, 11), "action": "usb_connect", "host": "PC-b"} for d in (2, 7)]
    # a, on day 8: a first-ever late logon with a first-ever USB stick
    rows += [{"user": "a", "t": at(8, 23), "action": "login", "host": "PC-a"}]
    rows += [{"user": "a", "t": at(8, 23, 10), "action": "usb_connect", "host": "PC-a"}]
    # c, on day 8: a logon on d's PC at lunch
    rows += [{"user": "c", "t": at(8, 12), "action": "login", "host": "PC-d"}]
    # e, on day 8: a kind of sensitive data nobody in the group ever read
    rows += [{"user": "e", "t": at(8, 14), "resource": "db/customer/cards", "host": "PC-e"}]
    return rows


@pytest.fixture(scope="module")
def matrix() -> Any:
    return build_matrix(events(_org()), CTX).frame


def test_first_ever_late_logon_and_usb_count_the_whole_history(matrix: Any) -> None:
    day8 = row(matrix, "a", dt.date(2026, 9, 8))
    # first ever: the days since the person's first window (Sep 1), plus one
    assert day8["off_hours_login_gap_days"] == 8
    assert day8["usb_gap_days"] == 8
    # 23:00 is 18.0 h into a day that starts at 05:00; every earlier logon was at 4.5 h
    assert day8["login_hours_beyond_range"] == pytest.approx(18.0 - 4.5)
    assert day8["novel_kind_count"] == 2
    # nobody else in the group ever logged on late (1); one of four others used USB (0.75)
    assert day8["peer_rare_novelty"] == pytest.approx(1.0 + 0.75)
    assert day8["foreign_host_count"] == 0


def test_a_returning_habit_counts_days_since_it_was_last_seen(matrix: Any) -> None:
    assert row(matrix, "b", dt.date(2026, 9, 7))["usb_gap_days"] == 5
    assert row(matrix, "b", dt.date(2026, 9, 7))["novel_kind_count"] == 0
    # b's first USB day is new for b, and none of b's four peers had used one by then
    # (a's first USB comes on day 8: a day's features never look ahead)
    day2 = row(matrix, "b", dt.date(2026, 9, 2))
    assert day2["novel_kind_count"] == 1
    assert day2["peer_rare_novelty"] == pytest.approx(1.0)
    assert row(matrix, "b", dt.date(2026, 9, 3))["usb_gap_days"] == 0


def test_somebody_elses_pc_is_foreign_and_rare_among_peers(matrix: Any) -> None:
    day8 = row(matrix, "c", dt.date(2026, 9, 8))
    assert day8["foreign_host_count"] == 1
    assert day8["novel_kind_count"] == 1  # a new host
    assert day8["peer_rare_novelty"] == pytest.approx(2.0)  # a new host, somebody else's
    # d's own PC is d's: the owner is never foreign on it
    assert row(matrix, "d", dt.date(2026, 9, 8))["foreign_host_count"] == 0


def test_a_sensitive_kind_nobody_in_the_group_used(matrix: Any) -> None:
    assert row(matrix, "e", dt.date(2026, 9, 8))["peer_new_resource"] == pytest.approx(1.0)
    assert row(matrix, "e", dt.date(2026, 9, 7))["peer_new_resource"] == 0


def test_nothing_is_novel_on_a_persons_first_window(matrix: Any) -> None:
    for user in USERS:
        first = row(matrix, user, dt.date(2026, 9, 1))
        assert first["novel_kind_count"] == 0
        assert first["peer_rare_novelty"] == 0
        assert first["login_hours_beyond_range"] == 0
