"""Build the configured alert channels: one per ``[alert_channels.NAME]``.

Apart from alerts/channels.py so that the Channel contract never imports its own
subclasses (email.py and webhooks.py import channels.py; an import-linter contract keeps
that one-way).
"""

from __future__ import annotations

from typing import Any

from auditlens.alerts.channels import Channel, ConsoleChannel, FileChannel
from auditlens.alerts.email import EmailChannel
from auditlens.alerts.webhooks import PagerDutyChannel, SlackChannel, TeamsChannel
from auditlens.config import (
    EmailChannelConfig,
    FileChannelConfig,
    PagerDutyChannelConfig,
    Settings,
    SlackChannelConfig,
    TeamsChannelConfig,
)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel per ``[alert_channels.NAME]`` of the settings (not yet connected)."""
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
