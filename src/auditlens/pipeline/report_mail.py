"""Sending the e-mail digest of a report (``auditlens report send``), once per period and
recipient set, on its scheduled day when asked (``--due``).

The digest (``reports/digest.py``) goes out through the SMTP settings of an e-mail alert
channel (``[alert_channels.NAME] kind = "email"``: host, port, TLS, login; the password
from the environment or the file, never printed: ``EmailChannel`` masks it in every
error) to ``report_recipients`` or the addresses given. The acting principal is the
operating-system account, a known principal with any role (as ``auditlens report``).

Every attempt is one audit entry (action ``report_send``, target ``report:KIND:LABEL``):
who, the period, how many recipients, the message id, the digest of the report's numbers
and what it rests on (watermark, models, config hash, trail head). Like the alert
deliveries' entries it holds no address: the recipient set is kept as a fingerprint
(``recipients_sha256``), which is what makes a send idempotent — a period already sent to
the same set is not sent again unless forced. A failed send is recorded as ``failed``
(the SMTP status code, not the server's text, which may echo addresses) and raises
:class:`ReportSendError`; only ``sent`` entries count as sent.

Example::

    results = send_report(settings, "weekly", due=True)    # from cron, every day
    [(r.period.label, r.status) for r in results]          # [('2026-W37', 'sent')]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from auditlens.alerts.channels import ChannelError
from auditlens.alerts.email import EmailChannel
from auditlens.calendar import BusinessCalendar
from auditlens.config import EmailChannelConfig, Settings
from auditlens.errors import AuditlensError, ConfigError
from auditlens.i18n import Lang
from auditlens.identity import Acting
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.pipeline.reporting import last_period, report_acting
from auditlens.reports.digest import compose, digest_message
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period, PeriodError, PeriodKind
from auditlens.reports.schedule import SCHEDULED, due_periods, next_send_day
from auditlens.store.audit import AuditEntry, NewEntry
from auditlens.store.locks import store_lock
from auditlens.store.repo import Store

#: The audit action of a digest send.
ACTION: Final = "report_send"
#: An address as ``report_recipients`` takes it (one @, a dot in the domain, no spaces).
_ADDRESS: Final = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
SendStatus = Literal["sent", "already_sent", "not_due"]


class BadRecipients(AuditlensError):
    """A recipient given that is no e-mail address (exit 2, as a bad option is)."""

    exit_code = 2


class ReportSendError(AuditlensError):
    """The mail server did not take the digest (exit 4, as a dead-lettered delivery)."""

    exit_code = 4


@dataclass(frozen=True)
class SendResult:
    """What ``report send`` did for one period (or one kind, when nothing was due)."""

    kind: PeriodKind
    status: SendStatus
    period: Period | None = None
    recipients: int = 0
    message_id: str | None = None
    #: The entry written (sent), or the earlier send found (already_sent).
    entry: AuditEntry | None = None
    #: The next day a digest of this kind is due (not_due); None without a schedule.
    next_day: dt.date | None = None


def recipients_fingerprint(addresses: Sequence[str]) -> str:
    """sha256 of a recipient set (order, case and repeats do not matter): what the trail
    keeps instead of the addresses."""
    normal = sorted({a.strip().lower() for a in addresses})
    return hashlib.sha256("\n".join(["auditlens-report-recipients", *normal]).encode()).hexdigest()


def mail_channel(settings: Settings, name: str | None = None) -> EmailChannel:
    """The e-mail alert channel the digest goes through: ``name``, else the only one.

    Raises:
        ConfigError: no e-mail channel is configured.
        AuditlensError: no such e-mail channel, or several without ``name``.
    """
    mail = {n: c for n, c in settings.alert_channels.items() if isinstance(c, EmailChannelConfig)}
    known = ", ".join(sorted(mail)) or "-"
    if name is not None and name not in mail:
        raise AuditlensError(
            f"--channel {name}: no e-mail channel of that name (e-mail channels: {known})",
            ko=f"--channel {name}: 그런 이름의 전자우편 채널이 없습니다 (전자우편 채널: {known})",
        )
    if name is None and not mail:
        raise ConfigError(
            "no e-mail channel is configured to send the digest through",
            hint='add [alert_channels.NAME] with kind = "email" (docs/reports-email.md)',
            ko="요약 메일을 보낼 전자우편 채널이 설정되어 있지 않습니다",
            ko_hint='kind = "email"인 [alert_channels.NAME]을 추가하십시오 (docs/reports-email.md)',
        )
    if name is None and len(mail) > 1:
        raise AuditlensError(
            f"several e-mail channels are configured: choose one with --channel ({known})",
            ko=f"전자우편 채널이 여러 개입니다: --channel로 하나를 고르십시오 ({known})",
        )
    chosen = name if name is not None else next(iter(mail))
    return EmailChannel(
        chosen,
        config=mail[chosen],
        language=settings.language,
        timeout=settings.alert_timeout_seconds,
    )


def send_report(
    settings: Settings,
    kind: PeriodKind | None = None,
    period: str | None = None,
    *,
    to: Sequence[str] = (),
    lang: Lang | None = None,
    channel: str | None = None,
    force: bool = False,
    due: bool = False,
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> list[SendResult]:
    """Send the digest of ``period`` (``2026-W37``, ``2026-09``; its kind is read from it),
    or with ``due`` of every period whose scheduled day is today (of ``kind``, else
    weekly and monthly), or else of the last finished period of ``kind`` (weekly).

    Raises:
        PeriodError: an unreadable period, a quarterly one, or ``period`` with ``due``.
        ConfigError: no recipients, or no e-mail channel configured.
        BadRecipients: an address in ``to`` is no e-mail address.
        ReportSendError: the mail server did not take the digest (nothing sent).
        IdentityError: the acting principal is not known.
    """
    now = clock()
    recipients = _recipients(to or settings.report_recipients)
    sender = mail_channel(settings, channel)
    acting = report_acting(settings, who_am_i)
    if due:
        if period is not None:
            raise PeriodError(
                "--due picks the periods itself: leave out --period",
                ko="--due는 보낼 기간을 스스로 정합니다: --period를 빼십시오",
            )
        today = now.astimezone(zoneinfo.ZoneInfo(settings.timezone)).date()
        return _send_due(settings, kind, today, recipients, sender, acting, lang, force, now)
    chosen = _period(settings, kind, period, now)
    send = _Send(settings, recipients, sender, acting, lang or settings.language, now)
    return [send.one(chosen, force=force, scheduled=False)]


def _send_due(
    settings: Settings,
    kind: PeriodKind | None,
    today: dt.date,
    recipients: list[str],
    sender: EmailChannel,
    acting: Acting,
    lang: Lang | None,
    force: bool,
    now: dt.datetime,
) -> list[SendResult]:
    calendar = BusinessCalendar.from_settings(settings)
    schedule = settings.report_schedule
    send = _Send(settings, recipients, sender, acting, lang or settings.language, now)
    results = []
    for each in (kind,) if kind else SCHEDULED:
        periods = due_periods(today, each, schedule, calendar)
        results += [send.one(p, force=force, scheduled=True) for p in periods]
        if not periods:
            upcoming = next_send_day(today, each, schedule, calendar)
            results.append(SendResult(kind=each, status="not_due", next_day=upcoming))
    return results


def _period(
    settings: Settings, kind: PeriodKind | None, text: str | None, now: dt.datetime
) -> Period:
    """The period named (its kind read from its form unless given), else the last
    finished one of ``kind`` (weekly)."""
    if kind is not None and kind not in SCHEDULED:
        raise PeriodError(
            f"report send takes a weekly or monthly period, not {kind}",
            ko="report send는 주간 또는 월간 기간만 보냅니다",
        )
    if text is None:
        return last_period(kind or "weekly", settings, now)
    if kind is not None:
        found = Period.parse(text, kind)
    else:
        found = Period.parse(text, "weekly" if "W" in text.upper() else "monthly")
    return found


def _recipients(addresses: Sequence[str]) -> list[str]:
    found = list(dict.fromkeys(a.strip() for a in addresses if a.strip()))
    bad = [a for a in found if not _ADDRESS.fullmatch(a)]
    if bad:
        raise BadRecipients(
            f"--to: not an e-mail address: {', '.join(bad)}",
            ko=f"--to: 전자우편 주소가 아닙니다: {', '.join(bad)}",
        )
    if not found:
        raise ConfigError(
            "no recipients for the digest",
            hint="set report_recipients in auditlens.toml or give --to",
            ko="요약 메일을 받을 사람이 없습니다",
            ko_hint="auditlens.toml에 report_recipients를 설정하거나 --to를 쓰십시오",
        )
    return found


@dataclass(frozen=True)
class _Send:
    """One invocation's sender: the same recipients, channel, principal and clock."""

    settings: Settings
    recipients: list[str]
    channel: EmailChannel
    acting: Acting
    lang: Lang
    now: dt.datetime

    def one(self, period: Period, *, force: bool, scheduled: bool) -> SendResult:
        """Send ``period``'s digest unless it went to the same recipients already."""
        fingerprint = recipients_fingerprint(self.recipients)
        target = f"report:{period.kind}:{period.label}"
        with Store.open(self.settings) as store:
            with store_lock(store.engine, "report-send", what="auditlens report send"):
                earlier = _earlier(store, target, fingerprint)
                if earlier is not None and not force:
                    count = len(self.recipients)
                    found = _message_id(earlier)
                    return SendResult(period.kind, "already_sent", period, count, found, earlier)
                data = build_report(store, self.settings, period, self.lang, now=self.now)
                return self._send(store, data, target, fingerprint, force=force, due=scheduled)

    def _send(
        self,
        store: Store,
        data: ReportData,
        target: str,
        fingerprint: str,
        *,
        force: bool,
        due: bool,
    ) -> SendResult:
        mail = digest_message(compose(data), sender=self.channel.config.sender, to=self.recipients)
        message_id = str(mail["Message-ID"])
        criteria = _criteria(data, len(self.recipients), fingerprint, message_id)
        criteria |= {"channel": self.channel.name, "forced": force, "scheduled": due}
        try:
            delivery = self.channel.send_mail(mail)
        except ChannelError as exc:
            criteria |= {"status_code": exc.status_code, "error": type(exc).__name__}
            self._record(store, target, "failed", f"not sent: SMTP {exc.status_code}", criteria)
            raise _failed(data.period, exc) from None
        entry = self._record(store, target, "sent", delivery.detail, criteria)
        count = len(self.recipients)
        return SendResult(data.period.kind, "sent", data.period, count, message_id, entry)

    def _record(
        self, store: Store, target: str, outcome: str, note: str, criteria: dict[str, object]
    ) -> AuditEntry:
        entry = NewEntry(
            actor=self.acting.actor.id,
            action=ACTION,
            target=target,
            reason_code=outcome,
            note=note,
            criteria=criteria,
        )
        with store.engine.begin() as conn:
            return store.trail.append(conn, entry, self.now)


