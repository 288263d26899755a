"""Alert channels: the Channel contract, the HTTP base, a local JSON Lines file and the
console; Slack, Teams and PagerDuty are in alerts/webhooks.py, e-mail in alerts/email.py,
and alerts/factory.py builds the configured ones (so this module never imports those).

A channel only sends; it raises :class:`ChannelError` on failure and the dispatcher
(alerts/dispatch.py) decides about retries. Secrets (webhook URLs, routing keys,
passwords) never appear in an error message: they are masked before anything is raised.

Example::

    >>> FileChannel("archive", path=Path("var/alerts/alerts.jsonl")).send(alert)
    Delivery(status_code=None, detail='appended to var/alerts/alerts.jsonl')
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from auditlens.alerts.message import Message, render, render_digest
from auditlens.errors import AuditlensError, os_reason
from auditlens.redaction import scrub
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
        ko: str = "",
        ko_hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint, ko=ko, ko_hint=ko_hint)
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

    @property
    def label(self) -> str:
        """How messages name the channel: ``slack ops``, or just ``slack`` when the name is
        the kind (never ``slack slack``)."""
        return self.name if self.name == self.kind else f"{self.kind} {self.name}"

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
            f"channel {self.label} cannot resolve alerts",
            permanent=True,
            ko=f"{self.label} 채널은 알림 해소를 보낼 수 없습니다",
        )

    @abstractmethod
    def post(self, message: Message, alerts: Sequence[Alert]) -> Delivery:
        """Deliver a rendered message about ``alerts``."""

    def secret_values(self) -> list[str]:
        """The secrets this channel holds (URLs, keys, passwords); none by default."""
        return []

    def mask(self, text: str) -> str:
        """``text`` with every secret of this channel (plain, URL- or base64-encoded)
        replaced by ***."""
        return scrub(text, self.secret_values())

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


def utc_now() -> dt.datetime:
    """The real clock (tests inject their own)."""
    return dt.datetime.now(dt.UTC)


# --- HTTP channels -------------------------------------------------------------------------


class HttpChannel(Channel):
    """A channel that POSTs JSON to a secret URL; maps HTTP failures to ChannelError."""

    ok_status: ClassVar[frozenset[int]] = frozenset({200, 201, 202, 204})

    def __init__(
        self,
        name: str,
        *,
        secrets: Sequence[str] = (),
        clock: Callable[[], dt.datetime] = utc_now,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        self._secrets = [s for s in secrets if s]
        self._client: httpx.Client | None = None
        #: Reads a Retry-After date against this when the server sent no Date header.
        self.clock = clock

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
            raise ChannelError(
                self.mask(f"{self.label}: timed out ({exc})"),
                ko=self.mask(f"{self.label}: 응답 시간이 초과되었습니다 ({exc})"),
            ) from None
        except httpx.HTTPError as exc:
            raise ChannelError(
                self.mask(f"{self.label}: {type(exc).__name__}: {exc}"),
                ko=self.mask(f"{self.label}: 전송하지 못했습니다 ({type(exc).__name__}: {exc})"),
            ) from None
        if response.status_code in self.ok_status:
            return response
        body = self.mask(response.text[:300].strip())
        retryable = response.status_code in RETRYABLE_STATUS or response.status_code >= 500
        raise ChannelError(
            f"{self.label}: HTTP {response.status_code} {body}".rstrip(),
            status_code=response.status_code,
            retry_after=retry_after_seconds(response, self.clock()),
            permanent=not retryable,
            ko=f"{self.label}: 서버가 HTTP {response.status_code}로 거부했습니다 {body}".rstrip(),
        )

    def secret_values(self) -> list[str]:
        """The webhook URL and the secret parts of it, or the routing key."""
        return list(self._secrets)


def retry_after_seconds(response: httpx.Response, now: dt.datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (delta or HTTP date; a date
    counts from the response's ``Date`` header, else from ``now``)."""
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
    base = email.utils.parsedate_to_datetime(sent) if sent else now
    return max(0.0, (when - base).total_seconds())


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
                    "windows": [d.isoformat() for d in a.windows],
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
                f"{self.label}: cannot write {self.path}: {exc}",
                hint="check the path and its permissions",
                ko=f"{self.label}: {self.path}에 쓸 수 없습니다 ({os_reason(exc, 'ko')})",
                ko_hint="경로와 쓰기 권한을 확인하십시오",
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
