"""Alert channels: Slack, Microsoft Teams, PagerDuty (HTTP), e-mail (alerts/email.py), and a
local JSON Lines file and the console for demos and archives.

A channel only sends; it raises :class:`ChannelError` on failure and the dispatcher
(alerts/dispatch.py) decides about retries. Secrets (webhook URLs, routing keys,
passwords) never appear in an error message: they are masked before anything is raised.

Example::

    >>> with SlackChannel("ops", webhook_url=SecretStr(url)) as slack:
    ...     slack.send(alert)
    Delivery(status_code=200, detail='ok')
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx
from pydantic import SecretStr

from auditlens.alerts.message import Message, render, render_digest
from auditlens.config import (
    EmailChannelConfig,
    FileChannelConfig,
    PagerDutyChannelConfig,
    Settings,
    SlackChannelConfig,
    TeamsChannelConfig,
)
from auditlens.errors import AuditlensError
from auditlens.store.alerts import Alert

#: HTTP statuses worth retrying; other 4xx mean the request itself is wrong.
RETRYABLE_STATUS = frozenset({408, 425, 429})


class ChannelError(AuditlensError):
    """A delivery failed. ``retry_after`` is the wait a server asked for (HTTP 429/503)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.retry_after = retry_after
        #: True when retrying cannot help (bad payload, unknown webhook): dead-letter now.
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """What a channel reported for a successful send."""

    status_code: int | None
    detail: str


