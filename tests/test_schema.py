"""The one rule for a user's department (schema.user_departments)."""

from __future__ import annotations

import polars as pl

from auditlens.schema import user_departments


def _events(rows: list[tuple[str, str | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema={"user_id": pl.String, "department": pl.String}, orient="row")


def test_most_frequent_department_wins_and_a_tie_goes_to_the_first_name() -> None:
    events = _events([("a", "IT"), ("a", "HR"), ("a", "IT"), ("b", "Ops"), ("b", "HR")])
    assert user_departments(events) == {"a": "IT", "b": "HR"}


def test_nulls_are_ignored_and_a_user_without_any_is_absent() -> None:
    events = _events([("a", None), ("a", None), ("a", "IT"), ("c", None)])
    assert user_departments(events) == {"a": "IT"}


def test_the_directory_wins_per_user_and_unlisted_users_fall_back_to_events() -> None:
    events = _events([("a", "IT"), ("b", "HR"), ("c", "Ops")])
    directory = pl.DataFrame(
        {"user_id": ["a", "b", "b", "d"], "department": ["Risk", None, "Audit", "Legal"]}
    )
    # b listed twice: the last row; d only in the directory; c only in the events
    assert user_departments(events, directory) == {
        "a": "Risk",
        "b": "Audit",
        "c": "Ops",
        "d": "Legal",
    }
    blank = pl.DataFrame(
        {"user_id": ["c"], "department": [None]}, schema_overrides={"department": pl.String}
    )
    assert user_departments(events, blank, users=["c"]) == {"c": "Ops"}


def test_users_limits_the_answer_and_events_without_departments_give_nothing() -> None:
    events = _events([("a", "IT"), ("b", "HR")])
    directory = pl.DataFrame({"user_id": ["b", "x"], "department": ["Audit", "Legal"]})
    assert user_departments(events, directory, users=["b"]) == {"b": "Audit"}
    assert user_departments(pl.LazyFrame({"user_id": ["a"]})) == {}
    assert user_departments(events, pl.DataFrame({"user_id": ["a"]})) == {"a": "IT", "b": "HR"}
