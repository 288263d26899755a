"""Every channel against a real local server: payload shapes, e-mail over STARTTLS + AUTH."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from auditlens.alerts.channels import (
    ChannelError,
    ConsoleChannel,
    FileChannel,
    retry_after_seconds,
)
from auditlens.alerts.email import EmailChannel
from auditlens.alerts.message import render
from auditlens.alerts.webhooks import PagerDutyChannel, SlackChannel, TeamsChannel
from auditlens.config import EmailChannelConfig
from auditlens.store.alerts import Alert
from tests.alerts.conftest import T0

LINK = "http://dash.local/?user={user_id}&date={window}"


def make_alert(severity: str = "high", alert_id: int = 7) -> Alert:
    return Alert(
        id=alert_id,
        dedup_key="U0042|off_hours_login_ratio",
        user_id="U0042",
        department="retail",
        window=T0.date(),
        score_id=11,
        run_id=1,
        risk=82.4,
        severity=severity,
        scenario="off_hours_login_ratio",
        reasons=[
            {
                "feature": "off_hours_login_ratio",
                "ko": "업무시간 외 로그인 비율 62%",
                "en": "off-hours login share 62%",
            },
            {"feature": "bulk_ratio", "ko": "대량 반출성 행위 8.2배", "en": "bulk actions 8.2x"},
        ],
        model_sha256="a" * 64,
        status="open",
        close_requested_by=None,
        created_at=T0,
        updated_at=T0,
    )


def _json(server: HTTPServer, index: int = -1) -> dict[str, Any]:
    request, _ = server.log[index]
    return json.loads(request.get_data())  # type: ignore[no-any-return]


# --- Slack, Teams, PagerDuty -------------------------------------------------------------


def test_slack_block_kit_payload(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/services/T1/B2/tok", method="POST").respond_with_data("ok")
    url = httpserver.url_for("/services/T1/B2/tok")
    with SlackChannel("ops", webhook_url=SecretStr(url), link_template=LINK) as slack:
        result = slack.send(make_alert(), ["@kim"])
    assert result.status_code == 200
    body = _json(httpserver)
    assert "U0042" in body["text"]  # the fallback for notifications
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text" and "U0042" in header["text"]
    assert len(header["text"]) <= 150
    fields = body["blocks"][1]["fields"]
    assert all(f["type"] == "mrkdwn" for f in fields) and len(fields) <= 10
    assert any("82.4" in f["text"] for f in fields)
    assert "업무시간 외 로그인 비율 62%" in body["blocks"][2]["text"]["text"]  # Korean by default
    button = body["blocks"][3]["elements"][0]
    assert (
        button["type"] == "button"
        and button["url"] == "http://dash.local/?user=U0042&date=2026-09-08"
    )


def test_teams_adaptive_card_payload_in_english(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/workflows/abc", method="POST").respond_with_data("", status=202)
    url = httpserver.url_for("/workflows/abc") + "?sig=SECRET"
    with TeamsChannel(
        "compliance", webhook_url=SecretStr(url), language="en", link_template=LINK
    ) as teams:
        assert teams.send(make_alert("critical")).status_code == 202
    body = _json(httpserver)
    assert body["type"] == "message"
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"].startswith("http://adaptivecards.io/schemas/")
    title, facts = card["body"][0], card["body"][1]
    assert title["type"] == "TextBlock" and "CRITICAL" in title["text"]
    assert title["color"] == "Attention"
    assert facts["type"] == "FactSet"
    assert {"title": "User", "value": "U0042"} in facts["facts"]
    assert "off-hours login share 62%" in card["body"][3]["text"]
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_pagerduty_trigger_and_resolve_share_the_dedup_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success", "message": "Event processed"}, status=202
    )
    pd = PagerDutyChannel(
        "oncall",
        routing_key=SecretStr("R0UTINGKEY"),
        events_url=httpserver.url_for("/v2/enqueue"),
        link_template=LINK,
    )
    alert = make_alert("critical")
    with pd:
        pd.send(alert)
        pd.resolve(alert)
    trigger, resolve = _json(httpserver, 0), _json(httpserver, 1)
    assert trigger["routing_key"] == "R0UTINGKEY" and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "auditlens-7-U0042|off_hours_login_ratio"
    payload = trigger["payload"]
    assert payload["source"] == "auditlens" and payload["severity"] == "critical"
    assert 0 < len(payload["summary"]) <= 1024 and "U0042" in payload["summary"]
    assert payload["custom_details"]["risk"] == 82.4
    assert trigger["links"][0]["href"].startswith("http://dash.local/")
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
    assert PagerDutyChannel.SEVERITY["high"] == "error"


def test_http_errors_are_classified_and_secrets_masked(httpserver: HTTPServer) -> None:
    path = "/services/T1/B2/SECRETTOKEN"
    httpserver.expect_request(path).respond_with_data(f"no_service at {path}", status=404)
    with SlackChannel("ops", webhook_url=SecretStr(httpserver.url_for(path))) as slack:
        with pytest.raises(ChannelError) as failure:
            slack.send(make_alert())
    assert failure.value.status_code == 404 and failure.value.permanent
    assert "SECRETTOKEN" not in str(failure.value) and "***" in str(failure.value)

    httpserver.clear()
    httpserver.expect_request(path).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "7"}
    )
    with SlackChannel("ops", webhook_url=SecretStr(httpserver.url_for(path))) as slack:
        with pytest.raises(ChannelError) as failure:
            slack.send(make_alert())
    assert failure.value.retry_after == 7.0 and not failure.value.permanent


def test_a_retry_after_date_counts_from_the_date_header_else_from_the_clock() -> None:
    asked = {"Retry-After": "Tue, 08 Sep 2026 01:02:00 GMT"}
    dated = httpx.Response(503, headers=asked | {"Date": "Tue, 08 Sep 2026 01:01:30 GMT"})
    assert retry_after_seconds(dated, T0) == 30.0
    assert retry_after_seconds(httpx.Response(503, headers=asked), T0) == 120.0
    late = T0 + dt.timedelta(minutes=5)
    assert retry_after_seconds(httpx.Response(503, headers=asked), late) == 0.0
    assert retry_after_seconds(httpx.Response(503), T0) is None
    # a channel reads it against its own clock (a server that sends no Date header)
    slack = SlackChannel("ops", webhook_url=SecretStr("https://x.invalid/a"), clock=lambda: late)
    slack._client = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(429, headers=asked))
    )
    with slack, pytest.raises(ChannelError) as failure:
        slack.send(make_alert())
    assert failure.value.retry_after == 0.0 and not failure.value.permanent
    slack = SlackChannel("ops", webhook_url=SecretStr("https://x.invalid/a"), clock=lambda: T0)
    slack._client = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(429, headers=asked))
    )
    with slack, pytest.raises(ChannelError) as failure:
        slack.send(make_alert())
    assert failure.value.retry_after == 120.0


def test_unsupported_resolve_is_refused() -> None:
    with pytest.raises(ChannelError, match="cannot resolve"):
        ConsoleChannel("c").resolve(make_alert())


# --- e-mail over a real SMTP server ----------------------------------------------------------


@dataclass
class Inbox:
    """What the local SMTP server received."""

    port: int
    ca_file: Path
    messages: list[Any] = field(default_factory=list)
    #: What the server answers to DATA: a 5xx reply refuses the message (not kept).
    reply: str = "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            self.messages.append(envelope)
        return self.reply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Inbox]:
    """aiosmtpd requiring STARTTLS (trustme certificate) and AUTH as auditlens/pa55."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"auditlens",
            b"pa55",
        )
        return AuthResult(success=ok, handled=False)

    inbox = Inbox(port=_free_port(), ca_file=ca_file)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def _mail_config(inbox: Inbox, password: str = "pa55", **extra: Any) -> EmailChannelConfig:  # noqa: S107
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": inbox.port,
        "security": "starttls",
        "username": "auditlens",
        "password": SecretStr(password),
        "sender": "auditlens@bank.example",
        "recipients": ["audit-team@bank.example"],
        "ca_file": inbox.ca_file,
    }
    return EmailChannelConfig(**(values | extra))


