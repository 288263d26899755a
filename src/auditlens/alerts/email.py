"""The e-mail channel: SMTP with STARTTLS (or implicit TLS) and AUTH, HTML + plain text.

Example::

    >>> cfg = EmailChannelConfig(host="127.0.0.1", port=smtp_port, security="none",
    ...                          sender="auditlens@bank.example",
    ...                          recipients=["audit-team@bank.example"])
    >>> EmailChannel("team-mail", config=cfg).send(alert).status_code
    250
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from auditlens.alerts.channels import Channel, ChannelError, Delivery
from auditlens.alerts.message import Message
from auditlens.config import EmailChannelConfig
from auditlens.redaction import scrub
from auditlens.store.alerts import Alert
from auditlens.vocabulary import Severity

#: SMTP reply codes worth retrying (4xx: the server is temporarily unable).
_TEMPORARY = range(400, 500)


class EmailChannel(Channel):
    """Sends each alert (or digest) as one multipart/alternative e-mail."""

    kind = "email"

    def __init__(self, name: str, *, config: EmailChannelConfig, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.config = config

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Connect, secure, log in, send; raise ChannelError with the SMTP reason."""
        cfg = self.config
        to = list(dict.fromkeys([*cfg.recipients, *message.recipients]))
        if not to:
            raise ChannelError(
                f"{self.label}: no recipients",
                permanent=True,
                hint="set recipients of the channel or of the routing rule",
                ko=f"{self.label}: 받는 사람이 없습니다",
                ko_hint="채널이나 라우팅 규칙에 받는 사람을 지정하십시오",
            )
        return self.send_mail(build_email(message, sender=cfg.sender, to=to))

    def send_mail(self, mail: EmailMessage) -> Delivery:
        """Send a built e-mail to the addresses of its ``To`` header through this
        channel's SMTP server (secured and logged in as configured); raise ChannelError
        with the SMTP reason, the password masked. The report digest goes out this way."""
        cfg = self.config
        password = cfg.password.get_secret_value() if cfg.password else ""
        try:
            with self._connect() as smtp:
                if cfg.username:
                    smtp.login(cfg.username, password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise ChannelError(
                self._mask(f"{self.label}: SMTP {exc.smtp_code} {text}", password),
                status_code=exc.smtp_code,
                permanent=exc.smtp_code not in _TEMPORARY,
                ko=self._mask(
                    f"{self.label}: 메일 서버가 SMTP {exc.smtp_code}로 거부했습니다 {text}",
                    password,
                ),
            ) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise ChannelError(
                self._mask(f"{self.label}: {type(exc).__name__}: {exc}", password),
                ko=self._mask(
                    f"{self.label}: 메일을 보내지 못했습니다 ({type(exc).__name__}: {exc})",
                    password,
                ),
            ) from None
        if refused:
            raise ChannelError(
                f"{self.label}: refused recipients {sorted(refused)}",
                permanent=True,
                ko=f"{self.label}: 메일 서버가 받는 사람을 거부했습니다 {sorted(refused)}",
            )
        count = len(getaddresses([str(mail["To"] or "")]))
        return Delivery(250, f"sent to {count} recipient(s), {mail['Message-ID']}")

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        smtp: smtplib.SMTP
        if cfg.security == "ssl":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(
                cfg.host,
                cfg.port,
                timeout=self.timeout,
                local_hostname=socket.getfqdn() or "localhost",
            )
            if cfg.security == "starttls":
                smtp.starttls(context=context)
        return smtp

    @staticmethod
    def _mask(text: str, password: str) -> str:
        # a server may echo the AUTH PLAIN / LOGIN exchange: base64 of the password
        return scrub(text, [password])

    def secret_values(self) -> list[str]:
        """The SMTP password."""
        return [self.config.password.get_secret_value()] if self.config.password else []


def build_email(message: Message, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """A multipart/alternative e-mail: plain text first, then the same as HTML."""
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["X-Auditlens-Severity"] = message.severity
    mail.set_content(message.plain_text())
    mail.add_alternative(email_html(message), subtype="html")
    return mail


def email_html(message: Message) -> str:
    """The HTML part: a title, a table of facts, the reasons and the link."""
    esc = html.escape
    colours: dict[str, str] = {
        Severity.CRITICAL: "#b00020",
        Severity.HIGH: "#d35400",
        Severity.MEDIUM: "#b7950b",
    }
    colour = colours.get(message.severity, "#555555")
    rows = "".join(
        f"<tr><th align='left' style='padding:2px 12px 2px 0'>{esc(n)}</th><td>{esc(v)}</td></tr>"
        for n, v in message.facts
    )
    reasons = "".join(f"<li>{esc(line)}</li>" for line in message.lines)
    link = (
        f"<p><a href='{esc(message.link, quote=True)}'>{esc(message.link_text)}</a></p>"
        if message.link
        else ""
    )
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<h2 style='color:{colour}'>{esc(message.title)}</h2>"
        f"<table>{rows}</table>"
        + (f"<h3>{esc(message.lines_title)}</h3><ul>{reasons}</ul>" if reasons else "")
        + link
        + "</body></html>"
    )
