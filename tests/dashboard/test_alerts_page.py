"""The alert-queue page: filters, SLA, one alert, triage by role, four eyes, pseudonyms,
deep links and the audit entry of a look — on a store filled from a generated
organisation (tests/organisation.py), in both languages."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from auditlens.api.auth import Caller
from auditlens.api.routes.common import Context, PseudonymIndex
from auditlens.config import Settings
from auditlens.dashboard.triage import apply_decision, sla_of
from auditlens.identity import Principal
from auditlens.privacy import Pseudonymiser
from auditlens.store.alerts import ACTIVE_STATUSES, Alert, AlertRepository
from auditlens.store.repo import Store
from auditlens.views import AlertFilters, AlertScope, Page, alert_queue
from auditlens.vocabulary import Severity
from tests.dashboard.conftest import Deployment, OpenApp
from tests.dashboard.pages_support import open_as, pseudonymised, shown_texts, table, trail

__all__ = ["pseudonymised"]  # the fixture, used by name

ID_COLUMN = {"en": "Alert", "ko": "알림"}
PSEUDONYM = re.compile(r"P-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
REAL_ID = re.compile(r"\bU\d{4}\b")


def _alerts(settings: Settings) -> list[Alert]:
    with Store.open(settings) as store:
        return AlertRepository(store.engine).list_alerts(limit=10_000)


def _one(settings: Settings, status: str, severity: str | None = None) -> Alert:
    found = [a for a in _alerts(settings) if a.status == status]
    found = [a for a in found if severity is None or a.severity == severity] or found
    return sorted(found, key=lambda a: a.id)[0]


def _ids(at: AppTest, lang: str = "en") -> list[int]:
    return [int(row[ID_COLUMN[lang]].lstrip("#")) for row in table(at, ID_COLUMN[lang])]


def _status(settings: Settings, alert_id: int) -> str:
    with Store.open(settings) as store:
        return AlertRepository(store.engine).get_alert(alert_id).status


def _expected(settings: Settings, filters: AlertFilters) -> list[int]:
    with Store.open(settings) as store:
        found = alert_queue(store, filters, Page(limit=500), zone=settings.timezone)
    return [a.id for a in found.items]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_queue_lists_open_alerts_by_severity_with_their_sla(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    at = open_app("viewer", lang, "alerts")
    assert not at.exception and not at.error
    assert at.title[0].value == {"ko": "알림 처리", "en": "Alert queue"}[lang]
    expected = _expected(deployment.settings, AlertFilters(statuses=ACTIVE_STATUSES))
    assert _ids(at, lang) == expected[:50]
    now = dt.datetime.now(dt.UTC)
    late = [
        a.id
        for a in _alerts(deployment.settings)
        if a.id in expected
        and sla_of(
            a.severity,
            a.status,
            a.created_at,
            a.updated_at,
            deployment.settings.alert_sla_hours,
            now,
        ).breached
    ]
    assert late, "the organisation's first-run alerts are two weeks old"
    counts = {m.label: m.value for m in at.metric}
    if lang == "ko":
        assert counts == {"알림": f"{len(expected)}건", "처리 기한 초과": f"{len(late)}건"}
    else:
        assert counts == {"Alerts": str(len(expected)), "Past their SLA": str(len(late))}
    rows = table(at, ID_COLUMN[lang])
    sla_column = {"ko": "처리 기한", "en": "SLA"}[lang]
    marked = [int(r[ID_COLUMN[lang]].lstrip("#")) for r in rows if r[sla_column].startswith("⚠")]
    assert marked == [i for i in _ids(at, lang) if i in late]
    opened = {"ko": "생성 시각", "en": "Opened"}[lang]
    assert all(r[opened].endswith(" KST") for r in rows)
    severities = [r[{"ko": "심각도", "en": "Severity"}[lang]] for r in rows]
    assert severities[0] == {"ko": "심각", "en": "critical"}[lang]


def test_only_past_sla_lists_the_late_alerts_and_the_limit_comes_from_settings(
    open_app: OpenApp, deployment: Deployment
) -> None:
    at = open_app("analyst", "en", "alerts")
    at.checkbox(key="aq_late").check().run()
    rows = table(at, "Alert")
    assert rows and all(r["SLA"].startswith("⚠ past by") for r in rows)
    assert {m.label: m.value for m in at.metric}["Alerts"] == str(len(rows))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_filter_narrows_the_queue_as_the_read_model_does(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    settings = deployment.settings
    at = open_app("analyst", lang, "alerts")
    at.multiselect(key="aq_status").set_value(["closed", "dismissed"]).run()
    assert _ids(at, lang) == _expected(settings, AlertFilters(statuses=("closed", "dismissed")))
    at.multiselect(key="aq_status").set_value([]).run()  # every status
    assert _ids(at, lang) == _expected(settings, AlertFilters())[:50]
    at.multiselect(key="aq_severity").set_value(["high", "critical"]).run()
    above = AlertFilters(min_severity=Severity.HIGH)
    assert _ids(at, lang) == _expected(settings, above)
    at.multiselect(key="aq_severity").set_value(["medium"]).run()
    medium = AlertFilters(scope=AlertScope(severities=(Severity.MEDIUM,)))
    assert _ids(at, lang) == _expected(settings, medium)[:50]
    at.multiselect(key="aq_severity").set_value([]).run()
    department = at.multiselect(key="aq_department").options[1]
    at.multiselect(key="aq_department").set_value([department]).run()
    assert _ids(at, lang) == _expected(settings, AlertFilters(department=department))
    at.multiselect(key="aq_department").set_value([]).run()
    scenario = _alerts(settings)[0].scenario
    at.multiselect(key="aq_scenario").set_value([scenario]).run()
    assert _ids(at, lang) == _expected(settings, AlertFilters(scenario=scenario))
    at.multiselect(key="aq_scenario").set_value([]).run()
    user = _alerts(settings)[0].user_id
    at.text_input(key="aq_user").input(user).run()
    assert _ids(at, lang) == _expected(settings, AlertFilters(user_id=user))
    at.text_input(key="aq_user").input("").run()
    first = deployment.organisation.second_run_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    at.checkbox(key="aq_use_period").check().run()
    at.date_input(key="aq_period").set_value((first.date(), first.date())).run()
    period = AlertFilters(start=first.date(), end=first.date())
    assert _ids(at, lang) == _expected(settings, period)[:50]
    assert not at.exception and not at.error


def test_a_long_queue_pages(open_app: OpenApp, deployment: Deployment) -> None:
    at = open_app("viewer", "en", "alerts")
    at.multiselect(key="aq_status").set_value([]).run()
    every = _expected(deployment.settings, AlertFilters())
    assert len(every) > 50
    assert _ids(at) == every[:50]
    at.number_input(key="aq_page").set_value(2).run()
    assert _ids(at) == every[50:100]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_alert_link_opens_the_alert_with_evidence_and_decisions(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    alert = _one(deployment.settings, "escalated")
    link = urlsplit(deployment.settings.alert_link_template.format(alert_id=alert.id))
    assert link.path == "/alerts"
    at = open_app("viewer", lang, "alerts", {k: v[0] for k, v in parse_qs(link.query).items()})
    assert [s.value for s in at.subheader] == [
        {"ko": f"알림 #{alert.id}", "en": f"Alert #{alert.id}"}[lang]
    ]
    decisions = table(at, {"ko": "처리자", "en": "Who"}[lang])
    assert [r[{"ko": "처리", "en": "Decision"}[lang]] for r in decisions] == [
        {"ko": "상향 보고", "en": "escalated"}[lang]
    ]
    assert (
        decisions[0][{"ko": "사유", "en": "Reason"}[lang]]
        == {"ko": "위반 의심", "en": "suspected violation"}[lang]
    )
    assert table(at, {"ko": "종류", "en": "Kind"}[lang])  # the evidence
    assert [b.key for b in at.button] == ["logout"]  # a viewer sees no triage button
    assert at.query_params["alert"] == str(alert.id)


def test_a_missing_alert_is_said_and_the_queue_still_shows(open_app: OpenApp) -> None:
    at = open_app("analyst", "ko", "alerts", {"alert": "999999"})
    assert [w.value for w in at.warning] == ["알림 #999999이(가) 없습니다"]
    assert table(at, "알림")


def test_looking_at_an_alert_is_one_audit_entry_per_look(
    open_app: OpenApp, deployment: Deployment
) -> None:
    alert = _one(deployment.settings, "open")
    before = len(trail(deployment.settings, actions=("view",)))
    at = open_app("analyst", "en", "alerts", {"alert": str(alert.id)})
    at.checkbox(key="aq_late").check().run()  # clicks on the page are the same look
    views = trail(deployment.settings, actions=("view",))
    assert len(views) == before + 1
    assert (views[-1].actor, views[-1].subject, views[-1].reason_code) == (
        "key:dash-analyst",
        alert.user_id,
        "alert",
    )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_analyst_acknowledges_through_triage_and_the_trail_names_them(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    alert = _one(deployment.settings, "open", "low")
    at = open_app("analyst", lang, "alerts", {"alert": str(alert.id)})
    assert [b.key for b in at.button if b.key != "logout"] == [
        "aq_do_acknowledge",
        "aq_do_escalate",
        "aq_do_dismiss",
        "aq_do_close",
    ]
    at.selectbox(key=f"aq_reason_{alert.id}").select("reviewing").run()
    at.text_area(key=f"aq_note_{alert.id}").input("looking into it").run()
    at.button(key="aq_do_acknowledge").click().run()
    assert not at.exception and not at.error
    entry = trail(deployment.settings, target=f"alert:{alert.id}")[-1]
    assert (entry.actor, entry.action, entry.reason_code, entry.note) == (
        "key:dash-analyst",
        "acknowledge",
        "reviewing",
        "looking into it",
    )
    assert _status(deployment.settings, alert.id) == "acknowledged"
    said = {
        "ko": f"알림 #{alert.id}: key:dash-analyst의 확인 처리가 기록되었습니다 "
        f"(감사 기록 #{entry.seq}). 현재 상태: 확인.",
        "en": f"Alert #{alert.id}: acknowledged by key:dash-analyst (audit entry "
        f"#{entry.seq}); now acknowledged.",
    }[lang]
    assert [s.value for s in at.success] == [said]
    who = table(at, {"ko": "처리자", "en": "Who"}[lang])[-1]
    assert who[{"ko": "처리자", "en": "Who"}[lang]] == "key:dash-analyst"


def test_dismissing_suppresses_the_scenario_for_the_days_given(
    open_app: OpenApp, deployment: Deployment
) -> None:
    alert = _one(deployment.settings, "acknowledged", "low")
    at = open_app("analyst", "en", "alerts", {"alert": str(alert.id)})
    at.selectbox(key=f"aq_reason_{alert.id}").select("false_positive").run()
    at.number_input(key=f"aq_suppress_{alert.id}").set_value(3.0).run()
    at.button(key="aq_do_dismiss").click().run()
    assert _status(deployment.settings, alert.id) == "dismissed"
    assert "suppressed for this person until" in at.success[0].value
    with Store.open(deployment.settings) as store:
        found = store.alerts.feedback.active_suppression(
            alert.user_id, alert.scenario, dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        )
    assert found is not None
    at.selectbox(key=f"aq_reason_{alert.id}").select("mistake").run()
    assert [b.key for b in at.button if b.key != "logout"] == ["aq_do_reopen"]
    at.button(key="aq_do_reopen").click().run()
    assert _status(deployment.settings, alert.id) == "open"


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("ko", "상향 보고 조치에는 사유 코드가 필요합니다"),
        ("en", "escalate needs a reason code"),
    ],
)
def test_a_refused_decision_is_said_in_the_readers_language_and_changes_nothing(
    open_app: OpenApp, deployment: Deployment, lang: str, said: str
) -> None:
    alert = _one(deployment.settings, "open", "low")
    before = len(trail(deployment.settings))
    at = open_app("analyst", lang, "alerts", {"alert": str(alert.id)})
    at.button(key="aq_do_escalate").click().run()
    assert [e.value for e in at.error] == [said]
    assert _status(deployment.settings, alert.id) == "open"
    assert len(trail(deployment.settings)) == before + 1  # the look, no decision


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "ko",
            "key:dash-approver 사용자는 analyst 역할이 없어 이 작업을 할 수 없습니다: 확인 "
            "(보유 역할: approver)",
        ),
        ("en", "key:dash-approver may not acknowledge: needs the analyst role (has: approver)"),
    ],
)
def test_a_role_without_the_right_gets_the_lifecycles_refusal(
    open_app: OpenApp, deployment: Deployment, lang: str, said: str
) -> None:
    alert = _one(deployment.settings, "open", "low")
    at = open_app("approver", lang, "alerts", {"alert": str(alert.id)})
    at.button(key="aq_do_acknowledge").click().run()
    assert [e.value for e in at.error] == [said]
    assert _status(deployment.settings, alert.id) == "open"


def test_four_eyes_a_critical_close_waits_for_a_different_approver(
    open_app: OpenApp, deployment: Deployment
) -> None:
    alert = _one(deployment.settings, "open", "critical")
    assert alert.severity == "critical"
    at = open_app("analyst", "en", "alerts", {"alert": str(alert.id)})
    assert "Four eyes: closing a critical alert" in " ".join(c.value for c in at.caption)
    at.selectbox(key=f"aq_reason_{alert.id}").select("confirmed").run()
    at.button(key="aq_do_close").click().run()
    assert _status(deployment.settings, alert.id) == "close_requested"
    assert "must approve it (four eyes)" in at.success[0].value
    assert "Closing requested by **key:dash-analyst**" in at.info[0].value
    # who asked to close may not approve it; another analyst lacks the approver role
    assert [b.key for b in at.button if b.key != "logout"] == ["aq_do_approve", "aq_do_reopen"]
    assert at.button(key="aq_do_approve").disabled
    kim = open_as("kim", {"analyst"}, "en", "alerts", {"alert": str(alert.id)})
    kim.button(key="aq_do_approve").click().run()
    assert [e.value for e in kim.error] == [
        "kim may not approve: needs the approver role (has: analyst)"
    ]
    other = open_app("approver", "ko", "alerts", {"alert": str(alert.id)})
    assert "**key:dash-analyst**이(가) 종결을 요청했습니다" in other.info[0].value
    other.button(key="aq_do_approve").click().run()
    assert _status(deployment.settings, alert.id) == "closed"
    decided = [(e.actor, e.action) for e in trail(deployment.settings, target=f"alert:{alert.id}")]
    assert decided[-2:] == [("key:dash-analyst", "request_close"), ("key:dash-approver", "approve")]
    shown = table(other, "처리자")
    assert [r["처리"] for r in shown][-2:] == ["종결 요청", "종결 승인"]


def test_an_approver_cannot_approve_the_close_they_asked_for(deployment: Deployment) -> None:
    alert = _one(deployment.settings, "open", "critical")
    at = open_as("choi", {"analyst", "approver"}, "ko", "alerts", {"alert": str(alert.id)})
    at.selectbox(key=f"aq_reason_{alert.id}").select("confirmed").run()
    at.button(key="aq_do_close").click().run()
    assert _status(deployment.settings, alert.id) == "close_requested"
    assert at.button(key="aq_do_approve").disabled
    assert "종결을 요청한 본인이므로 승인할 수 없습니다" in " ".join(c.value for c in at.caption)
    with Store.open(deployment.settings) as store:  # even if the button were pressed
        ctx = Context(
            store=store,
            caller=Caller(Principal("choi", frozenset({"analyst", "approver"})), "oidc"),
            lang="ko",
            pseudonymiser=None,
            now=dt.datetime.now(dt.UTC),
            settings=deployment.settings,
            pseudonyms=PseudonymIndex(None),
        )
        refused = apply_decision(ctx, alert.id, "approve", reason="", note="")
    assert refused.decision is None
    assert refused.refusal == (
        f"choi은(는) 경보 #{alert.id}의 종결 요청에 참여했으므로 (요청자 choi) 승인할 수 없습니다"
    )
    assert _status(deployment.settings, alert.id) == "close_requested"
    other = open_as("lee", {"approver"}, "en", "alerts", {"alert": str(alert.id)})
    assert not other.button(key="aq_do_approve").disabled
    other.button(key="aq_do_approve").click().run()
    assert _status(deployment.settings, alert.id) == "closed"


def test_pseudonymised_analysts_see_pseudonyms_everywhere_approvers_see_ids(
    open_app: OpenApp, deployment: Deployment, pseudonymised: Pseudonymiser
) -> None:
    alert = _one(deployment.settings, "escalated")
    at = open_app("analyst", "en", "alerts", {"alert": str(alert.id)})
    texts = shown_texts(at)
    assert not [t for t in texts if REAL_ID.search(t)], "a user id shown to a pseudonymised reader"
    people = [r["Person"] for r in table(at, "Alert")]
    assert people and all(PSEUDONYM.fullmatch(p) for p in people)
    assert pseudonymised.user(alert.user_id) in " ".join(texts)
    at.text_input(key="aq_user").input(pseudonymised.user(alert.user_id)).run()
    assert _ids(at) == _expected(
        deployment.settings, AlertFilters(user_id=alert.user_id, statuses=ACTIVE_STATUSES)
    )
    at.text_input(key="aq_user").input(alert.user_id).run()  # a real id finds nobody
    assert [i.value for i in at.info] == ["No alert matches these filters."]
    view = trail(deployment.settings, actions=("view",))[-1]
    assert view.criteria["pseudonymised"] is True
    approver = open_app("approver", "en", "alerts", {"alert": str(alert.id)})
    assert alert.user_id in [r["Person"] for r in table(approver, "Alert")]


def test_picking_an_alert_makes_the_link_and_a_new_link_opens_its_alert(
    open_app: OpenApp, deployment: Deployment
) -> None:
    at = open_app("viewer", "en", "alerts")
    assert not at.subheader  # nothing picked, nothing linked
    first = _ids(at)[1]
    at.selectbox(key="aq_pick").select(first).run()
    assert [s.value for s in at.subheader] == [f"Alert #{first}"]
    assert at.query_params["alert"] == str(first)
    closed = _one(deployment.settings, "closed").id
    at.query_params["alert"] = str(closed)
    at.run()
    assert [s.value for s in at.subheader] == [f"Alert #{closed}"]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_escalating_then_closing_an_alert_without_four_eyes(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    alert = _one(deployment.settings, "open", "low")
    at = open_app("analyst", lang, "alerts", {"alert": str(alert.id)})
    at.selectbox(key=f"aq_reason_{alert.id}").select("suspected_violation").run()
    at.button(key="aq_do_escalate").click().run()
    assert _status(deployment.settings, alert.id) == "escalated"
    at.selectbox(key=f"aq_reason_{alert.id}").select("remediated").run()
    at.button(key="aq_do_close").click().run()
    assert _status(deployment.settings, alert.id) == "closed"  # low: no second person
    said = at.success[0].value
    assert ("종결" in said) if lang == "ko" else ("closed by key:dash-analyst" in said)
    assert "four eyes" not in said and "이중 승인" not in said
    decided = [
        (e.action, e.reason_code)
        for e in trail(deployment.settings, target=f"alert:{alert.id}", actor="key:dash-analyst")
    ]
    assert decided[-2:] == [("escalate", "suspected_violation"), ("close", "remediated")]
    assert [b.key for b in at.button if b.key != "logout"] == ["aq_do_reopen"]