class Channel(ABC):
    """Where alerts go. Subclasses implement :meth:`post` of a rendered message."""

    kind: ClassVar[str] = "?"
    #: True when the channel can take back an alert it announced (PagerDuty resolve).
    supports_resolve: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        *,
        language: str = "ko",
        link_template: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.language = language
        self.link_template = link_template
        self.timeout = timeout

    def send(self, alert: Alert, recipients: Sequence[str] = ()) -> Delivery:
        """Announce one alert; raises ChannelError on failure."""
        return self.post(render(alert, self.language, self.link_template, recipients), [alert])

    def send_digest(self, alerts: Sequence[Alert], recipients: Sequence[str] = ()) -> Delivery:
        """Announce several alerts in one message; raises ChannelError on failure."""
        message = render_digest(alerts, self.language, self.link_template, recipients)
        return self.post(message, list(alerts))

    def resolve(self, alert: Alert) -> Delivery:
        """Take back an announced alert (closed or dismissed); only some channels can."""
        raise ChannelError(
            f"channel {self.name} ({self.kind}) cannot resolve alerts", permanent=True
        )

    @abstractmethod
    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Deliver a rendered message about ``alerts``."""

    def close(self) -> None:  # noqa: B027 - most channels hold nothing to release
        """Release connections (no-op by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- HTTP channels -------------------------------------------------------------------------


class HttpChannel(Channel):
    """A channel that POSTs JSON to a secret URL; maps HTTP failures to ChannelError."""

    ok_status: ClassVar[frozenset[int]] = frozenset({200, 201, 202, 204})

    def __init__(self, name: str, *, secrets: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._secrets = [s for s in secrets if s]
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        """The channel's HTTP client (created on first use)."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def post_json(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        """POST ``payload``; return the response of a success, else raise ChannelError."""
        try:
            response = self.client.post(url, json=payload)
        except httpx.TimeoutException as exc:
            raise ChannelError(self.mask(f"{self.kind} {self.name}: timed out ({exc})")) from None
        except httpx.HTTPError as exc:
            raise ChannelError(
                self.mask(f"{self.kind} {self.name}: {type(exc).__name__}: {exc}")
            ) from None
        if response.status_code in self.ok_status:
            return response
        body = self.mask(response.text[:300].strip())
        retryable = response.status_code in RETRYABLE_STATUS or response.status_code >= 500
        raise ChannelError(
            f"{self.kind} {self.name}: HTTP {response.status_code} {body}".rstrip(),
            status_code=response.status_code,
            retry_after=retry_after_seconds(response),
            permanent=not retryable,
        )

    def mask(self, text: str) -> str:
        """``text`` with every secret of this channel replaced by ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (delta or HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    sent = response.headers.get("date")
    base = email.utils.parsedate_to_datetime(sent) if sent else dt.datetime.now(dt.UTC)
    return max(0.0, (when - base).total_seconds())


class SlackChannel(HttpChannel):
    """Slack incoming webhook: a Block Kit message with a plain-text fallback."""

    kind = "slack"

    def __init__(self, name: str, *, webhook_url: SecretStr, **kwargs: Any) -> None:
        url = webhook_url.get_secret_value()
        super().__init__(name, secrets=[url, url.rsplit("/", 3)[-1]], **kwargs)
        self._url = url

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """POST the Block Kit payload (:func:`slack_payload`)."""
        response = self.post_json(self._url, slack_payload(message))
        return Delivery(response.status_code, response.text[:100])


def slack_payload(message: Message) -> dict[str, Any]:
    """Block Kit: header, fields, reasons and a link button (Slack's size limits kept)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"[:2000]}
                    for name, value in message.facts[:10]
                ],
            }
        )
    if message.lines:
        text = f"*{message.lines_title}*\n" + "\n".join(f"• {line}" for line in message.lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": message.link_text},
                        "url": message.link,
                    }
                ],
            }
        )
    return {"text": message.plain_text()[:3000], "blocks": blocks}


class TeamsChannel(HttpChannel):
    """Microsoft Teams incoming webhook / Workflows: an Adaptive Card attachment."""

    kind = "teams"

    def __init__(self, name: str, *, webhook_url: SecretStr, **kwargs: Any) -> None:
        url = webhook_url.get_secret_value()
        super().__init__(name, secrets=[url, url.split("?", 1)[-1]], **kwargs)
        self._url = url

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """POST the Adaptive Card message (:func:`teams_payload`)."""
        response = self.post_json(self._url, teams_payload(message))
        return Delivery(response.status_code, response.text[:100])


def teams_payload(message: Message) -> dict[str, Any]:
    """A message with one Adaptive Card (1.4): title, FactSet, reasons, OpenUrl action."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Attention" if message.severity in ("high", "critical") else "Default",
        },
        {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in message.facts]},
    ]
    if message.lines:
        body.append({"type": "TextBlock", "text": message.lines_title, "weight": "Bolder"})
        body.append(
            {"type": "TextBlock", "text": "\n".join(f"- {x}" for x in message.lines), "wrap": True}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": message.link_text, "url": message.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


class PagerDutyChannel(HttpChannel):
    """PagerDuty Events API v2: trigger with a dedup_key per alert, resolve on close."""

    kind = "pagerduty"
    supports_resolve = True
    #: auditlens severity -> PagerDuty severity.
    SEVERITY: ClassVar[dict[str, str]] = {
        "critical": "critical",
        "high": "error",
        "medium": "warning",
        "low": "info",
    }

    def __init__(
        self,
        name: str,
        *,
        routing_key: SecretStr,
        events_url: str = "https://events.pagerduty.com/v2/enqueue",
        **kwargs: Any,
    ) -> None:
        key = routing_key.get_secret_value()
        super().__init__(name, secrets=[key], **kwargs)
        self._key = key
        self._url = events_url

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Trigger one incident per alert (digests are refused by the configuration)."""
        if len(alerts) != 1:
            raise ChannelError("pagerduty takes one alert per event, not a digest", permanent=True)
        payload = pagerduty_trigger(alerts[0], message, self._key)
        response = self.post_json(self._url, payload)
        return Delivery(response.status_code, self.mask(response.text[:200]))

    def resolve(self, alert: Alert) -> Delivery:
        """Resolve the incident of ``alert`` (same dedup_key)."""
        payload = {
            "routing_key": self._key,
            "event_action": "resolve",
            "dedup_key": dedup_key(alert),
        }
        response = self.post_json(self._url, payload)
        return Delivery(response.status_code, self.mask(response.text[:200]))


def dedup_key(alert: Alert) -> str:
    """PagerDuty's dedup_key of an alert (stable: re-sends update, not duplicate)."""
    return f"auditlens-{alert.id}-{alert.dedup_key}"[:255]


def pagerduty_trigger(alert: Alert, message: Message, routing_key: str) -> dict[str, Any]:
    """The Events API v2 trigger event of an alert."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "payload": {
            "summary": message.title[:1024],
            "source": "auditlens",
            "severity": PagerDutyChannel.SEVERITY.get(alert.severity, "warning"),
            "timestamp": alert.created_at.isoformat(),
            "component": alert.user_id,
            "group": alert.department or "",
            "class": alert.scenario,
            "custom_details": {
                "alert_id": alert.id,
                "user_id": alert.user_id,
                "risk": round(alert.risk, 1),
                "severity": alert.severity,
                "day": alert.window.isoformat(),
                "reasons": message.lines,
                "model_sha256": alert.model_sha256,
            },
        },
        "client": "auditlens",
    }
    if message.link:
        event["links"] = [{"href": message.link, "text": message.link_text}]
        event["client_url"] = message.link
    return event


# --- local channels ------------------------------------------------------------------------


class FileChannel(Channel):
    """Append one JSON object per alert (or digest) to a local JSON Lines file."""

    kind = "file"

    def __init__(self, name: str, *, path: Path, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.path = path

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Append the record and flush it to disk before reporting success."""
        record = {
            "channel": self.name,
            "title": message.title,
            "severity": message.severity,
            "facts": dict(message.facts),
            "reasons": message.lines,
            "link": message.link,
            "recipients": message.recipients,
            "alerts": [
                {
                    "id": a.id,
                    "user_id": a.user_id,
                    "risk": round(a.risk, 2),
                    "severity": a.severity,
                    "window": a.window.isoformat(),
                    "scenario": a.scenario,
                    "dedup_key": a.dedup_key,
                }
                for a in alerts
            ],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
        except OSError as exc:
            raise ChannelError(
                f"file channel {self.name}: cannot write {self.path}: {exc}",
                hint="check the path and its permissions",
            ) from None
        return Delivery(None, f"appended to {self.path}")


class ConsoleChannel(Channel):
    """Print one line per alert on standard output (the stream in force at send time)."""

    kind = "console"

    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Print the title and the first reason."""
        first = f" — {message.lines[0]}" if message.lines else ""
        print(f"ALERT {message.title}{first}", file=sys.stdout, flush=True)
        return Delivery(None, "printed")


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel per ``[alert_channels.NAME]`` of the settings (not yet connected)."""
    from auditlens.alerts.email import EmailChannel

    common: dict[str, Any] = {
        "language": settings.language,
        "link_template": settings.alert_link_template or None,
        "timeout": settings.alert_timeout_seconds,
    }
    out: dict[str, Channel] = {}
    for name, cfg in settings.alert_channels.items():
        channel: Channel
        if isinstance(cfg, SlackChannelConfig):
            channel = SlackChannel(name, webhook_url=cfg.webhook_url, **common)
        elif isinstance(cfg, TeamsChannelConfig):
            channel = TeamsChannel(name, webhook_url=cfg.webhook_url, **common)
        elif isinstance(cfg, PagerDutyChannelConfig):
            channel = PagerDutyChannel(
                name, routing_key=cfg.routing_key, events_url=cfg.events_url, **common
            )
        elif isinstance(cfg, EmailChannelConfig):
            channel = EmailChannel(name, config=cfg, **common)
        elif isinstance(cfg, FileChannelConfig):
            channel = FileChannel(name, path=cfg.path, **common)
        else:
            channel = ConsoleChannel(name, **common)
        out[name] = channel
    return out