def _criteria(
    data: ReportData, recipients: int, fingerprint: str, message_id: str
) -> dict[str, object]:
    footer = data.footer
    return {
        "period": [data.period.start.isoformat(), data.period.end.isoformat()],
        "lang": data.lang,
        "recipients": recipients,
        "recipients_sha256": fingerprint,
        "message_id": message_id,
        "pseudonymised": data.pseudonymised,
        "digest": footer.digest,
        "data_batch_id": footer.data_batch_id,
        "data_watermark": footer.data_watermark,
        "models": list(footer.models),
        "config_hash": footer.config_hash,
        "audit_head_seq": footer.audit_head_seq,
        "audit_head_hash": footer.audit_head_hash,
    }


def _earlier(store: Store, target: str, fingerprint: str) -> AuditEntry | None:
    """The newest ``sent`` entry of ``target`` to the recipient set ``fingerprint``."""
    sent = [
        e
        for e in store.audit.entries(target=target, actions=(ACTION,))
        if e.reason_code == "sent" and e.criteria.get("recipients_sha256") == fingerprint
    ]
    return sent[-1] if sent else None


def _message_id(entry: AuditEntry) -> str | None:
    found = entry.criteria.get("message_id")
    return None if found is None else str(found)


def _failed(period: Period, exc: ChannelError) -> ReportSendError:
    return ReportSendError(
        f"the {period.kind} digest {period.label} was not sent: {exc.text('en')}",
        hint="nothing was recorded as sent; run the command again once the mail server takes mail",
        ko=f"{period.label} 요약 메일을 보내지 못했습니다: {exc.text('ko')}",
        ko_hint="보낸 것으로 기록하지 않았습니다; 메일 서버가 복구되면 명령을 다시 실행하십시오",
    )