def test_email_over_starttls_with_auth_has_html_and_text(smtp_server: Inbox) -> None:
    channel = EmailChannel("mail", config=_mail_config(smtp_server), link_template=LINK)
    result = channel.send(make_alert(), ["lead@bank.example"])
    assert result.status_code == 250
    (envelope,) = smtp_server.messages
    assert envelope.mail_from == "auditlens@bank.example"
    assert envelope.rcpt_tos == ["audit-team@bank.example", "lead@bank.example"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail.get_content_type() == "multipart/alternative"
    assert "U0042" in str(mail["Subject"])
    plain = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    rich = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "업무시간 외 로그인 비율 62%" in plain and "http://dash.local/?user=U0042" in plain
    assert "<table>" in rich and "업무시간 외 로그인 비율 62%" in rich


def test_email_wrong_password_is_permanent_and_masked(smtp_server: Inbox) -> None:
    channel = EmailChannel("mail", config=_mail_config(smtp_server, password="wrong-pw"))  # noqa: S106
    with pytest.raises(ChannelError) as failure:
        channel.send(make_alert())
    assert failure.value.status_code == 535 and failure.value.permanent
    assert "wrong-pw" not in str(failure.value)
    assert smtp_server.messages == []


def test_email_refuses_an_untrusted_certificate(smtp_server: Inbox) -> None:
    channel = EmailChannel("mail", config=_mail_config(smtp_server, ca_file=None), timeout=5)
    with pytest.raises(ChannelError, match=r"(?i)certificate"):
        channel.send(make_alert())


# the contract every channel keeps is in tests/contracts/test_channels.py


def test_file_channel_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    channel = FileChannel("archive", path=path, language="en")
    channel.send(make_alert())
    channel.send_digest([make_alert(alert_id=1), make_alert("critical", alert_id=2)])
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["alerts"][0]["user_id"] == "U0042" and lines[0]["severity"] == "high"
    assert [a["id"] for a in lines[1]["alerts"]] == [1, 2]
    assert lines[1]["title"].startswith("Risky-behaviour alert digest: 2")


def test_an_incident_of_several_days_lists_every_day_and_names_each_reasons_day() -> None:
    days = (dt.date(2026, 10, 1), dt.date(2026, 10, 2), dt.date(2026, 10, 6))
    alert = dataclasses.replace(
        make_alert(),
        window=days[0],
        windows=days,
        reasons=[
            {"feature": "seq_anomaly_score", "window": "2026-10-01", "ko": "야간 326단계",
             "en": "326-step night session", "contribution": 3.1},
            {"feature": "delete_count", "window": "2026-10-06", "ko": "삭제 건수 2",
             "en": "deletes 2", "contribution": 0.4},
        ],
    )  # fmt: skip
    ko = render(alert, "ko")
    assert ("일자 (최고 위험 동일)", "2026-10-01, 2026-10-02, 2026-10-06") in ko.facts
    assert ko.lines[0] == "[2026-10-01] 야간 326단계"
    en = render(alert, "en")
    assert ("Days (tied at the peak)", "2026-10-01, 2026-10-02, 2026-10-06") in en.facts
    assert en.lines == ["[2026-10-01] 326-step night session", "[2026-10-06] deletes 2"]
    single = render(make_alert(), "en")
    assert ("Day", T0.date().isoformat()) in single.facts
    assert single.lines[0] == "off-hours login share 62%"
