"""Links to a filtered alert queue: the queue reads ``status``, ``department``,
``severity``, ``scenario``, ``start`` and ``end`` from its query, and the Overview's list
behind a chart click links to exactly that queue — on a store filled from a generated
organisation, in both languages."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from auditlens.dashboard.charts import Drill
from auditlens.dashboard.pages.overview import DRILL_KEY
from auditlens.dashboard.queue_link import queue_query, read_link
from auditlens.store.alerts import ALERT_STATUSES, Alert, AlertRepository
from auditlens.store.repo import Store
from auditlens.views import AlertFilters, AlertScope, Page, alert_queue
from auditlens.vocabulary import Severity
from tests.dashboard.conftest import Deployment, OpenApp
from tests.dashboard.pages_support import table

ID_COLUMN = {"en": "Alert", "ko": "알림"}


def _alerts(deployment: Deployment) -> list[Alert]:
    with Store.open(deployment.settings) as store:
        return AlertRepository(store.engine).list_alerts(limit=10_000)


def _expected(deployment: Deployment, filters: AlertFilters) -> tuple[list[int], int]:
    """The first 50 ids of the queue for ``filters`` and how many there are in all."""
    settings = deployment.settings
    with Store.open(settings) as store:
        found = alert_queue(store, filters, Page(limit=50), zone=settings.timezone)
    return [a.id for a in found.items], found.total


def _shown(at: AppTest, lang: str) -> tuple[list[int], str]:
    """The ids the queue lists and its "Alerts" count as shown."""
    ids = [int(r[ID_COLUMN[lang]].lstrip("#")) for r in table(at, ID_COLUMN[lang])]
    return ids, at.metric[0].value


def _local_day(moment: dt.datetime, deployment: Deployment) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(deployment.settings.timezone)).date()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_link_sets_every_filter_and_the_queue_is_the_read_models(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    alerts = _alerts(deployment)
    department, _ = Counter(a.department for a in alerts).most_common(1)[0]
    assert department is not None
    day = _local_day(deployment.organisation.second_run_at, deployment)
    start, end = day - dt.timedelta(days=20), day
    statuses = ("open", "dismissed", "closed")
    every = AlertFilters(
        start=start, end=end, statuses=statuses, scope=AlertScope(departments=(department,))
    )
    with Store.open(deployment.settings) as store:
        listed = alert_queue(store, every, Page(limit=500)).items
    (most, _), (second, _) = Counter(a.severity.value for a in listed).most_common(2)
    severities = tuple(s for s in Severity if s.value in (most, second))  # least first
    scope = AlertScope(departments=(department,), severities=severities)
    query = queue_query(start, end, scope, statuses)
    at = open_app("analyst", lang, "alerts", query)
    assert not at.exception and not at.error and not at.warning
    assert at.multiselect(key="aq_status").value == list(statuses)
    assert at.multiselect(key="aq_department").value == [department]
    assert at.multiselect(key="aq_severity").value == [s.value for s in severities]
    assert at.checkbox(key="aq_use_period").value
    assert at.date_input(key="aq_period").value == (start, end)
    expected, total = _expected(
        deployment, AlertFilters(start=start, end=end, statuses=statuses, scope=scope)
    )
    assert expected, "the link names alerts that exist"
    ids, count = _shown(at, lang)
    assert ids == expected
    assert count == {"ko": f"{total:,}건", "en": f"{total:,}"}[lang]
    # the link set the filters once: what the reader changes afterwards stays
    at.multiselect(key="aq_severity").set_value([most]).run()
    narrower = AlertScope(departments=(department,), severities=(Severity(most),))
    filters = AlertFilters(start=start, end=end, statuses=statuses, scope=narrower)
    assert _shown(at, lang)[0] == _expected(deployment, filters)[0]
    assert at.multiselect(key="aq_severity").value == [most]


def test_a_scenario_link_and_values_that_name_nothing_are_said(
    open_app: OpenApp, deployment: Deployment
) -> None:
    # a scenario the queue's default statuses list (what is still being worked on)
    working = {"open", "acknowledged", "escalated", "close_requested"}
    scenario = next(a.scenario for a in _alerts(deployment) if a.status in working)
    at = open_app(
        "viewer",
        "ko",
        "alerts",
        {"scenario": scenario, "severity": "huge", "status": "lost", "start": "yesterday"},
    )
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "링크의 필터 중 알 수 없는 값은 제외했습니다: status=lost, severity=huge, start=yesterday."
    ]
    assert at.multiselect(key="aq_scenario").value == [scenario]
    assert at.multiselect(key="aq_severity").value == []  # the one value named nothing
    assert not at.checkbox(key="aq_use_period").value
    # no status given that names one: the queue's default, what is still being worked on
    assert at.multiselect(key="aq_status").value == [
        "open",
        "acknowledged",
        "escalated",
        "close_requested",
    ]
    filters = AlertFilters(statuses=tuple(at.multiselect(key="aq_status").value))
    filters = filters.model_copy(update={"scope": AlertScope(scenarios=(scenario,))})
    assert _shown(at, "ko")[0] == _expected(deployment, filters)[0]


def test_a_department_no_alert_has_lists_nothing_rather_than_everything(
    open_app: OpenApp,
) -> None:
    at = open_app("viewer", "en", "alerts", {"department": "no-such-team"})
    assert at.multiselect(key="aq_department").value == ["no-such-team"]
    assert [i.value for i in at.info] == ["No alert matches these filters."]


def test_one_end_of_the_period_alone() -> None:
    today = dt.date(2026, 9, 8)
    assert read_link({"start": ["2026-09-01"]}, today).period == (dt.date(2026, 9, 1), today)
    assert read_link({"end": ["2026-08-31"]}, today).period == (
        dt.date(2026, 8, 2),
        dt.date(2026, 8, 31),
    )
    assert read_link({"start": ["2026-09-20"]}, today).period == (  # a day still to come
        dt.date(2026, 9, 20),
        dt.date(2026, 9, 20),
    )
    assert read_link({}, today) == read_link({"status": [""]}, today)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_overviews_list_behind_a_click_links_to_that_queue(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    at = open_app("viewer", lang)
    at.session_state[DRILL_KEY] = Drill(
        "alerts", departments=("sales",), severities=("low", "medium")
    ).as_state()
    at.run()
    links = [e.proto for e in at.get("page_link") if e.proto.page == "alerts"]
    assert [link.label for link in links] == [
        {"ko": "이 목록을 알림 처리 화면에서 열기", "en": "Open this list in the alert queue"}[lang]
    ]
    query = parse_qs(links[0].query_string)
    assert query["department"] == ["sales"] and query["severity"] == ["low", "medium"]
    assert query["status"] == list(ALERT_STATUSES)
    drilled = [int(a) for a in at.dataframe(key="overview_drill_alerts").value.iloc[:, 0]]
    queue = open_app("viewer", lang, "alerts", query)
    ids, count = _shown(queue, lang)
    assert ids == drilled[:50] and len(drilled) > 0
    start, end = (dt.date.fromisoformat(query[name][0]) for name in ("start", "end"))
    scope = AlertScope(departments=("sales",), severities=(Severity.LOW, Severity.MEDIUM))
    _, total = _expected(deployment, AlertFilters(start=start, end=end, scope=scope))
    assert count == {"ko": f"{total:,}건", "en": f"{total:,}"}[lang]
