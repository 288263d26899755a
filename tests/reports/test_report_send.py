"""`auditlens report send`: the digest e-mailed to a real local SMTP server (aiosmtpd with
STARTTLS and AUTH, as tests/alerts use) and parsed part by part; the audit entry of
every send; once per period and recipient set; the schedule; a failing server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lhtml
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import ReportScheduleConfig, Settings
from auditlens.pipeline.report_mail import (
    BadRecipients,
    ReportSendError,
    mail_channel,
    recipients_fingerprint,
    send_report,
)
from auditlens.reports.model import build_report
from auditlens.reports.period import Period
from auditlens.store.audit import AuditEntry
from auditlens.store.repo import Store
from tests.alerts import test_channels as channel_tests
from tests.alerts.test_channels import Inbox

smtp_server = channel_tests.smtp_server
TEAM = ["ciso@bank.example", "audit-lead@bank.example", "Compliance@Bank.example"]
KST = dt.timezone(dt.timedelta(hours=9))


def _kim() -> str:
    return "kim"


def _at(year: int, month: int, day: int, hour: int = 7) -> Callable[[], dt.datetime]:
    """A clock at that local (KST) time."""
    return lambda: dt.datetime(year, month, day, hour, 0, tzinfo=KST)


@pytest.fixture
def mail_settings(report_settings: Settings, smtp_server: Inbox) -> Settings:
    """The organisation's copy with an e-mail channel on the local server and recipients."""
    channel = channel_tests._mail_config(smtp_server, recipients=["alerts-only@bank.example"])
    return report_settings.model_copy(
        update={"alert_channels": {"mail": channel}, "report_recipients": TEAM}
    )


