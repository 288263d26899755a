"""The contract every alert Channel keeps (River's ``checks`` idea).

A working channel delivers (the far end sees it) and reports a Delivery; a broken one
raises ChannelError, never another exception type. A new channel is checked by adding
one entry to ``CHANNELS`` and one branch to ``plugged``.
"""

from __future__ import annotations

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
    """A working channel, the same kind pointed at something broken (or None), and how
    many deliveries the working one's far end has seen so far."""

    good: Channel
    bad: Channel | None
    received: Callable[[], int]


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

    def posted() -> int:
        return len(httpserver.log)

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
            lambda: len(smtp_server.messages),
        )
    if kind == "file":
        (tmp_path / "dir.jsonl").mkdir()
        path = tmp_path / "a.jsonl"
        return Plugged(
            FileChannel("c", path=path),
            FileChannel("c", path=tmp_path / "dir.jsonl"),
            lambda: len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0,
        )
    printed: list[str] = []

    def lines() -> int:
        printed.append(capsys.readouterr().out)
        return "".join(printed).count("ALERT ")

    return Plugged(ConsoleChannel("c"), None, lines)


def test_channel_contract(plugged: Plugged) -> None:
    good, bad = plugged.good, plugged.bad
    with good:
        before = plugged.received()
        assert isinstance(good.send(make_alert()), Delivery)
        assert plugged.received() > before  # the far end saw it
        if not isinstance(good, PagerDutyChannel):  # PagerDuty takes no digests
            before = plugged.received()
            digest = good.send_digest([make_alert(alert_id=1), make_alert(alert_id=2)])
            assert isinstance(digest, Delivery)
            assert plugged.received() > before
    if bad is not None:
        with bad, pytest.raises(ChannelError):  # never another exception type
            bad.send(make_alert())
