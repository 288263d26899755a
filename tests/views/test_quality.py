"""views.quality on a store whose answer is known: two ISO weeks in Seoul (one alert
opened 00:30 on a Monday in Seoul, still Sunday in UTC), two scenarios, undecided and
closed-but-not-confirmed alerts, review samples with hand-computed Wilson intervals."""

from __future__ import annotations

import datetime as dt

import pytest
from scipy.stats import binomtest

from auditlens.identity import Directory
from auditlens.monitor.review import decide_sample
from auditlens.store.repo import Store
from auditlens.store.reviews import NewSample
from auditlens.views import kpis, quality
from auditlens.views.quality import estimate, last_weeks, recent_quality, wilson
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, act, model, open_alert, scores

START, END = dt.date(2026, 9, 7), dt.date(2026, 9, 20)  # ISO weeks 37 and 38
USB = "usb_connect_count"
OFF = "off_hours_login_ratio"
KIM = Directory({"kim": ["analyst"]}).acting("kim")


def _h(hours: float, since: dt.datetime = T0) -> dt.datetime:
    return since + dt.timedelta(hours=hours)


def fill(store: Store) -> None:
    """Six alerts (T0 is Tuesday 2026-09-08 10:00 in Seoul) and the model runs score with."""
    model(store, SHA_A)
    a = open_alert(store, T0, user="A")
    act(store, a, "close", "kim", _h(2), reason="confirmed")
    b = open_alert(store, T0, user="B", feature=USB)
    act(store, b, "dismiss", "kim", _h(4), reason="false_positive")
    open_alert(store, T0, user="C")  # undecided
    sunday = dt.datetime(2026, 9, 13, 14, 30, tzinfo=dt.UTC)  # Sun 23:30 in Seoul: W37
    d = open_alert(store, sunday, user="D")
    act(store, d, "dismiss", "kim", _h(1, sunday), reason="explained")
    monday = dt.datetime(2026, 9, 13, 15, 30, tzinfo=dt.UTC)  # Mon 00:30 in Seoul: W38
    e = open_alert(store, monday, user="E")
    act(store, e, "close", "kim", _h(10, monday), reason="confirmed")
    later = dt.datetime(2026, 9, 14, 3, 0, tzinfo=dt.UTC)
    f = open_alert(store, later, user="F", feature=USB)
    act(store, f, "close", "kim", _h(6, later), reason="remediated")  # closed, not confirmed


def test_precision_and_time_to_close_per_week_and_scenario(store: Store) -> None:
    fill(store)
    q = quality(store, START, END)
    w37, w38 = q.weeks
    assert (w37.week, w37.week_start, w38.week) == ("2026-W37", START, "2026-W38")
    # W37: A confirmed (2 h), B and D dismissed (4 h, 1 h), C open
    assert (w37.alerts, w37.confirmed, w37.closed, w37.dismissed, w37.open) == (4, 1, 1, 2, 1)
    assert w37.precision == pytest.approx(1 / 3)
    assert (w37.closed_measured, w37.median_hours_to_close) == (3, 2.0)
    assert w37.p90_hours_to_close == pytest.approx(2 + 0.8 * 2)  # 1, 2, 4 h
    # W38: E confirmed (10 h), F closed as remediated (6 h): nothing dismissed
    assert (w38.alerts, w38.confirmed, w38.closed, w38.dismissed, w38.open) == (2, 1, 2, 0, 0)
    assert w38.precision == 1.0
    assert w38.median_hours_to_close == 8.0
    assert w38.p90_hours_to_close == pytest.approx(6 + 0.9 * 4)
    by = {s.scenario: s for s in q.scenarios}
    assert set(by) == {OFF, USB}
    assert (by[OFF].alerts, by[OFF].confirmed, by[OFF].dismissed) == (4, 2, 1)
    assert by[OFF].precision == pytest.approx(2 / 3)
    assert (by[USB].alerts, by[USB].confirmed, by[USB].dismissed, by[USB].precision) == (
        2,
        0,
        1,
        0.0,
    )
    cells = {(c.week, c.scenario): c.alerts for c in q.cells}
    assert cells == {
        ("2026-W37", OFF): 3,
        ("2026-W37", USB): 1,
        ("2026-W38", OFF): 1,
        ("2026-W38", USB): 1,
    }
    assert (q.total.alerts, q.total.confirmed, q.total.dismissed, q.total.precision) == (
        6,
        2,
        2,
        0.5,
    )


def test_the_numbers_are_the_kpis_numbers(store: Store) -> None:
    fill(store)
    q, k = quality(store, START, END), kpis(store, START, END)
    assert (q.total.alerts, q.total.confirmed, q.total.dismissed, q.total.closed) == (
        k.alerts,
        k.confirmed,
        k.dismissed,
        k.closed,
    )
    assert q.total.closed_measured == k.time_to_close.count
    assert k.time_to_close.median_seconds is not None
    assert q.total.median_hours_to_close == pytest.approx(k.time_to_close.median_seconds / 3600)


