"""The dashboard end to end in real headless Chromium (Debian's package, driven by
Playwright): ``auditlens serve dashboard`` as a real process on a store filled from a
generated organisation, an API key per role.

An analyst logs in, filters the Overview by a department, opens the riskiest person of it
from the table, goes to an open alert of theirs, dismisses it (reason code, note), and
finds the decision — under their principal — in the person's decisions, in Korean and in
English. A viewer clicks a square of the department-by-severity heat map, follows the list
behind it to the alert queue filtered the same way, opens an alert and finds no triage
button; then the Model and data page.

Every step leaves a screenshot in the test's folder (``<tmp_path>/screenshots``); a failed
step fails with the path of its screenshot. With ``AUDITLENS_SCREENSHOTS=docs/screenshots``
the test also writes the README's pictures there: one per page, Korean, 1440x900.

Run it alone: ``pytest tests/dashboard/test_browser.py`` (about a minute).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, expect, sync_playwright

from auditlens.alerts.reasons import ReasonCode, label
from auditlens.config import Settings
from auditlens.dashboard.widgets import SEVERITIES, severity_word
from auditlens.store.repo import Store
from auditlens.views import (
    AlertFilters,
    AlertScope,
    Page,
    RiskFilters,
    alert_queue,
    alert_trend,
    kpis,
    top_risks,
)
from auditlens.views.scope import UNKNOWN_DEPARTMENT
from auditlens.vocabulary import Severity
from tests.dashboard.browser_support import (
    CHROMIUM,
    RUN_MS,
    Browser,
    Server,
    context_options,
    serve_dashboard,
)
from tests.dashboard.conftest import Deployment

pytestmark = pytest.mark.slow

#: Where the README's screenshots go when set (relative to the working directory). Read
#: at import: every test runs without AUDITLENS_* variables (tests/conftest.py).
README_SHOTS = os.environ.get("AUDITLENS_SCREENSHOTS")
#: Days the Overview shows at first (widgets.period_picker's default).
PERIOD_DAYS = 30
WORKED = ("open", "acknowledged", "escalated")  # states an alert can be dismissed from
NOTE = "브라우저 시험: 업무상 접근 확인 / browser test"


@dataclass(frozen=True)
class Plan:
    """What the analyst will click, worked out from the read model beforehand: the
    department whose riskiest user has an alert still to work on."""

    start: dt.date
    end: dt.date
    department: str
    user: str
    alert: int


def _period(settings: Settings) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(zoneinfo.ZoneInfo(settings.timezone)).date()
    return today - dt.timedelta(days=PERIOD_DAYS - 1), today


def _plan(settings: Settings) -> Plan:
    start, end = _period(settings)
    with Store.open(settings) as store:
        departments = kpis(store, start, end, zone=settings.timezone).by_department
        for department in sorted(d for d in departments if d != UNKNOWN_DEPARTMENT):
            scope = AlertScope(departments=(department,))
            top = top_risks(store, RiskFilters(start=start, end=end, scope=scope), Page(limit=1))
            if not top.items:
                continue
            user = top.items[0].user_id
            # the person page links the first ten of the person's alerts, in queue order
            linked = alert_queue(store, AlertFilters(user_id=user), Page(limit=10)).items
            workable = [a.id for a in linked if a.status in WORKED]
            if workable:
                return Plan(start, end, department, user, workable[0])
    raise AssertionError("no department's riskiest user has an alert to work on")


@pytest.fixture
def server(deployment: Deployment, tmp_path: Path) -> Iterator[Server]:
    """``auditlens serve dashboard`` on the deployment (its auditlens.toml in tmp_path)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with serve_dashboard(deployment.config.parent, dict(os.environ)) as running:
        yield running


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    expect.set_options(timeout=RUN_MS)  # a cold first run imports plotly and pandas
    with sync_playwright() as driver:
        yield driver


def _readme(name: str) -> Path | None:
    """Where the README picture ``name`` goes (None: not asked for)."""
    return None if not README_SHOTS else Path(README_SHOTS).resolve() / f"{name}.png"


