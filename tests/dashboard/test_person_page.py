"""The person page: deep link, risk timeline with models, flagged days and their reasons,
the unusual session as steps, contributions, own and peer comparison, decisions from the
trail, the audit entry of every look, pseudonyms and re-identification — on a store filled
from a generated organisation, in both languages."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from auditlens.config import Settings
from auditlens.dashboard import resources
from auditlens.identity import Acting, Principal
from auditlens.pipeline.replay import explain_user
from auditlens.privacy import Pseudonymiser, decide_reidentification
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.repo import Store
from auditlens.views import ScoredDay, day_sessions, flagged_start, scored_days, user_history
from auditlens.vocabulary import Severity
from tests.dashboard.conftest import Deployment, OpenApp, write_config
from tests.dashboard.pages_support import (
    chart_specs,
    pseudonymised,
    shown_texts,
    table,
    trail,
)

__all__ = ["pseudonymised"]  # the fixture, used by name

REAL_ID = re.compile(r"\bU\d{4}\b")


def _alerted(settings: Settings, status: str | None = None) -> Alert:
    """The first alert (of ``status``) — its person has scores, reasons and decisions."""
    with Store.open(settings) as store:
        found = AlertRepository(store.engine).list_alerts(limit=10_000)
    return sorted((a for a in found if status is None or a.status == status), key=lambda a: a.id)[0]


def _sequence_day(settings: Settings, saying: str = "") -> tuple[ScoredDay, int]:
    """A flagged day whose sequence reason (saying ``saying`` in Korean) names one of the
    day's sessions; that session's number."""
    with Store.open(settings) as store:
        users = sorted({a.user_id for a in AlertRepository(store.engine).list_alerts()})
        for user in users:
            for day in scored_days(store, user, min_severity=settings.alert_min_severity):
                start = flagged_start(day.reasons)
                if start is None or saying not in " ".join(r.text_ko for r in day.reasons):
                    continue
                sessions = day_sessions(
                    store,
                    user,
                    day.day,
                    gap_minutes=settings.session_gap_minutes,
                    zone=settings.timezone,
                    upto_batch=day.evidence.data_batch_id,
                    flagged=start,
                )
                marked = [s.number for s in sessions if s.flagged]
                if marked:
                    return day, marked[0]
    raise AssertionError("no sequence reason in the organisation")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_deep_link_opens_the_person_with_timeline_models_and_flagged_days(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    settings = deployment.settings
    user = _alerted(settings, "escalated").user_id
    at = open_app("viewer", lang, "person", {"user": user})
    assert not at.exception and not at.error and not at.warning
    assert at.title[0].value == {"ko": "개인별 상세", "en": "Person"}[lang]
    assert [s.value for s in at.subheader] == [user]
    with Store.open(settings) as store:
        today = dt.datetime.now(zoneinfo.ZoneInfo(settings.timezone)).date()
        days = user_history(store, user, today - dt.timedelta(days=89))
        flagged = scored_days(store, user, min_severity=settings.alert_min_severity)
    timeline = chart_specs(at)[0]
    assert timeline["layout"]["title"]["text"] == {"ko": "일별 위험도", "en": "Risk per day"}[lang]
    models = {d.model_sha256[:12] for d in days}
    word = {"ko": "모델", "en": "model"}[lang]
    assert {t["name"] for t in timeline["data"]} == {f"{word} {sha}" for sha in models}
    assert sum(len(t["y"]) for t in timeline["data"]) == len(days)
    for trace in timeline["data"]:  # each point's hover names its run and model
        assert {point[2] for point in trace["customdata"]} == {trace["name"].split()[-1]}
    rows = table(at, {"ko": "사유", "en": "Reasons"}[lang])
    assert [r[{"ko": "날짜", "en": "Day"}[lang]] for r in rows] == [
        d.day.isoformat() for d in reversed(flagged)
    ]
    texts = [r[{"ko": "사유", "en": "Reasons"}[lang]] for r in rows]
    assert any(reason.text_ko in " ".join(texts) for d in flagged for reason in d.reasons) == (
        lang == "ko"
    )
    riskiest = max(flagged, key=lambda d: (d.day_risk, d.risk, d.day))
    assert at.selectbox(key="pp_day").value == riskiest.day
    heading = next(m.value for m in at.markdown if m.value.startswith("####"))
    assert heading.startswith(f"#### {riskiest.day.isoformat()}")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_flagged_day_shows_its_unusual_session_contributions_and_comparisons(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    day, number = _sequence_day(deployment.settings)
    at = open_app("analyst", lang, "person", {"user": day.user_id})
    at.selectbox(key="pp_day").select(day.day).run()
    assert not at.exception and not at.error
    specs = {s["layout"]["title"]["text"]: s for s in chart_specs(at)}
    waterfall = specs[{"ko": "위험도를 높인 요인", "en": "What raised the risk"}[lang]]
    contributions = sorted((r.contribution or 0.0 for r in day.reasons), key=abs, reverse=True)
    assert waterfall["data"][0]["type"] == "waterfall"
    assert waterfall["data"][0]["x"][:-1] == pytest.approx(contributions)
    assert waterfall["data"][0]["measure"][-1] == "total"
    bars = specs[{"ko": "본인 평소·동료와 비교", "en": "Against own usual and peers"}[lang]]
    compared = [r for r in day.reasons if r.value is not None]
    assert [t["x"] for t in bars["data"]] == [
        ["당일", "본인 평균", "동료 평균"]
        if lang == "ko"
        else ["that day", "own average", "peer average"]
    ] * len(compared)
    assert [t["y"] for t in bars["data"]] == [
        [r.value, r.own_average, r.peer_average] for r in compared
    ]
    session = next(s for t, s in specs.items() if t.startswith(("Session", "세션")))
    with Store.open(deployment.settings) as store:
        sessions = day_sessions(
            store,
            day.user_id,
            day.day,
            gap_minutes=deployment.settings.session_gap_minutes,
            zone=deployment.settings.timezone,
            upto_batch=day.evidence.data_batch_id,
            flagged=flagged_start(day.reasons),
        )
    unusual = sessions[number - 1]
    words = [s.action_ko if lang == "ko" else s.action_en for s in unusual.steps]
    assert session["data"][0]["text"] == words
    assert session["layout"]["xaxis"]["title"]["text"].endswith("(KST)")
    marked = [e.label for e in at.expander if e.label.startswith("⚠")]
    assert len(marked) == 1 and str(number) in marked[0]
    reasons = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert reasons == [f"- {r.text_ko if lang == 'ko' else r.text_en}" for r in day.reasons]


def test_one_look_at_a_person_is_one_audit_entry_naming_viewer_person_and_purpose(
    open_app: OpenApp, deployment: Deployment
) -> None:
    settings = deployment.settings
    user = _alerted(settings).user_id
    before = trail(settings, actions=("view",), subject=user)
    at = open_app("viewer", "en", "person", {"user": user})
    after = trail(settings, actions=("view",), subject=user)
    assert len(after) == len(before) + 1
    entry = after[-1]
    assert (entry.actor, entry.subject, entry.target, entry.reason_code, entry.note) == (
        "key:dash-viewer",
        user,
        f"user:{user}",
        "history",
        "",
    )
    assert entry.criteria["pseudonymised"] is False
    other_day = at.selectbox(key="pp_day").options[-1]
    at.selectbox(key="pp_day").select(other_day).run()  # the same look
    at.run()
    assert len(trail(settings, actions=("view",), subject=user)) == len(before) + 1
    at.text_input(key="pp_purpose").input("HR case 2026-031").run()
    purposed = trail(settings, actions=("view",), subject=user)
    assert len(purposed) == len(before) + 2
    assert (purposed[-1].actor, purposed[-1].note) == ("key:dash-viewer", "HR case 2026-031")


def test_decisions_on_the_persons_alerts_come_from_the_trail(
    open_app: OpenApp, deployment: Deployment
) -> None:
    alert = _alerted(deployment.settings, "open")
    triage = open_app("analyst", "en", "alerts", {"alert": str(alert.id)})
    triage.selectbox(key=f"aq_reason_{alert.id}").select("false_positive").run()
    triage.text_area(key=f"aq_note_{alert.id}").input("known batch job").run()
    triage.button(key="aq_do_dismiss").click().run()
    at = open_app("viewer", "ko", "person", {"user": alert.user_id})
    decisions = table(at, "처리자")
    newest = decisions[0]
    assert (newest["알림"], newest["처리자"], newest["처리"], newest["사유"], newest["메모"]) == (
        f"#{alert.id}",
        "key:dash-analyst",
        "오탐 기각",
        "오탐",
        "known batch job",
    )
    mine = trail(
        deployment.settings,
        subject=alert.user_id,
        actions=(
            "acknowledge",
            "escalate",
            "dismiss",
            "close",
            "request_close",
            "approve",
            "reopen",
        ),
    )
    assert len(decisions) == len(mine)
    listed = table(at, "해당일")
    assert f"#{alert.id}" in [r["알림"] for r in listed]
    assert any(link.label == f"알림 {alert.id}" for link in at.get("page_link"))


def test_the_period_and_unknown_people_are_said(open_app: OpenApp, deployment: Deployment) -> None:
    user = _alerted(deployment.settings).user_id
    at = open_app("viewer", "en", "person", {"user": user})
    long_ago = dt.date(2020, 1, 1)
    at.date_input(key="pp_period").set_value((long_ago, long_ago + dt.timedelta(days=5))).run()
    assert [i.value for i in at.info] == ["No score in this period."]
    at.text_input(key="pp_user").input("U9999").run()
    assert [w.value for w in at.warning] == [
        "no stored score of user 'U9999' — check the user id, or run `auditlens run` first"
    ]
    empty = open_app("viewer", "ko", "person")
    assert not empty.warning and "사용자 ID(또는 가명)를 입력" in empty.info[0].value


def test_pseudonymised_readers_see_only_the_pseudonym(
    open_app: OpenApp, deployment: Deployment, pseudonymised: Pseudonymiser
) -> None:
    alert = _alerted(deployment.settings, "escalated")
    pseudonym = pseudonymised.user(alert.user_id)
    at = open_app("analyst", "en", "person", {"user": pseudonym})
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == [pseudonym]
    leaked = [t for t in shown_texts(at) if REAL_ID.search(t)]
    assert not leaked, leaked
    entry = trail(deployment.settings, actions=("view",))[-1]
    assert (entry.subject, entry.criteria["pseudonymised"]) == (alert.user_id, True)
    by_id = open_app("analyst", "en", "person", {"user": alert.user_id})
    assert [w.value for w in by_id.warning] == [f"No person {alert.user_id!r} is known."]
    approver = open_app("approver", "en", "person", {"user": alert.user_id})
    assert [s.value for s in approver.subheader] == [alert.user_id]
    assert not [b for b in approver.button if b.key == "pp_reid_ask"]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_analyst_asks_to_reidentify_and_sees_the_person_once_granted(
    open_app: OpenApp, deployment: Deployment, pseudonymised: Pseudonymiser, lang: str
) -> None:
    alert = _alerted(deployment.settings, "escalated")
    pseudonym = pseudonymised.user(alert.user_id)
    viewer = open_app("viewer", lang, "person", {"user": pseudonym})
    assert not [b for b in viewer.button if b.key == "pp_reid_ask"]
    at = open_app("analyst", lang, "person", {"user": pseudonym})
    at.selectbox(key="pp_reid_alert").select(alert.id).run()
    at.button(key="pp_reid_ask").click().run()
    assert [e.value for e in at.error] == [
        {
            "ko": "재식별 요청에는 사유가 필요합니다",
            "en": "a re-identification request needs a reason",
        }[lang]
    ]
    at.text_input(key="pp_reid_reason").input("case 2026-031").run()
    at.button(key="pp_reid_ask").click().run()
    assert f"#{alert.id}" in at.success[0].value
    with Store.open(deployment.settings) as store:
        asked = store.reidentifications.find(alert_id=alert.id)[0]
        approver = Acting(Principal("key:dash-approver", frozenset({"approver"})))
        decide_reidentification(store, approver, asked.id, True, "ok", now=dt.datetime.now(dt.UTC))
    at.run()
    assert not [t for t in shown_texts(at) if REAL_ID.search(t)]  # not before the reveal
    at.button(key=f"pp_reveal_{asked.id}").click().run()
    assert any(f"**{alert.user_id}**" in s.value for s in at.success)
    steps = [e.action for e in trail(deployment.settings, target=f"reidentification:{asked.id}")]
    assert steps == ["reidentify_request", "reidentify_grant", "reidentify_reveal"]


def test_replaying_a_day_shows_every_features_signed_contribution(
    open_app: OpenApp, deployment: Deployment
) -> None:
    day, _ = _sequence_day(deployment.settings)
    at = open_app("analyst", "ko", "person", {"user": day.user_id})
    at.selectbox(key="pp_day").select(day.day).run()
    at.button(key="pp_replay").click().run()
    assert not at.exception and not at.error
    replayed = explain_user(deployment.settings, day.user_id, day.day)
    spec = next(
        s for s in chart_specs(at) if s["layout"]["title"]["text"] == "재현한 특성별 기여도"
    )
    contributions = sorted((c.contribution for c in replayed.contributions), key=abs, reverse=True)
    assert spec["data"][0]["x"][:-1] == pytest.approx(contributions)
    assert spec["layout"]["xaxis"]["title"]["text"] in ("이례성 (비트)", "SHAP 값 (로그 오즈)")
    result = next(c.value for c in at.caption if c.value.startswith("재현 결과"))
    assert ("일치" if replayed.reproduced else "불일치") in result
    assert all(
        f"{word} {'✓' if ok else '✗'}" in result
        for word, ok in (
            ("위험도", replayed.checks["risk"]),
            ("심각도", replayed.checks["severity"]),
        )
    )
    entry = trail(deployment.settings, actions=("view",), subject=day.user_id)[-1]
    assert (entry.actor, entry.reason_code) == ("key:dash-analyst", "explanation")


def test_a_new_link_while_on_the_page_opens_that_person(
    open_app: OpenApp, deployment: Deployment
) -> None:
    first = _alerted(deployment.settings, "escalated").user_id
    second = _alerted(deployment.settings, "dismissed").user_id
    assert first != second
    at = open_app("viewer", "en", "person", {"user": first})
    assert [s.value for s in at.subheader] == [first]
    at.query_params["user"] = second
    at.run()
    assert [s.value for s in at.subheader] == [second]
    at.text_input(key="pp_user").input(first).run()  # typed: the page's link follows
    assert [s.value for s in at.subheader] == [first]
    assert at.query_params["user"] == first


@pytest.mark.parametrize("severity", ["low", "critical"])
def test_flagged_days_follow_alert_min_severity_down_to_low(
    open_app: OpenApp, deployment: Deployment, severity: str
) -> None:
    write_config(deployment.config, deployment.settings, alert_min_severity=f'"{severity}"')
    resources.forget()
    user = _alerted(deployment.settings, "escalated").user_id
    at = open_app("viewer", "en", "person", {"user": user})
    assert not at.exception and not at.error
    with Store.open(deployment.settings) as store:
        flagged = scored_days(store, user, min_severity=Severity(severity))
    # the generated organisation ends yesterday: whether this person has a day at the
    # bar depends on the date; with none the page shows no table of flagged days at all
    shown = [r["Day"] for r in table(at, "Reasons")] if flagged else []
    assert shown == [d.day.isoformat() for d in reversed(flagged)]
    if not flagged:
        assert not any("Reasons" in frame.value.columns for frame in at.dataframe)
    lines = [a["text"] for a in chart_specs(at)[0]["layout"].get("annotations", [])]
    assert ("alerts from 90" in lines) == (severity == "critical")
    assert not any(line.startswith("alerts from") for line in lines) == (severity == "low")


def _reason_steps(text: str) -> list[str]:
    """The steps a sequence reason names: '조회 x3 → 삭제 → …' -> ['조회'] * 3 + ['삭제']."""
    shown = re.split(r" \((?:started \d\d:\d\d|\d\d:\d\d 시작)", text.split(": ", 1)[1])[0]
    steps: list[str] = []
    for word in shown.split(" → "):
        if word == "…":
            break
        name, _, times = word.rpartition(" x")
        steps += [name] * int(times) if name and times.isdigit() else [word]
    return steps


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_with_the_resource_catalog_the_session_reads_as_the_sequence_reason(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    catalog = deployment.organisation.settings.resource_catalog
    write_config(deployment.config, deployment.settings, resource_catalog=f'"{catalog}"')
    resources.forget()
    day, _ = _sequence_day(deployment.settings, "(민감)")
    at = open_app("analyst", lang, "person", {"user": day.user_id})
    at.selectbox(key="pp_day").select(day.day).run()
    session = next(
        s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith(("Session", "세션"))
    )
    reason = next(r for r in day.reasons if r.feature == "seq_anomaly_score")
    named = _reason_steps(reason.text_ko if lang == "ko" else reason.text_en)
    assert session["data"][0]["text"][: len(named)] == named
    assert any(("(민감)" if lang == "ko" else "(sensitive)") in w for w in named)
