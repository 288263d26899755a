from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from auditlens.alerts.dispatch import dispatch
from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.triage import TriageError, TriagePolicy, decide
from auditlens.alerts.webhooks import PagerDutyChannel
from auditlens.calendar import BusinessCalendar
from auditlens.identity import Directory, IdentityError
from auditlens.store.alerts import AlertNotFound, AlertRepository
from auditlens.store.audit_repository import AuditRepository
from tests.alerts.conftest import CRITERIA, FakeClock, detection

D = Directory(
    {"kim": ["analyst"], "lee": ["analyst", "approver"], "park": ["analyst"], "choi": ["admin"]}
)
CAL = BusinessCalendar()
POLICY = TriagePolicy(four_eyes=frozenset({"critical"}), resolvable_channels=frozenset({"pd"}))
RULES = [Rule("page", ("pd",), Schedule.always_open(CAL))]


def _open(engine: Engine, clock: FakeClock, **kwargs: object) -> int:
    report = admit(engine, [detection(**kwargs)], RULES, CRITERIA, clock())  # type: ignore[arg-type]
    return report.opened[0].id


def test_acknowledge_escalate_and_state_errors(engine: Engine, clock: FakeClock) -> None:
    alert_id = _open(engine, clock)
    done = decide(engine, alert_id, "acknowledge", by=D.acting("kim"), now=clock(), policy=POLICY)
    assert done.alert.status == "acknowledged" and done.entry.actor == "kim"
    with pytest.raises(TriageError, match="is acknowledged: cannot acknowledge"):
        decide(engine, alert_id, "acknowledge", by=D.acting("kim"), now=clock(), policy=POLICY)
    with pytest.raises(TriageError, match="needs a reason code"):
        decide(engine, alert_id, "escalate", by=D.acting("kim"), now=clock(), policy=POLICY)
    with pytest.raises(TriageError, match="not one of"):
        decide(
            engine,
            alert_id,
            "escalate",
            by=D.acting("kim"),
            reason="Because I said so",
            now=clock(),
            policy=POLICY,
        )
    escalated = decide(
        engine,
        alert_id,
        "escalate",
        by=D.acting("kim"),
        reason="suspected_violation",
        note="팀장 보고",
        now=clock(),
        policy=POLICY,
    )
    assert escalated.alert.status == "escalated"
    entry = escalated.entry
    assert (entry.action, entry.reason_code, entry.note) == (
        "escalate",
        "suspected_violation",
        "팀장 보고",
    )
    assert entry.criteria["from_status"] == "acknowledged"
    assert entry.criteria["model_sha256"] == "a" * 64
    with pytest.raises(AlertNotFound):
        decide(engine, 999, "acknowledge", by=D.acting("kim"), now=clock(), policy=POLICY)
    with pytest.raises(IdentityError, match="not a known principal"):
        D.acting(" ")


def test_dismiss_as_false_positive_feeds_labels_and_suppresses(
    engine: Engine, clock: FakeClock
) -> None:
    alert_id = _open(engine, clock, user="U7", feature="usb_connect_count")
    result = decide(
        engine,
        alert_id,
        "dismiss",
        by=D.acting("kim"),
        reason="false_positive",
        note="approved USB backup",
        now=clock(),
        policy=POLICY,
        suppress_days=14,
    )
    assert result.label_candidate and result.alert.status == "dismissed"
    assert result.suppressed_until == clock() + dt.timedelta(days=14)
    (label,) = AlertRepository(engine).feedback.label_candidates()
    assert (label.user_id, label.scenario, label.label) == ("U7", "usb_connect_count", 0)
    assert label.audit_seq == result.entry.seq

    clock.advance(3 * 86400)  # past the dedup window, inside the suppression
    again = admit(
        engine, [detection(user="U7", feature="usb_connect_count")], RULES, CRITERIA, clock()
    )
    assert again.suppressed == 1 and again.opened == []
    other = admit(
        engine,
        [detection(user="U7", feature="bulk_ratio", window=dt.date(2026, 9, 10))],
        RULES,
        CRITERIA,
        clock(),
    )
    assert len(other.opened) == 1  # only the dismissed reason is suppressed
    clock.advance(12 * 86400)
    later = admit(
        engine,
        [detection(user="U7", feature="usb_connect_count", window=dt.date(2026, 9, 21))],
        RULES,
        CRITERIA,
        clock(),
    )
    # the suppression has expired: the detection joins the user's open alert
    assert (later.suppressed, later.absorbed, later.opened) == (0, 1, [])
    suppress = AuditRepository(engine).entries(actions=("suppress",))
    assert len(suppress) == 1 and "dismissed" in suppress[0].note


