"""Approvers grant or deny re-identification requests on the alert-queue page: as the
session's principal, four eyes (whoever asked cannot decide, told in the reader's
language), one audit entry per decision — on a pseudonymised deployment filled from a
generated organisation."""

from __future__ import annotations

import datetime as dt

import pytest

from auditlens.identity import Acting, Principal
from auditlens.privacy import Pseudonymiser, request_reidentification, reveal
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.reidentifications import Reidentification
from auditlens.store.repo import Store
from tests.dashboard.conftest import Deployment, OpenApp
from tests.dashboard.pages_support import open_as, pseudonymised, table, trail

__all__ = ["pseudonymised"]  # the fixture, used by name

WAITING = {"ko": "결정을 기다리는 재식별 요청", "en": "Re-identification requests waiting"}
ANALYST = Acting(Principal("key:dash-analyst", frozenset({"analyst"})))
LEE = Acting(Principal("lee", frozenset({"analyst", "approver"})))


def _alerts(deployment: Deployment, count: int) -> list[Alert]:
    with Store.open(deployment.settings) as store:
        found = AlertRepository(store.engine).list_alerts(limit=10_000)
    return sorted(found, key=lambda a: a.id)[:count]


def _ask(deployment: Deployment, who: Acting, alert: Alert, reason: str) -> Reidentification:
    with Store.open(deployment.settings) as store:
        return request_reidentification(store, who, alert.id, reason, now=dt.datetime.now(dt.UTC))


def _request(deployment: Deployment, request_id: int) -> Reidentification:
    with Store.open(deployment.settings) as store:
        found = store.reidentifications.get(request_id)
    assert found is not None
    return found


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_approver_grants_a_waiting_request_and_the_analyst_may_reveal(
    open_app: OpenApp, deployment: Deployment, pseudonymised: Pseudonymiser, lang: str
) -> None:
    (alert,) = _alerts(deployment, 1)
    asked = _ask(deployment, ANALYST, alert, "HR case 2026-031")
    at = open_app("approver", lang, "alerts")
    assert [e.label for e in at.expander if e.label.startswith(WAITING[lang])] == [
        {"ko": f"{WAITING['ko']} (1건)", "en": f"{WAITING['en']} for a decision (1)"}[lang]
    ]
    (row,) = table(at, {"ko": "요청자", "en": "Asked by"}[lang])
    assert row[{"ko": "사유", "en": "Reason"}[lang]] == "HR case 2026-031"
    assert row[{"ko": "알림", "en": "Alert"}[lang]] == f"#{alert.id}"
    assert row[{"ko": "결정 가능", "en": "You may decide"}[lang]] == {"ko": "예", "en": "yes"}[lang]
    at.text_input(key="aq_reid_note").input("case confirmed by HR").run()
    at.button(key="aq_reid_grant").click().run()
    assert not at.exception and not at.error
    decided = _request(deployment, asked.id)
    assert (decided.status, decided.decided_by, decided.decision_note) == (
        "granted",
        "key:dash-approver",
        "case confirmed by HR",
    )
    assert decided.expires_at is not None
    said = at.success[0].value
    assert f"#{asked.id}" in said and "key:dash-approver" in said
    assert ("승인했습니다" in said) if lang == "ko" else ("granted by key:dash-approver" in said)
    entry = trail(deployment.settings, target=f"reidentification:{asked.id}")[-1]
    assert (entry.actor, entry.action, entry.subject) == (
        "key:dash-approver",
        "reidentify_grant",
        alert.user_id,
    )
    assert not [e for e in at.expander if e.label.startswith(WAITING[lang]) and "(1" in e.label]
    with Store.open(deployment.settings) as store:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        assert reveal(store, ANALYST, alert.id, later) == alert.user_id


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("ko", "재식별 요청 #{id}에 관여한 사람은 승인하거나 거부할 수 없습니다 (이중 승인)"),
        ("en", "lee took part in re-identification request #{id} (requested by lee) and "
               "cannot also decide it"),
    ],
)  # fmt: skip
def test_four_eyes_whoever_asked_cannot_decide_and_another_approver_denies(
    deployment: Deployment, pseudonymised: Pseudonymiser, lang: str, said: str
) -> None:
    (alert,) = _alerts(deployment, 1)
    asked = _ask(deployment, LEE, alert, "case 7")
    before = len(trail(deployment.settings))
    lee = open_as("lee", {"analyst", "approver"}, lang, "alerts")
    (row,) = table(lee, {"ko": "요청자", "en": "Asked by"}[lang])
    assert (
        row[{"ko": "결정 가능", "en": "You may decide"}[lang]]
        == {
            "ko": "아니오 (본인 요청)",
            "en": "no (yours)",
        }[lang]
    )
    lee.button(key="aq_reid_grant").click().run()
    assert [e.value for e in lee.error] == [said.format(id=asked.id)]
    assert _request(deployment, asked.id).status == "requested"
    assert len(trail(deployment.settings)) == before  # nothing written
    other = open_as("park", {"approver"}, lang, "alerts")
    other.text_input(key="aq_reid_note").input("no case number").run()
    other.button(key="aq_reid_deny").click().run()
    assert not other.error
    decided = _request(deployment, asked.id)
    assert (decided.status, decided.decided_by, decided.expires_at) == ("denied", "park", None)
    assert ("거부했습니다" in other.success[0].value) == (lang == "ko")
    steps = [
        (e.actor, e.action)
        for e in trail(deployment.settings, target=f"reidentification:{asked.id}")
    ]
    assert steps == [("lee", "reidentify_request"), ("park", "reidentify_deny")]


def test_only_approvers_see_the_requests_and_an_empty_list_is_said(
    open_app: OpenApp, deployment: Deployment, pseudonymised: Pseudonymiser
) -> None:
    first, second = _alerts(deployment, 2)
    empty = open_app("approver", "en", "alerts")
    (shown,) = [e for e in empty.expander if e.label.startswith(WAITING["en"])]
    assert shown.label.endswith("(0)")
    assert "No request is waiting." in [c.value for c in empty.caption]
    one = _ask(deployment, ANALYST, first, "case 1")
    two = _ask(deployment, ANALYST, second, "case 2")
    for role in ("viewer", "analyst"):
        at = open_app(role, "en", "alerts")
        assert not [e for e in at.expander if e.label.startswith(WAITING["en"])]
        assert not [b for b in at.button if b.key in ("aq_reid_grant", "aq_reid_deny")]
    at = open_app("approver", "en", "alerts")
    rows = table(at, "Asked by")
    assert [r["Alert"] for r in rows] == [f"#{first.id}", f"#{second.id}"]  # oldest first
    at.selectbox(key="aq_reid_pick").select(two.id).run()
    at.button(key="aq_reid_deny").click().run()
    assert (_request(deployment, one.id).status, _request(deployment, two.id).status) == (
        "requested",
        "denied",
    )
    assert [r["Alert"] for r in table(at, "Asked by")] == [f"#{first.id}"]
