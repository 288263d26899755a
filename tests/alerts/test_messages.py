"""What a person reads about channels: each named once ("slack", "slack ops"), never twice."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Response

from auditlens.alerts.channels import ChannelError
from auditlens.alerts.dispatch import dispatch
from auditlens.alerts.intake import admit
from auditlens.alerts.webhooks import SlackChannel
from tests.alerts.conftest import CRITERIA, FakeClock, detection
from tests.alerts.test_dispatch import POLICY, always, scripted


@pytest.mark.parametrize(("name", "label"), [("slack", "slack"), ("ops", "slack ops")])
def test_a_channel_error_names_the_channel_once(
    httpserver: HTTPServer, name: str, label: str
) -> None:
    scripted(httpserver, Response("invalid_payload", 400))
    channel = SlackChannel(name, webhook_url=SecretStr(httpserver.url_for("/hook")))
    assert channel.label == label
    with pytest.raises(ChannelError) as failure:
        channel.post_json(httpserver.url_for("/hook"), {})
    assert str(failure.value).startswith(f"{label}: HTTP 400 invalid_payload")
    assert "slack slack" not in str(failure.value)


def test_a_dead_letter_says_what_failed_without_repeating_the_channel(
    engine: Engine, clock: FakeClock, httpserver: HTTPServer
) -> None:
    scripted(httpserver, Response("invalid_payload", 400))
    admit(engine, [detection()], always("ops"), CRITERIA, clock())
    channel = SlackChannel("ops", webhook_url=SecretStr(httpserver.url_for("/hook")))
    report = dispatch(engine, {"ops": channel}, clock=clock, policy=POLICY)
    [dead] = report.dead
    assert dead.channel == "ops" and dead.error == "HTTP 400 invalid_payload"