def _log_in(tab: Browser, key: str) -> None:
    tab.page.goto(tab.server.url)
    tab.settle()
    tab.page.fill(f"{tab.key('login_credential')} input", key)
    tab.page.click(f"{tab.key('login_submit')} button")
    tab.settle()
    expect(tab.page.locator("h1")).to_have_text("현황")


def test_an_analyst_dismisses_an_alert_and_a_viewer_only_looks(
    deployment: Deployment, server: Server, playwright: Playwright, tmp_path: Path
) -> None:
    plan = _plan(deployment.settings)
    folder = tmp_path / "screenshots"
    folder.mkdir()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    try:
        analyst = Browser(chromium.new_context(**context_options()).new_page(), server, folder)
        _analyst(analyst, deployment, plan)
        viewer = Browser(
            chromium.new_context(**context_options()).new_page(), server, folder, analyst.steps
        )
        _viewer(viewer, deployment, plan)
    finally:
        chromium.close()
    assert len(list(folder.glob("*.png"))) >= 12


def _analyst(tab: Browser, deployment: Deployment, plan: Plan) -> None:
    page = tab.page
    with tab.step("login-form"):
        page.goto(tab.server.url)
        tab.settle()
        expect(page.locator(tab.key("login_credential"))).to_be_visible()
        expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # nothing else
    with tab.step("overview"):
        _log_in(tab, deployment.keys["analyst"])
        expect(page.locator('[data-testid="stMetric"]').first).to_be_visible()
    if (shot := _readme("overview")) is not None:
        tab.shoot(shot, '[data-testid="stHorizontalBlock"]:has(.st-key-overview_alert_trend)')
    with tab.step("overview-by-department"):
        department = plan.department
        tab.choose("overview_departments", plan.department, many=True)
        rows = tab.rows("overview_top_risks", lambda rs: {r["부서"] for r in rs} == {department})
        assert rows and {r["부서"] for r in rows} == {plan.department}, rows
        assert rows[0]["사용자"] == plan.user, (rows[0], plan)
    with tab.step("person-from-top-risks"):
        tab.pick_row("overview_top_risks", 0)
        expect(page).to_have_url(re.compile(rf"/person\?user={plan.user}$"))
        expect(page.locator("h1")).to_have_text("개인별 상세")
        expect(page.get_by_role("heading", name=plan.user, exact=True)).to_be_visible()
    if (shot := _readme("person")) is not None:
        tab.shoot(shot, tab.key("pp_purpose"))
    with tab.step("alert-of-the-person"):
        tab.link(f"알림 {plan.alert}")
        expect(page).to_have_url(re.compile(rf"/alerts\?alert={plan.alert}$"))
        expect(page.get_by_role("heading", name=f"알림 #{plan.alert}")).to_be_visible()
    with tab.step("dismissed"):
        tab.choose(f"aq_reason_{plan.alert}", label(ReasonCode.FALSE_POSITIVE, "ko"))
        tab.type_text(f"aq_note_{plan.alert}", NOTE)
        tab.press("aq_do_dismiss")
        said = f"알림 #{plan.alert}: key:dash-analyst의 오탐 기각 처리가 기록되었습니다"
        expect(page.locator('[data-testid="stAlertContentSuccess"]')).to_contain_text(said)
    _recorded(deployment.settings, plan)
    if (shot := _readme("alerts")) is not None:
        tab.shoot(shot)
    _decisions_in_both_languages(tab, plan)


def _recorded(settings: Settings, plan: Plan) -> None:
    """The dismissal is in the store and the trail, by the analyst's key."""
    with Store.open(settings) as store:
        assert store.alerts.get_alert(plan.alert).status == "dismissed"
        entry = store.audit.entries(target=f"alert:{plan.alert}")[-1]
    assert (entry.actor, entry.action, entry.reason_code, entry.note) == (
        "key:dash-analyst",
        "dismiss",
        "false_positive",
        NOTE,
    )


