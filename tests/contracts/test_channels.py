"""The contract every alert Channel keeps (River's ``checks`` idea).

A working channel delivers (the far end sees it) and reports a Delivery; a broken one
raises ChannelError, never another exception type. A new channel is checked by adding
one entry to ``CHANNELS`` and one branch to ``plugged``.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from auditlens.alerts.channels import Channel, ChannelError, ConsoleChannel, Delivery, FileChannel
from auditlens.alerts.email import EmailChannel
from auditlens.alerts.webhooks import PagerDutyChannel, SlackChannel, TeamsChannel
from tests.alerts import test_channels as channel_tests
from tests.alerts.test_channels import Inbox, make_alert

#: The local SMTP server (STARTTLS + AUTH) the e-mail channel tests use.
smtp_server = channel_tests.smtp_server

CHANNELS = ["slack", "teams", "pagerduty", "email", "file", "console"]


@dataclass
class Plugged:
    """A working channel, the same kind pointed at something broken (or None), and what
    the working one's far end has received so far (one text per delivery)."""

    good: Channel
    bad: Channel | None
    received: Callable[[], list[str]]


def _mail_texts(inbox: Inbox) -> list[str]:
    """Subject and plain-text body of every message the SMTP server accepted."""
    texts = []
    for envelope in inbox.messages:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = mail.get_body(("plain",))
        assert body is not None
        texts.append(f"{mail['Subject']}\n{body.get_content()}")
    return texts


@pytest.fixture(params=CHANNELS)
def plugged(
    request: pytest.FixtureRequest,
    httpserver: HTTPServer,
    smtp_server: Inbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Plugged:
    kind = request.param
    httpserver.expect_request("/hook").respond_with_data("ok", status=202)
    url = SecretStr(httpserver.url_for("/hook"))
    down = SecretStr(f"http://127.0.0.1:{channel_tests._free_port()}/hook")

    def posted() -> list[str]:
        return [req.get_data(as_text=True) for req, _ in httpserver.log]

    if kind == "slack":
        return Plugged(
            SlackChannel("c", webhook_url=url), SlackChannel("c", webhook_url=down), posted
        )
    if kind == "teams":
        return Plugged(
            TeamsChannel("c", webhook_url=url), TeamsChannel("c", webhook_url=down), posted
        )
    if kind == "pagerduty":
        key = SecretStr("k")
        return Plugged(
            PagerDutyChannel("c", routing_key=key, events_url=url.get_secret_value()),
            PagerDutyChannel("c", routing_key=key, events_url=down.get_secret_value()),
            posted,
        )
    if kind == "email":
        broken = channel_tests._mail_config(smtp_server, port=channel_tests._free_port())
        return Plugged(
            EmailChannel("c", config=channel_tests._mail_config(smtp_server)),
            EmailChannel("c", config=broken),
            lambda: _mail_texts(smtp_server),
        )
    if kind == "file":
        (tmp_path / "dir.jsonl").mkdir()
        path = tmp_path / "a.jsonl"
        return Plugged(
            FileChannel("c", path=path),
            FileChannel("c", path=tmp_path / "dir.jsonl"),
            lambda: path.read_text(encoding="utf-8").splitlines() if path.exists() else [],
        )
    printed: list[str] = []

    def read_console() -> list[str]:  # readouterr() empties the buffer: keep what it had
        printed.extend(capsys.readouterr().out.splitlines())
        return printed

    return Plugged(ConsoleChannel("c"), None, read_console)


def test_channel_contract(plugged: Plugged) -> None:
    good, bad, received = plugged.good, plugged.bad, plugged.received
    assert received() == []
    with good:
        assert isinstance(good.send(make_alert()), Delivery)
        (single,) = received()  # exactly one delivery, and it names the user
        assert "U0042" in single
        if not isinstance(good, PagerDutyChannel):  # PagerDuty takes no digests
            riskiest = dataclasses.replace(make_alert("critical", 2), user_id="U0077", risk=95.0)
            digest = good.send_digest([make_alert(alert_id=1), riskiest])
            assert isinstance(digest, Delivery)
            assert len(received()) == 2  # one more delivery, naming (at least) its riskiest
            assert "U0077" in received()[-1]
    if bad is not None:
        with bad, pytest.raises(ChannelError):  # never another exception type
            bad.send(make_alert())
