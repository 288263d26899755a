"""Outbox and dispatcher: retries, backoff, Retry-After, dead letters, quiet hours, digests,
dedup and restart-resume — against real local servers, with an exact clock."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Request, Response

from auditlens.alerts.channels import Channel, Delivery, FileChannel
from auditlens.alerts.dispatch import RetryPolicy, dispatch
from auditlens.alerts.intake import admit
from auditlens.alerts.message import Message
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.webhooks import SlackChannel
from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.replay import replay
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, T0, FakeClock, detection

CAL = BusinessCalendar()
POLICY = RetryPolicy(max_attempts=4, backoff_seconds=30, max_backoff_seconds=600, lease_seconds=60)


def always(*channels: str, digest_at: dt.time | None = None) -> list[Rule]:
    return [Rule("r1", channels, Schedule.always_open(CAL), digest_at=digest_at)]


def slack(url: str, timeout: float = 2.0) -> SlackChannel:
    return SlackChannel("slack", webhook_url=SecretStr(url), timeout=timeout)


def scripted(server: HTTPServer, *responses: Response) -> list[float]:
    """Answer POST /hook with ``responses`` in turn (the last one repeats); return call times."""
    calls: list[float] = []

    def handler(request: Request) -> Response:
        calls.append(time.monotonic())
        return responses[min(len(calls), len(responses)) - 1]

    server.expect_request("/hook", method="POST").respond_with_handler(handler)
    return calls


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_retries_back_off_exponentially_then_deliver(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    calls = scripted(httpserver, Response("boom", 500), Response("boom", 503), Response("ok"))
    channels = {"slack": slack(httpserver.url_for("/hook"))}
    admit(engine, [detection()], always("slack"), CRITERIA, clock())

    first = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert (first.attempted, first.retrying, first.sent) == (1, 1, 0)
    assert first.next_due == T0 + dt.timedelta(seconds=30)
    clock.advance(29.999)
    assert dispatch(engine, channels, clock=clock, policy=POLICY).attempted == 0  # not yet
    clock.set(T0 + dt.timedelta(seconds=30))
    second = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert second.retrying == 1 and second.next_due == T0 + dt.timedelta(seconds=90)  # 30 x 2
    clock.set(T0 + dt.timedelta(seconds=90))
    third = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert third.sent == 1 and third.pending == 0 and third.next_due is None
    assert len(calls) == 3

    (item,) = AlertRepository(engine).outbox.items()
    assert item.status == "sent" and item.attempts == 3
    attempts = AlertRepository(engine).outbox.attempts_of(item.id)
    assert [(a.status_code, a.ok) for a in attempts] == [(500, 0), (503, 0), (200, 1)]
    assert [a.at for a in attempts] == [T0 + dt.timedelta(seconds=s) for s in (0, 30, 90)]
    trail = AuditRepository(engine).entries(actions=("deliver",))
    assert [e.reason_code for e in trail] == ["failed", "failed", "sent"]
    assert trail[0].criteria["next_attempt_at"] == (T0 + dt.timedelta(seconds=30)).isoformat()
    assert AuditRepository(engine).verify().ok


def test_http_429_retry_after_is_honoured(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    scripted(
        httpserver, Response("rate_limited", 429, headers={"Retry-After": "7"}), Response("ok")
    )
    channels = {"slack": slack(httpserver.url_for("/hook"))}
    admit(engine, [detection()], always("slack"), CRITERIA, clock())
    report = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert report.next_due == T0 + dt.timedelta(seconds=7)  # not the 30 s backoff
    assert AlertRepository(engine).outbox.attempts_of(1)[0].retry_after == 7.0
    clock.advance(7)
    assert dispatch(engine, channels, clock=clock, policy=POLICY).sent == 1


def test_timeouts_and_refused_connections_end_in_the_dead_letter_state(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    channels: dict[str, Channel] = {
        "slow": slack(httpserver.url_for("/slow"), timeout=0.2),
        "down": slack(f"http://127.0.0.1:{closed_port()}/hook"),
    }
    admit(engine, [detection()], always("slow", "down"), CRITERIA, clock())
    waits = []
    for attempt in range(1, POLICY.max_attempts + 1):
        report = dispatch(engine, channels, clock=clock, policy=POLICY)
        assert report.attempted == 2
        if attempt < POLICY.max_attempts:
            assert report.retrying == 2
            assert report.next_due is not None
            waits.append((report.next_due - clock()).total_seconds())
            clock.set(report.next_due)
    assert waits == [30.0, 60.0, 120.0]
    assert sorted(d.channel for d in report.dead) == ["down", "slow"]
    errors = {d.channel: d.error for d in report.dead}
    assert "timed out" in errors["slow"] and "ConnectError" in errors["down"]
    assert AlertRepository(engine).outbox.counts() == {
        "pending": 0,
        "sent": 0,
        "dead": 2,
        "cancelled": 0,
    }
    assert [e.reason_code for e in AuditRepository(engine).entries(actions=("deliver",))][-2:] == [
        "dead_letter",
        "dead_letter",
    ]
    # nothing is lost: after the channel is fixed a requeued dead letter goes out
    httpserver.expect_request("/fixed").respond_with_data("ok")
    channels["down"] = slack(httpserver.url_for("/fixed"))
    with engine.begin() as conn:
        item = next(i for i in AlertRepository(engine).outbox.items() if i.channel == "down")
        AlertRepository(conn).outbox.requeue(item.id, clock())
    assert dispatch(engine, channels, clock=clock, policy=POLICY).sent == 1


def test_client_errors_dead_letter_at_once(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    scripted(httpserver, Response("invalid_payload", 400))
    admit(engine, [detection()], always("slack"), CRITERIA, clock())
    report = dispatch(
        engine, {"slack": slack(httpserver.url_for("/hook"))}, clock=clock, policy=POLICY
    )
    assert len(report.dead) == 1 and report.dead[0].attempts == 1
    assert "HTTP 400 invalid_payload" in report.dead[0].error


def test_quiet_hours_hold_alerts_until_the_window_opens(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    tuesday_evening = clock.set(dt.datetime(2026, 9, 8, 11, 0, tzinfo=dt.UTC))  # 20:00 KST
    rules = [Rule("office", ("file",), Schedule.business_hours(CAL))]
    channels = {"file": FileChannel("file", path=tmp_path / "a.jsonl")}
    report = admit(engine, [detection()], rules, CRITERIA, tuesday_evening)
    assert report.held == 1
    assert dispatch(engine, channels, clock=clock, policy=POLICY).attempted == 0
    clock.set(dt.datetime(2026, 9, 8, 23, 59, 59, tzinfo=dt.UTC))  # 08:59:59 KST
    held = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert held.attempted == 0 and held.pending == 1
    assert held.next_due == dt.datetime(2026, 9, 9, 0, 0, tzinfo=dt.UTC)  # 09:00 KST
    clock.set(held.next_due)
    assert dispatch(engine, channels, clock=clock, policy=POLICY).sent == 1
    assert (tmp_path / "a.jsonl").exists()


def test_daily_digest_sends_one_message_for_all_held_alerts(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "digest.jsonl"
    rules = always("file", digest_at=dt.time(9, 0))
    admit(
        engine,
        [detection(user=f"U{i}", severity="medium") for i in range(3)],
        rules,
        CRITERIA,
        clock(),
    )
    channels = {"file": FileChannel("file", path=path, language="en")}
    assert dispatch(engine, channels, clock=clock, policy=POLICY).attempted == 0
    clock.set(dt.datetime(2026, 9, 9, 0, 0, tzinfo=dt.UTC))  # next day 09:00 KST
    report = dispatch(engine, channels, clock=clock, policy=POLICY)
    assert (report.attempted, report.sent) == (3, 3)
    (line,) = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert sorted(a["user_id"] for a in record["alerts"]) == ["U0", "U1", "U2"]
    assert record["title"] == "Risky-behaviour alert digest: 3 alerts"


def test_one_alert_per_person_absorbs_new_evidence_and_pages_again_only_when_worse(
    any_engine: Engine, clock: FakeClock
) -> None:
    engine, rules = any_engine, always("file")
    first = admit(engine, [detection(severity="high")], rules, CRITERIA, clock())
    (alert,) = first.opened
    clock.advance(3600)
    again = admit(
        engine, [detection(severity="high"), detection(severity="medium")], rules, CRITERIA, clock()
    )
    assert (len(again.opened), again.absorbed) == (0, 2)
    # after `train` the same person's top reason changes: still the same alert, no page
    retrained = detection(
        severity="high", feature="bulk_ratio", window=dt.date(2026, 9, 9), model_sha256="b" * 64
    )
    other = admit(engine, [retrained], rules, CRITERIA, clock())
    assert (other.opened, other.absorbed) == ([], 1)
    with engine.connect() as conn:
        shown = AlertRepository(conn).get_alert(alert.id)
    assert (shown.scenario, shown.window, shown.status) == ("bulk_ratio", dt.date(2026, 9, 9),
                                                            "open")  # fmt: skip
    assert AlertRepository(engine).outbox.counts()["pending"] == 1
    assert AlertRepository(engine).get_alert(alert.id).model_sha256 == "b" * 64
    assert replay(engine) == []
    # more severe: the same alert takes the severity and is routed (pages) again
    worse = admit(engine, [detection(severity="critical", risk=95.0)], rules, CRITERIA, clock())
    assert worse.opened == [] and [a.id for a in worse.upgraded] == [alert.id]
    assert worse.upgraded[0].severity == "critical"
    assert AlertRepository(engine).outbox.counts()["pending"] == 2
    assert len(AlertRepository(engine).list_alerts()) == 1
    evidence = AlertRepository(engine).evidence_of(alert.id)
    assert [e.kind for e in evidence] == ["open", "absorb", "absorb", "absorb", "upgrade"]
    # the trail says what the table says: the new model, scenario and severity (a second
    # run after `train` used to leave the alert's model_sha256 differing from the trail)
    assert replay(engine) == []
    assert [e.action for e in AuditRepository(engine).entries(actions=("absorb", "upgrade"))] == [
        "absorb",
        "absorb",
        "absorb",
        "upgrade",
    ]
    # once closed, the same incident is not alerted again; a new one (another day) is
    with engine.begin() as conn:
        AlertRepository(conn).set_status(alert.id, "closed", clock())
    clock.advance(25 * 3600)
    same = admit(engine, [detection(severity="high", window=dt.date(2026, 9, 7))], rules,
                 CRITERIA, clock())  # fmt: skip
    assert (same.opened, same.deduplicated) == ([], 1)
    later = admit(engine, [detection(severity="high", window=dt.date(2026, 9, 20))], rules,
                  CRITERIA, clock())  # fmt: skip
    assert len(later.opened) == 1
    assert AuditRepository(engine).verify().ok


def test_a_run_raised_twice_changes_nothing(engine: Engine, clock: FakeClock) -> None:
    found = [detection(user="U1"), detection(user="U2")]
    assert len(admit(engine, found, always("file"), CRITERIA, clock()).opened) == 2
    again = admit(engine, found, always("file"), CRITERIA, clock())
    assert again.already_handled == 2 and again.opened == []


class Crash(BaseException):
    """The process dies (kill -9, power loss) in the middle of a send."""


class CrashingChannel(Channel):
    kind = "crashing"

    def __init__(self) -> None:
        super().__init__("slack")
        self.sent = 0

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        if self.sent == 1:
            raise Crash
        self.sent += 1
        return Delivery(200, "ok")


def test_restart_resumes_pending_deliveries(
    settings: Settings, clock: FakeClock, httpserver: HTTPServer
) -> None:
    store = Store.open(settings, migrate=True)
    admit(
        store.engine,
        [detection(user=f"U{i}") for i in range(3)],
        always("slack"),
        CRITERIA,
        clock(),
    )
    with pytest.raises(Crash):
        dispatch(store.engine, {"slack": CrashingChannel()}, clock=clock, policy=POLICY)
    store.close()  # the process is gone; the outbox is in the database

    received = scripted(httpserver, Response("ok"))
    restarted = Store.open(settings)
    channels = {"slack": slack(httpserver.url_for("/hook"))}
    clock.advance(5)
    report = dispatch(restarted.engine, channels, clock=clock, policy=POLICY)
    assert report.sent == 1  # the never-claimed one; the crashed send is still leased
    clock.advance(POLICY.lease_seconds)
    report = dispatch(restarted.engine, channels, clock=clock, policy=POLICY)
    assert report.sent == 1 and report.pending == 0
    assert len(received) == 2
    users = sorted(
        json.loads(r.get_data())["blocks"][1]["fields"][0]["text"][-2:] for r, _ in httpserver.log
    )
    assert users == ["U1", "U2"]  # U0 went out before the crash; nobody got two
    assert AlertRepository(restarted.engine).outbox.counts()["sent"] == 3
    assert AuditRepository(restarted.engine).verify().ok
    restarted.close()


def test_the_run_is_marked_raised_in_the_transaction_of_its_last_alert(
    any_engine: Engine, clock: FakeClock
) -> None:
    found = [detection(user="U1"), detection(user="U2")]

    def dies(conn: object) -> None:
        raise Crash  # the process dies while committing the last alert

    with pytest.raises(Crash):
        admit(any_engine, found, always("file"), CRITERIA, clock(), complete=dies)
    assert [a.user_id for a in AlertRepository(any_engine).list_alerts()] == [
        "U1"
    ]  # U2 rolled back
    marked: list[int] = []
    again = admit(
        any_engine, found, always("file"), CRITERIA, clock(), complete=lambda c: marked.append(1)
    )
    assert (again.already_handled, len(again.opened), marked) == (1, 1, [1])
    nothing = admit(
        any_engine, [], always("file"), CRITERIA, clock(), complete=lambda c: marked.append(2)
    )
    assert nothing.detections == 0 and marked == [1, 2]  # no detection: marked on its own