def test_a_week_in_utc_is_not_a_week_in_seoul(store: Store) -> None:
    fill(store)
    utc_weeks = quality(store, START, END, zone="UTC").weeks
    # in UTC, E (Sunday 15:30) belongs to week 37
    assert [w.alerts for w in utc_weeks] == [5, 1]


def test_nothing_decided_has_no_precision(store: Store) -> None:
    open_alert(store, T0, user="C")
    q = quality(store, START, END)
    assert q.weeks[0].precision is None and q.weeks[1].alerts == 0
    assert q.weeks[1].median_hours_to_close is None
    assert q.misses.miss_rate is None and q.misses.recall is None


@pytest.mark.parametrize(("k", "n"), [(1, 10), (0, 5), (3, 3), (0, 1)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(method="wilson")
    low, high = wilson(k, n) or (None, None)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)
    assert wilson(0, 0) is None


def _samples(store: Store, at: dt.datetime, count: int, population: int) -> list[int]:
    users = [f"R{i:03d}" for i in range(count)]
    run = scores(store, [(u, dt.date(2026, 9, 7), 20.0, "low", []) for u in users])
    rows = store.scores.of_run(run)
    news = [
        NewSample(run, int(r["id"]), r["user_id"], r["window"], 20.0, "low", population)
        for r in rows.iter_rows(named=True)
    ]
    return store.reviews.add(news, at)


def test_miss_rate_estimated_missed_and_recall(store: Store) -> None:
    fill(store)
    ids = _samples(store, T0, 12, population=200)
    _samples(store, dt.datetime(2026, 9, 20, 15, 30, tzinfo=dt.UTC), 3, 900)  # Sep 21 Seoul
    for i, sample in enumerate(ids[:10]):
        verdict, reason = ("missed", "suspected_violation") if i == 0 else ("clean", "explained")
        decide_sample(store, sample, verdict, by=KIM, reason=reason, now=_h(1))
    m = quality(store, START, END).misses
    assert (m.drawn, m.pending, m.reviewed, m.missed, m.population) == (12, 2, 10, 1, 200)
    assert m.miss_rate == 0.1
    assert (m.miss_rate_low, m.miss_rate_high) == (
        pytest.approx(0.017876213095072896),
        pytest.approx(0.4041500267952385),
    )
    assert m.estimated_missed == pytest.approx(20.0)
    assert m.estimated_missed_low == pytest.approx(200 * 0.017876213095072896)
    assert m.estimated_missed_high == pytest.approx(200 * 0.4041500267952385)
    assert m.confirmed == 2
    assert m.recall == pytest.approx(2 / 22)
    assert m.recall_low == pytest.approx(2 / (2 + 200 * 0.4041500267952385))
    assert m.recall_high == pytest.approx(2 / (2 + 200 * 0.017876213095072896))


def test_no_miss_found_means_full_recall_with_an_interval() -> None:
    m = estimate([("clean", 50)] * 5, confirmed=4)
    assert (m.miss_rate, m.estimated_missed, m.recall, m.recall_high) == (0.0, 0.0, 1.0, 1.0)
    assert m.recall_low == pytest.approx(4 / (4 + 50 * 0.43448246478317476))


def test_recent_quality_reads_the_last_28_days(store: Store) -> None:
    fill(store)
    ids = _samples(store, T0, 4, population=40)
    decide_sample(store, ids[0], "missed", by=KIM, reason="confirmed", now=_h(1))
    decide_sample(store, ids[1], "clean", by=KIM, reason="explained", now=_h(1))
    now = dt.datetime(2026, 9, 20, 0, 0, tzinfo=dt.UTC)
    recent = recent_quality(store, now=now)
    assert recent.precision_by_scenario == {OFF: pytest.approx(2 / 3), USB: 0.0}
    assert recent.reviews_by_status == {"pending": 2, "missed": 1, "clean": 1}
    assert recent.miss_rate == 0.5
    far = recent_quality(store, now=now + dt.timedelta(days=60))
    assert far.precision_by_scenario == {} and far.miss_rate is None
    assert far.reviews_by_status == {"pending": 2, "missed": 1, "clean": 1}  # every sample


def test_last_weeks_ends_with_this_week() -> None:
    assert last_weeks(dt.date(2026, 9, 20), 1) == (dt.date(2026, 9, 14), dt.date(2026, 9, 20))
    assert last_weeks(dt.date(2026, 9, 14), 4) == (dt.date(2026, 8, 24), dt.date(2026, 9, 20))
