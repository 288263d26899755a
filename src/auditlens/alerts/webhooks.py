"""Webhook channels: Slack (Block Kit), Microsoft Teams (Adaptive Card) and PagerDuty
(Events API v2). The payload builders are plain functions so their shape can be checked.

Example::

    >>> with SlackChannel("ops", webhook_url=SecretStr(webhook_url)) as slack:
    ...     slack.send(alert)
    Delivery(status_code=200, detail='ok')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import SecretStr

from auditlens.alerts.channels import ChannelError, Delivery, HttpChannel
from auditlens.alerts.message import Message
from auditlens.store.alerts import Alert
from auditlens.vocabulary import Severity, severity_rank


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
            "color": "Attention"
            if severity_rank(message.severity) >= Severity.HIGH.rank
            else "Default",
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
        Severity.CRITICAL: "critical",
        Severity.HIGH: "error",
        Severity.MEDIUM: "warning",
        Severity.LOW: "info",
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
            raise ChannelError(
                "pagerduty takes one alert per event, not a digest",
                permanent=True,
                ko="pagerduty는 이벤트 하나에 알림 하나만 받습니다 (묶음 알림 불가)",
            )
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
                "days": [d.isoformat() for d in alert.windows],
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
