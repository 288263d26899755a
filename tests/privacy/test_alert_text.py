"""Alerts' text under pseudonymisation: what Slack, Teams, e-mail, PagerDuty and the file
channel receive carries the pseudonym, never the user id; the store and the trail keep it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from auditlens.alerts.email import email_html
from auditlens.alerts.intake import admit
from auditlens.alerts.message import render, render_digest
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.webhooks import pagerduty_trigger, slack_payload, teams_payload
from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.pipeline.alerting import dispatch_alerts
from auditlens.pipeline.trail import verify_trail
from auditlens.privacy import Pseudonymiser, disguise_alert
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, T0, detection
from tests.alerts.test_channels import make_alert
from tests.privacy.conftest import KEY

P = Pseudonymiser(SecretStr(KEY))
TEMPLATE = "https://dash.example/?user={user_id}&date={window}"


def test_every_channel_payload_carries_the_pseudonym() -> None:
    reasons = [{"feature": "peers", "en": "same files as U0042's manager", "ko": "U0042의 상사"}]
    alert = dataclasses.replace(make_alert(), reasons=reasons)
    shown = disguise_alert(alert, P)
    pseudonym = P.user("U0042")
    for lang in ("ko", "en"):
        message = render(shown, lang, TEMPLATE, ["audit@bank.example"])
        payloads = [
            message.plain_text(),
            email_html(message),
            json.dumps(slack_payload(message), ensure_ascii=False),
            json.dumps(teams_payload(message), ensure_ascii=False),
            json.dumps(pagerduty_trigger(shown, message, "R"), ensure_ascii=False),
            render_digest([shown], lang, TEMPLATE).plain_text(),
        ]
        for payload in payloads:
            assert "U0042" not in payload
            assert pseudonym in payload
        assert message.link == f"https://dash.example/?user={pseudonym}&date={alert.window}"


def _settings(settings: Settings, tmp_path: Path, key: str | None) -> Settings:
    privacy = {"pseudonymise": True} | ({"pseudonym_key": key} if key else {})
    return Settings(
        store_url=settings.store_url,
        data_dir=settings.data_dir,
        alert_channels={"archive": {"kind": "file", "path": tmp_path / "alerts.jsonl"}},  # type: ignore[dict-item]
        privacy=privacy,  # type: ignore[arg-type]
    )


def test_dispatched_alerts_are_pseudonymised_and_the_key_stays_out(
    settings: Settings, tmp_path: Path
) -> None:
    keyed = _settings(settings, tmp_path, KEY)
    rules = [Rule("all", ("archive",), Schedule.always_open(BusinessCalendar()))]
    with Store.open(keyed, migrate=True) as store:
        admit(store.engine, [detection(user="U0042")], rules, CRITERIA, T0)
    with pytest.raises(ConfigError, match="pseudonym_key is not set"):
        dispatch_alerts(_settings(settings, tmp_path, None), clock=lambda: T0)
    assert not (tmp_path / "alerts.jsonl").exists()  # refused before sending anything
    report = dispatch_alerts(keyed, clock=lambda: T0)
    assert report.sent == 1
    sent = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8")
    assert "U0042" not in sent and P.user("U0042") in sent
    with Store.open(keyed) as store:
        (alert,) = store.alerts.list_alerts()
        delivered = store.audit.entries(actions=("deliver",))
        assert [e.subject for e in delivered] == ["U0042"]  # the trail knows who
        with store.engine.connect() as conn:
            dump = "\n".join(
                str(tuple(row))
                for table in ("audit_log", "alerts", "deliveries", "delivery_attempts")
                for row in conn.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608
            )
    assert alert.user_id == "U0042"
    assert KEY not in dump and KEY not in sent
    assert verify_trail(keyed).ok