def test_closing_a_critical_alert_needs_a_second_person_and_resolves_pagerduty(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_json({"status": "success"}, status=202)
    channels = {
        "pd": PagerDutyChannel(
            "pd", routing_key=SecretStr("k"), events_url=httpserver.url_for("/v2/enqueue")
        )
    }
    alert_id = _open(engine, clock, severity="critical", risk=95.0)
    assert dispatch(engine, channels, clock=clock).sent == 1  # paged

    asked = decide(
        engine,
        alert_id,
        "close",
        by=D.acting("kim"),
        reason="explained",
        note="business trip",
        now=clock(),
        policy=POLICY,
    )
    assert asked.awaiting_approval and asked.alert.status == "close_requested"
    assert asked.resolves == []  # not closed yet
    with pytest.raises(IdentityError, match="needs the approver role"):
        decide(engine, alert_id, "approve", by=D.acting("kim"), now=clock(), policy=POLICY)
    approved = decide(
        engine,
        alert_id,
        "approve",
        by=D.acting("lee"),
        reason="approved",
        now=clock(),
        policy=POLICY,
    )
    assert approved.alert.status == "closed" and approved.resolves == ["pd"]
    trail = AuditRepository(engine).entries(target=f"alert:{alert_id}")
    assert [(e.action, e.actor) for e in trail][-2:] == [
        ("request_close", "kim"),
        ("approve", "lee"),
    ]
    assert trail[-1].criteria["close_requested_by"] == "kim"

    assert dispatch(engine, channels, clock=clock).sent == 1
    actions = [json.loads(r.get_data())["event_action"] for r, _ in httpserver.log]
    assert actions == ["trigger", "resolve"]
    keys = {json.loads(r.get_data())["dedup_key"] for r, _ in httpserver.log}
    assert len(keys) == 1

    reopened = decide(
        engine,
        alert_id,
        "reopen",
        by=D.acting("park"),
        reason="new_evidence",
        now=clock(),
        policy=POLICY,
    )
    assert reopened.alert.status == "open"
    assert AuditRepository(engine).verify().ok


def test_high_alerts_close_at_once_and_held_triggers_are_cancelled(
    engine: Engine, clock: FakeClock
) -> None:
    evening = clock.set(dt.datetime(2026, 9, 8, 11, 0, tzinfo=dt.UTC))  # 20:00 KST
    rules = [Rule("office", ("pd",), Schedule.business_hours(CAL))]
    alert_id = admit(engine, [detection(severity="high")], rules, CRITERIA, evening).opened[0].id
    closed = decide(
        engine,
        alert_id,
        "close",
        by=D.acting("kim"),
        reason="duplicate",
        now=evening,
        policy=POLICY,
    )
    assert closed.alert.status == "closed" and not closed.awaiting_approval
    clock.set(dt.datetime(2026, 9, 9, 0, 0, tzinfo=dt.UTC))
    report = dispatch(engine, {}, clock=clock)
    # the held trigger is cancelled; the resolve has no channel configured here and retries
    assert report.cancelled == 1
    statuses = sorted(i.status for i in AlertRepository(engine).outbox.items())
    assert statuses == ["cancelled", "pending"]


def test_policy_defaults_come_from_settings() -> None:
    from auditlens.config import Settings
    from auditlens.pipeline.alerting import triage_policy

    policy = triage_policy(
        Settings(
            alert_channels={
                "pd": {"kind": "pagerduty", "routing_key": "k"},
                "c": {"kind": "console"},
            },
            alert_fp_suppress_days=7,
        )  # type: ignore[arg-type]
    )
    assert dataclasses.asdict(policy) == {
        "four_eyes": frozenset({"critical"}),
        "suppress_days": 7.0,
        "resolvable_channels": frozenset({"pd"}),
    }


def test_people_deciding_on_one_alert_at_once_see_each_other(
    any_engine: Engine, clock: FakeClock
) -> None:
    """Eight analysts acknowledge one alert at the same moment: one wins, seven are told
    it is already acknowledged; the trail holds one acknowledgement (the alert row is
    locked before its status is read)."""
    import threading

    alert_id = _open(any_engine, clock)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def ack(name: str) -> None:
        start.wait()
        try:
            decide(any_engine, alert_id, "acknowledge", by=D.acting(name), now=clock(),
                   policy=POLICY)  # fmt: skip
            outcomes.append("done")
        except TriageError:
            outcomes.append("refused")
        except Exception as exc:  # a lock timeout or a duplicate would be the finding
            outcomes.append(type(exc).__name__)

    names = ["kim", "lee", "park"] * 3
    threads = [threading.Thread(target=ack, args=(names[n],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["done"] + ["refused"] * 7
    acks = [e for e in AuditRepository(any_engine).entries() if e.action == "acknowledge"]
    assert len(acks) == 1
