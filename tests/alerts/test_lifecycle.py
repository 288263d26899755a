"""The alert lifecycle table and the pure plan steps of triage and intake."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from auditlens.alerts import intake, lifecycle, triage
from auditlens.alerts.lifecycle import ACTIONS, NEW_ALERT, TRANSITIONS, Action
from auditlens.alerts.triage import TriageError, TriagePolicy
from auditlens.identity import Directory
from auditlens.store.alerts import ALERT_STATUSES, Alert
from auditlens.store.feedback import Suppression
from tests.alerts.conftest import CRITERIA, T0, detection

#: The whole lifecycle, written out: (status, action) -> (new status, role needed).
#: A pair missing here must be refused; a move dropped from the table fails this test.
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("open", "acknowledge"): ("acknowledged", "analyst"),
    ("open", "escalate"): ("escalated", "analyst"),
    ("acknowledged", "escalate"): ("escalated", "analyst"),
    ("open", "dismiss"): ("dismissed", "analyst"),
    ("acknowledged", "dismiss"): ("dismissed", "analyst"),
    ("escalated", "dismiss"): ("dismissed", "analyst"),
    ("open", "close"): ("closed", "analyst"),
    ("acknowledged", "close"): ("closed", "analyst"),
    ("escalated", "close"): ("closed", "analyst"),
    ("close_requested", "approve"): ("closed", "approver"),
    ("closed", "reopen"): ("open", "analyst"),
    ("dismissed", "reopen"): ("open", "analyst"),
    ("close_requested", "reopen"): ("open", "analyst"),
}
PEOPLE = Directory({"kim": ["analyst", "approver"], "lee": ["analyst", "approver"]})
NO_FOUR_EYES = TriagePolicy(four_eyes=frozenset())


def _alert(status: str, severity: str = "high", requested_by: str | None = None) -> Alert:
    return Alert(
        id=7,
        dedup_key="U0042",
        user_id="U0042",
        department="retail",
        window=dt.date(2026, 9, 7),
        score_id=1,
        run_id=1,
        risk=80.0,
        severity=severity,
        scenario="off_hours_login_ratio",
        reasons=[],
        model_sha256="a" * 64,
        status=status,
        close_requested_by=requested_by,
        created_at=T0,
        updated_at=T0,
        windows=(dt.date(2026, 9, 7),),
    )


def _plan(alert: Alert, action: Action, by: str = "lee", **kw: object) -> triage.DecisionPlan:
    options: dict[str, object] = {"policy": NO_FOUR_EYES, "suppress_days": None}
    options.update(kw)
    return triage.plan(
        alert,
        action,
        by=PEOPLE.acting(by),
        code="explained",
        note="",
        now=T0,
        **options,  # type: ignore[arg-type]
    )


def test_the_table_is_exactly_the_lifecycle() -> None:
    assert {key: (t.to, t.role) for key, t in TRANSITIONS.items()} == EXPECTED
    assert {t.status for t in TRANSITIONS.values()} <= set(ALERT_STATUSES)
    assert {t.action for t in TRANSITIONS.values()} == set(ACTIONS)
    for action in ACTIONS:
        assert lifecycle.role_for(action) == next(
            role for (_, a), (_, role) in EXPECTED.items() if a == action
        )
    assert [a for a in ACTIONS if lifecycle.needs_reason(a)] == [
        "escalate",
        "dismiss",
        "close",
        "reopen",
    ]
    assert lifecycle.allowed_from("reopen") == ["close_requested", "closed", "dismissed"]


@pytest.mark.parametrize("status", ALERT_STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_status_and_action_is_planned_or_clearly_refused(status: str, action: Action) -> None:
    alert = _alert(status, requested_by="kim" if status == "close_requested" else None)
    if (status, action) not in EXPECTED:
        with pytest.raises(TriageError, match=f"alert #7 is {status}: cannot {action} it") as err:
            _plan(alert, action)
        assert err.value.hint  # says what to do instead
        korean = err.value.text("ko")  # and reads Korean, hint included, in ko
        assert korean.startswith("경보 #7은(는) ") and "할 수 없습니다 — " in korean
        assert not re.search(r"\b(cannot|first|see)\b", korean), korean
        return
    step = _plan(alert, action)
    assert step.to == EXPECTED[status, action][0]
    assert step.entry.action == action and step.entry.target == "alert:7"
    assert step.entry.actor == "lee" and step.entry.subject == "U0042"
    assert step.entry.criteria["from_status"] == status
    assert step.entry.criteria["to_status"] == step.to
    assert step.label_candidate == (action == "dismiss")
    assert step.resolve == (step.to in ("closed", "dismissed"))
    assert not step.four_eyes and step.close_requested_by is None


def test_four_eyes_turns_a_close_into_a_request_and_refuses_the_requester() -> None:
    policy = TriagePolicy(four_eyes=frozenset({"critical"}))
    step = _plan(_alert("acknowledged", "critical"), "close", by="kim", policy=policy)
    assert step.four_eyes and step.to == "close_requested"
    assert step.entry.action == "request_close" and step.close_requested_by == "kim"
    assert not step.resolve
    # a high alert closes at once under the same policy
    assert _plan(_alert("acknowledged", "high"), "close", policy=policy).to == "closed"
    waiting = _alert("close_requested", "critical", requested_by="KIM")
    with pytest.raises(TriageError, match="cannot also approve"):
        _plan(waiting, "approve", by="kim", policy=policy)
    assert _plan(waiting, "approve", by="lee", policy=policy).to == "closed"


def test_a_dismissal_plans_its_suppression_from_the_policy_or_the_override() -> None:
    policy = TriagePolicy(suppress_days=3.0)
    assert _plan(_alert("open"), "dismiss", policy=policy).suppressed_until == T0 + dt.timedelta(
        days=3
    )
    assert _plan(_alert("open"), "dismiss", policy=policy, suppress_days=0).suppressed_until is None
    assert _plan(_alert("open"), "close", policy=policy).suppressed_until is None


def _active(status: str = "open", severity: str = "high") -> Alert:
    return dataclasses.replace(_alert(status, severity), windows=(dt.date(2026, 9, 6),))


def test_intake_plans_each_outcome_without_the_store() -> None:
    found = detection(severity="high")
    suppression = Suppression(
        id=3,
        user_id="U0042",
        scenario="off_hours_login_ratio",
        until=T0 + dt.timedelta(days=1),
        alert_id=5,
        actor="kim",
        created_at=T0,
    )
    step = intake.plan(found, CRITERIA, suppression=suppression, mine=[], now=T0)
    assert (step.outcome, step.detect.action, step.entry.action) == (
        "suppress",
        "detect",
        "suppress",
    )
    opened = intake.plan(found, CRITERIA, suppression=None, mine=[], now=T0)
    assert (opened.outcome, opened.entry.target, opened.route) == ("alert", NEW_ALERT, True)
    absorbed = intake.plan(found, CRITERIA, suppression=None, mine=[_active()], now=T0)
    assert (absorbed.outcome, absorbed.severity, absorbed.route) == ("absorb", "high", False)
    upgraded = intake.plan(
        detection(severity="critical"), CRITERIA, suppression=None, mine=[_active()], now=T0
    )
    assert (upgraded.outcome, upgraded.severity, upgraded.route) == ("upgrade", "critical", True)
    assert upgraded.entry.criteria["before"]["severity"] == "high"
    closed = _active("closed", "critical")  # opened at T0: inside the dedup window
    dup = intake.plan(found, CRITERIA, suppression=None, mine=[closed], now=T0)
    assert (dup.outcome, dup.entry.target, dup.entry.reason_code) == (
        "deduplicate",
        "alert:7",
        "same_user_recent",
    )
    later = T0 + dt.timedelta(hours=CRITERIA.dedup_hours + 1)
    assert intake.plan(found, CRITERIA, suppression=None, mine=[closed], now=later).outcome == (
        "alert"
    )