def _received(inbox: Inbox, index: int = -1) -> EmailMessage:
    mail = email.message_from_bytes(inbox.messages[index].content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def _sends(settings: Settings) -> list[AuditEntry]:
    with Store.open(settings) as store:
        return store.audit.entries(actions=("report_send",))


def test_the_mail_is_alternative_text_and_related_html_with_each_cid_image(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    (result,) = send_report(
        mail_settings, period=report_period.label, who_am_i=_kim, clock=_at(2027, 1, 5)
    )
    assert result.status == "sent" and result.recipients == 3
    (envelope,) = smtp_server.messages
    assert envelope.mail_from == "auditlens@bank.example"
    assert envelope.rcpt_tos == TEAM  # report_recipients, not the channel's alert list
    mail = _received(smtp_server)
    assert mail.get_content_type() == "multipart/alternative"
    plain, related = mail.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    rich, *images = related.iter_parts()
    assert rich.get_content_type() == "text/html" and len(images) == 3
    markup = rich.get_content()
    page = lhtml.document_fromstring(markup.encode("utf-8"))
    referenced = {img.get("src") for img in page.xpath("//img")}
    for image in images:
        assert image.get_content_type() == "image/png"
        cid = str(image["Content-ID"])
        assert cid.startswith("<") and cid.endswith(">")
        assert f"cid:{cid[1:-1]}" in referenced
        assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    assert referenced == {f"cid:{str(i['Content-ID'])[1:-1]}" for i in images}
    assert "data:" not in markup and "http" not in markup
    assert "월간" in str(mail["Subject"]) and mail["Content-Language"] == "ko"
    assert mail["Message-ID"] == result.message_id
    # the numbers are the read model's, in the HTML and the plain text alike
    with Store.open(mail_settings) as store:
        data = build_report(store, mail_settings, report_period, "ko")
    (row,) = page.xpath('//table[@data-table="kpis"]//tr[@data-key="alerts"]')
    assert row.xpath("./td")[1].text_content() == f"{data.kpis.alerts:,}건"
    assert data.footer.digest in plain.get_content()  # the same numbers (the head moved)


def test_every_send_is_in_the_trail_without_addresses(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    (result,) = send_report(
        mail_settings, period=report_period.label, who_am_i=_kim, clock=_at(2027, 1, 5)
    )
    (entry,) = _sends(mail_settings)
    assert result.entry == entry
    assert (entry.actor, entry.target, entry.reason_code) == (
        "kim",
        f"report:monthly:{report_period.label}",
        "sent",
    )
    assert entry.criteria["recipients"] == 3 and entry.criteria["message_id"] == result.message_id
    assert entry.criteria["recipients_sha256"] == recipients_fingerprint(TEAM)
    assert entry.criteria["period"] == [
        report_period.start.isoformat(),
        report_period.end.isoformat(),
    ]
    assert entry.note == f"sent to 3 recipient(s), {result.message_id}"
    recorded = json.dumps([entry.note, entry.criteria, entry.subject])
    for address in TEAM:
        assert address.split("@")[0].lower() not in recorded.lower()
    with Store.open(mail_settings) as store:
        assert store.audit.verify().ok


def test_a_period_goes_to_a_recipient_set_once_unless_forced(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    def send(**given: Any) -> str:
        (result,) = send_report(
            mail_settings, period=report_period.label, who_am_i=_kim, clock=_at(2027, 1, 5),
            **given,
        )  # fmt: skip
        return result.status

    assert send() == "sent"
    first = _sends(mail_settings)[0]
    again = send_report(mail_settings, period=report_period.label, who_am_i=_kim)
    assert [(r.status, r.entry) for r in again] == [("already_sent", first)]
    # the same set written otherwise (order, case, repeats) is the same set
    shuffled = [a.upper() for a in reversed(TEAM)] + [TEAM[0]]
    assert send(to=shuffled) == "already_sent"
    assert len(smtp_server.messages) == 1
    assert send(to=["someone-else@bank.example"]) == "sent"
    assert send(force=True) == "sent"
    assert len(smtp_server.messages) == 3
    entries = _sends(mail_settings)
    assert [e.reason_code for e in entries] == ["sent", "sent", "sent"]
    assert [e.criteria["forced"] for e in entries] == [False, False, True]
    weekly = Period.containing(report_period.start, "weekly")
    assert send_report(mail_settings, period=weekly.label, who_am_i=_kim)[0].status == "sent"


def test_a_failing_mail_server_is_a_clear_error_and_nothing_counts_as_sent(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    smtp_server.reply = "554 5.7.1 Message rejected by policy"
    with pytest.raises(ReportSendError) as failure:
        send_report(mail_settings, period=report_period.label, who_am_i=_kim)
    error = failure.value
    assert error.exit_code == 4
    assert f"the monthly digest {report_period.label} was not sent" in error.text("en")
    assert "SMTP 554" in error.text("en") and "nothing was recorded as sent" in error.text("en")
    assert f"{report_period.label} 요약 메일을 보내지 못했습니다" in error.text("ko")
    assert "보낸 것으로 기록하지 않았습니다" in error.text("ko")
    assert "pa55" not in error.text("en") + error.text("ko")
    (failed,) = _sends(mail_settings)
    assert failed.reason_code == "failed" and failed.criteria["status_code"] == 554
    assert "Message rejected" not in failed.note  # the server's words may hold addresses
    smtp_server.reply = "250 OK"
    (result,) = send_report(mail_settings, period=report_period.label, who_am_i=_kim)
    assert result.status == "sent" and len(smtp_server.messages) == 1


def test_an_unreachable_server_and_a_wrong_password_are_named(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    closed = channel_tests._mail_config(smtp_server, port=channel_tests._free_port())
    down = mail_settings.model_copy(update={"alert_channels": {"mail": closed}})
    with pytest.raises(ReportSendError, match=r"ConnectionRefusedError") as failure:
        send_report(down, period=report_period.label, who_am_i=_kim)
    assert "메일을 보내지 못했습니다" in failure.value.text("ko")
    wrong = channel_tests._mail_config(smtp_server, password="s3cret-wrong")  # noqa: S106
    refused = mail_settings.model_copy(update={"alert_channels": {"mail": wrong}})
    with pytest.raises(ReportSendError, match=r"SMTP 535") as failure:
        send_report(refused, period=report_period.label, who_am_i=_kim)
    assert "s3cret-wrong" not in failure.value.text("en") + failure.value.text("ko")
    assert not [e for e in _sends(mail_settings) if e.reason_code == "sent"]
    assert smtp_server.messages == []


def test_due_sends_on_the_scheduled_working_day_only(
    mail_settings: Settings, smtp_server: Inbox
) -> None:
    # Monday 5 October 2026 is the substitute holiday of 개천절: the week 40 digest waits
    holiday = send_report(mail_settings, due=True, who_am_i=_kim, clock=_at(2026, 10, 5))
    assert [(r.kind, r.status, r.next_day) for r in holiday] == [
        ("weekly", "not_due", dt.date(2026, 10, 6)),
        ("monthly", "not_due", dt.date(2026, 11, 2)),
    ]
    assert smtp_server.messages == []
    (week,) = send_report(mail_settings, "weekly", due=True, who_am_i=_kim, clock=_at(2026, 10, 6))
    assert (week.status, week.period and week.period.label) == ("sent", "2026-W40")
    # the monthly digest of December 2026: 1 January is a holiday, then a weekend
    new_year = send_report(mail_settings, "monthly", due=True, who_am_i=_kim, clock=_at(2027, 1, 1))
    assert [r.status for r in new_year] == ["not_due"]
    (month,) = send_report(mail_settings, "monthly", due=True, who_am_i=_kim, clock=_at(2027, 1, 4))
    assert (month.status, month.period and month.period.label) == ("sent", "2026-12")
    # cron runs it again the same day: nothing goes twice
    (rerun,) = send_report(mail_settings, "monthly", due=True, who_am_i=_kim, clock=_at(2027, 1, 4))
    assert rerun.status == "already_sent" and len(smtp_server.messages) == 2
    # the day is the local day: 23:30 UTC on 3 January is 08:30 on the 4th in Seoul
    late = lambda: dt.datetime(2027, 1, 3, 23, 30, tzinfo=dt.UTC)  # noqa: E731
    (utc,) = send_report(mail_settings, "monthly", due=True, who_am_i=_kim, clock=late)
    assert utc.status == "already_sent"


def test_a_schedule_turned_off_is_never_due(mail_settings: Settings) -> None:
    off = mail_settings.model_copy(
        update={"report_schedule": ReportScheduleConfig(weekly=None, monthly=1)}
    )
    results = send_report(off, due=True, who_am_i=_kim, clock=_at(2026, 10, 6))
    assert [(r.kind, r.status, r.next_day) for r in results] == [
        ("weekly", "not_due", None),
        ("monthly", "not_due", dt.date(2026, 11, 2)),
    ]


def test_what_is_refused_before_anything_is_sent(
    mail_settings: Settings, smtp_server: Inbox, report_period: Period
) -> None:
    from auditlens.errors import AuditlensError, ConfigError
    from auditlens.identity import IdentityError
    from auditlens.reports.period import PeriodError

    nobody = mail_settings.model_copy(update={"report_recipients": []})
    with pytest.raises(ConfigError, match="no recipients") as failure:
        send_report(nobody, period=report_period.label, who_am_i=_kim)
    assert "받을 사람이 없습니다" in failure.value.text("ko")
    with pytest.raises(BadRecipients, match="not an e-mail address: ciso") as bad:
        send_report(mail_settings, period=report_period.label, to=["ciso"], who_am_i=_kim)
    assert bad.value.exit_code == 2 and "전자우편 주소가 아닙니다" in bad.value.text("ko")
    with pytest.raises(ConfigError, match="no e-mail channel"):
        send_report(mail_settings.model_copy(update={"alert_channels": {}}), who_am_i=_kim)
    two = {
        "mail": mail_settings.alert_channels["mail"],
        "other": mail_settings.alert_channels["mail"],
    }
    with pytest.raises(AuditlensError, match="--channel"):
        send_report(mail_settings.model_copy(update={"alert_channels": two}), who_am_i=_kim)
    assert (
        mail_channel(mail_settings.model_copy(update={"alert_channels": two}), "other").name
        == "other"
    )
    with pytest.raises(AuditlensError, match="no e-mail channel of that name"):
        mail_channel(mail_settings, "nope")
    with pytest.raises(PeriodError, match="leave out --period"):
        send_report(mail_settings, period="2026-09", due=True, who_am_i=_kim)
    with pytest.raises(PeriodError):
        send_report(mail_settings, "quarterly", "2026-Q3", who_am_i=_kim)
    with pytest.raises(IdentityError):
        send_report(mail_settings, period="2026-09", who_am_i=lambda: "stranger")
    assert smtp_server.messages == [] and _sends(mail_settings) == []


def _toml(settings: Settings, inbox: Inbox, root: Path) -> Path:
    """An auditlens.toml for the CLI: the copy's store, the local server, kim's roles."""
    path = root / "auditlens.toml"
    path.write_text(
        f"""\
store_url = "{settings.store_url.get_secret_value()}"
data_dir = "{settings.data_dir}"
report_recipients = {json.dumps(TEAM)}

[principals]
kim = ["analyst"]

[alert_channels.mail]
kind = "email"
host = "127.0.0.1"
port = {inbox.port}
username = "auditlens"
sender = "auditlens@bank.example"
ca_file = "{inbox.ca_file}"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_command_in_both_languages_with_the_password_from_the_environment(
    mail_settings: Settings,
    smtp_server: Inbox,
    report_period: Period,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
) -> None:
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    env = {
        "AUDITLENS_CONFIG": str(_toml(mail_settings, smtp_server, tmp_path)),
        "AUDITLENS_ALERT_CHANNELS__MAIL__PASSWORD": "pa55",
    }
    args = ["--lang", lang, "report", "send", "--period", report_period.label]
    runner = CliRunner()
    sent = runner.invoke(app, [*args, "--lang", "en"], env=env)
    assert sent.exit_code == 0, sent.output
    again = runner.invoke(app, args, env=env)
    assert again.exit_code == 0, again.output
    if lang == "ko":
        assert "월간 요약 메일" in sent.output and "3명에게 보냈습니다" in sent.output
        assert "이미 보냈습니다" in again.output and "--force" in again.output
    else:
        assert "sent the monthly digest" in sent.output and "3 recipient(s)" in sent.output
        assert "already on" in again.output and "--force" in again.output
    assert "pa55" not in sent.output + again.output
    assert len(smtp_server.messages) == 1
    assert _received(smtp_server)["Content-Language"] == "en"  # --lang of the digest
    bad = runner.invoke(app, [*args[:4], "--period", "2026-13"], env=env)
    assert bad.exit_code == 2
    assert ("기간이 아닙니다" if lang == "ko" else "is not a monthly period") in bad.output
    wrong = runner.invoke(app, [*args, "--kind", "yearly"], env=env)
    assert wrong.exit_code == 2 and "weekly" in wrong.output
    smtp_server.reply = "451 4.3.0 try later"
    failed = runner.invoke(app, [*args, "--force"], env=env)
    assert failed.exit_code == 4
    assert re.search("보내지 못했습니다" if lang == "ko" else "was not sent", failed.output)
