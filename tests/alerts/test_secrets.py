"""Secrets never reach deliveries or the audit trail, in any encoding a server echoes."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from sqlalchemy import Engine, select, text

from auditlens.alerts.dispatch import RetryPolicy, dispatch
from auditlens.alerts.email import EmailChannel
from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.calendar import BusinessCalendar
from auditlens.config import EmailChannelConfig
from auditlens.redaction import scrub
from auditlens.store.db import deliveries, delivery_attempts
from tests.alerts.conftest import CRITERIA, FakeClock, detection

PASSWORD = "S3cr3t-pa55word!"  # noqa: S105
USER = "auditlens"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture
def echoing_smtp() -> Iterator[int]:
    """An SMTP server that refuses AUTH and echoes the client's credentials blob back:
    base64(\\0user\\0password) for AUTH PLAIN, base64(password) for AUTH LOGIN."""

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        if mechanism == "PLAIN":
            blob = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
        else:
            blob = base64.b64encode(data.password).decode()
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {blob}")

    port = _free_port()
    controller = Controller(
        _Sink(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _leaks(textual: str) -> list[str]:
    """Every form of the password found in ``textual``."""
    forms = {
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
        "UzNjcjN0LXBhNTV3b3JkIQ",  # base64 without padding
    }
    return [f for f in forms if f in textual]


def test_smtp_auth_echo_is_scrubbed_from_deliveries_and_the_trail(
    any_engine: Engine, clock: FakeClock, echoing_smtp: int
) -> None:
    config = EmailChannelConfig(
        host="127.0.0.1",
        port=echoing_smtp,
        security="none",
        username=USER,
        password=SecretStr(PASSWORD),
        sender="auditlens@bank.example",
        recipients=["audit@bank.example"],
    )
    channels = {"mail": EmailChannel("mail", config=config, timeout=5)}
    rules = [Rule("r1", ("mail",), Schedule.always_open(BusinessCalendar()))]
    admit(any_engine, [detection()], rules, CRITERIA, clock())
    report = dispatch(any_engine, channels, clock=clock, policy=RetryPolicy(max_attempts=1))
    assert len(report.dead) == 1  # wrong password: permanent
    assert "535" in report.dead[0].error and "***" in report.dead[0].error
    with any_engine.connect() as conn:
        stored = [
            str(v)
            for table in (deliveries, delivery_attempts)
            for row in conn.execute(select(table))
            for v in row
        ]
        trail = [str(v) for row in conn.execute(text("SELECT * FROM audit_log")) for v in row]
    everything = "\n".join([report.dead[0].error, *stored, *trail])
    assert "bad credentials" in everything  # the server's reply is kept...
    assert _leaks(everything) == []  # ...without the credentials it echoed


@pytest.mark.parametrize("prefix", ["", "x", "xy", "xyz", "AUTH PLAIN "])
def test_scrub_finds_base64_at_any_alignment_and_url_encoding(prefix: str) -> None:
    secret = "p@ss/wörd"  # noqa: S105
    blob = base64.b64encode(f"{prefix}\0kim\0{secret}".encode()).decode()
    assert scrub(f"reply {blob} end", [secret]) == "reply *** end"
    urlsafe = base64.urlsafe_b64encode(f"{prefix}{secret}".encode()).decode().rstrip("=")
    assert scrub(f"token={urlsafe}", [secret]) == "token=***"
    assert scrub("url postgresql://u:p%40ss%2Fw%C3%B6rd@h/db", [secret]) == (
        "url postgresql://u:***@h/db"
    )
    assert scrub("nothing secret here QUJDRA==", [secret]) == "nothing secret here QUJDRA=="


class _LeakyChannel(EmailChannel):
    """A channel with a bug whose exception message carries its secret, base64-encoded."""

    def post(self, message: Any, alerts: Any) -> Any:
        blob = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        raise RuntimeError(f"internal error while sending, state={blob}")


def test_an_unexpected_channel_error_is_scrubbed_too(any_engine: Engine, clock: FakeClock) -> None:
    config = EmailChannelConfig(
        host="127.0.0.1", username=USER, password=SecretStr(PASSWORD), sender="a@b.example",
        recipients=["c@d.example"],
    )  # fmt: skip
    rules = [Rule("r1", ("mail",), Schedule.always_open(BusinessCalendar()))]
    admit(any_engine, [detection()], rules, CRITERIA, clock())
    report = dispatch(
        any_engine, {"mail": _LeakyChannel("mail", config=config)}, clock=clock,
        policy=RetryPolicy(max_attempts=1),
    )  # fmt: skip
    assert "internal error while sending, state=***" in report.dead[0].error
    with any_engine.connect() as conn:
        trail = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM audit_log")) for v in row
        )
    assert "RuntimeError" in trail and _leaks(trail) == []