def _decisions_in_both_languages(tab: Browser, plan: Plan) -> None:
    page = tab.page
    with tab.step("person-decisions-ko"):
        tab.link(f"대상자 {plan.user}")
        expect(page.locator("h1")).to_have_text("개인별 상세")
        rows = tab.rows("pp_decisions_box", lambda rs: "알림" in (rs or [{}])[0])
        decided = [r for r in rows if r["알림"] == f"#{plan.alert}"]
        assert decided[0]["처리자"] == "key:dash-analyst", decided
        assert (decided[0]["처리"], decided[0]["사유"]) == ("오탐 기각", "오탐"), decided
        assert decided[0]["메모"] == NOTE
        page.locator(tab.key("pp_decisions_box")).scroll_into_view_if_needed()
    with tab.step("person-decisions-en"):
        page.locator(f"{tab.key('lang')} button", has_text="English").click()
        tab.settle()
        expect(page.locator("h1")).to_have_text("Person")
        rows = tab.rows("pp_decisions_box", lambda rs: "Alert" in (rs or [{}])[0])
        decided = [r for r in rows if r["Alert"] == f"#{plan.alert}"]
        assert decided[0]["Who"] == "key:dash-analyst", decided
        assert (decided[0]["Decision"], decided[0]["Reason"]) == ("dismissed", "false positive")


def _viewer(tab: Browser, deployment: Deployment, plan: Plan) -> None:
    page = tab.page
    department, severity, count = _busiest_cell(deployment.settings, plan)
    with tab.step("viewer-overview"):
        _log_in(tab, deployment.keys["viewer"])
        expect(page.get_by_text("key:dash-viewer")).to_be_visible()
    with tab.step("viewer-heatmap-click"):
        cells = _heatmap_cells(deployment.settings, plan)
        tab.click_mark("overview_heatmap", cells.index((department, severity)))
        expect(page.get_by_role("heading", name="선택한 항목의 목록")).to_be_visible()
        listed = tab.rows("overview_drill_alerts", lambda rs: "부서" in (rs or [{}])[0])
        assert {(r["부서"], r["심각도"]) for r in listed} == {
            (department, severity_word(severity, "ko"))
        }
    with tab.step("viewer-filtered-queue"):
        tab.link("이 목록을 알림 처리 화면에서 열기")
        expect(page.locator("h1")).to_have_text("알림 처리")
        expect(page.locator(tab.key("aq_department"))).to_contain_text(department)
        expect(page.locator(tab.key("aq_severity"))).to_contain_text(severity_word(severity, "ko"))
        metric = page.locator('[data-testid="stMetricValue"]').first
        expect(metric).to_have_text(f"{count:,}건")
    with tab.step("viewer-alert-without-triage"):
        tab.choose("aq_pick")
        expect(page.get_by_role("heading", name=re.compile(r"^알림 #\d+$"))).to_be_visible()
        expect(page.locator('[class*="st-key-aq_do_"]')).to_have_count(0)
        expect(page.locator('[class*="st-key-aq_reason_"]')).to_have_count(0)
    with tab.step("viewer-model-and-data"):
        tab.menu("모델과 데이터")
        expect(page.locator("h1")).to_have_text("모델과 데이터")
        expect(page.get_by_role("heading", name="감사 로그")).to_be_visible()
    if (shot := _readme("model")) is not None:
        tab.shoot(shot)


def _heatmap_cells(settings: Settings, plan: Plan) -> list[tuple[str, str]]:
    """The heat map's squares in drawing order: (department, severity)."""
    with Store.open(settings) as store:
        trend = alert_trend(store, plan.start, plan.end, zone=settings.timezone)
    return [(d, s) for d in trend.by_department_severity for s in SEVERITIES]


def _busiest_cell(settings: Settings, plan: Plan) -> tuple[str, str, int]:
    """The heat map's square with the most alerts, and how many the queue will list."""
    with Store.open(settings) as store:
        trend = alert_trend(store, plan.start, plan.end, zone=settings.timezone)
        counts = [
            (n, d, s)
            for d, by in trend.by_department_severity.items()
            for s, n in by.items()
            if d != UNKNOWN_DEPARTMENT
        ]
        _, department, severity = max(counts)
        scope = AlertScope(departments=(department,), severities=(Severity(severity),))
        filters = AlertFilters(start=plan.start, end=plan.end, scope=scope)
        total = alert_queue(store, filters, Page(limit=1), zone=settings.timezone).total
    return department, severity, total
