"""The dispatcher: delivers due outbox items with retries, backoff, dead letters and leases.

Every alert delivery is a row in the outbox (store table ``deliveries``) before anything is
sent, so nothing is lost when a channel is down or auditlens stops: a later
:func:`dispatch` picks up whatever is due. Each attempt is recorded (table
``delivery_attempts`` and the audit trail). A failure is retried after
``backoff_seconds x 2^(failures-1)`` (capped), or after exactly the wait an HTTP 429/503
``Retry-After`` asks for; after ``max_attempts`` failures, or at once when retrying cannot
help (HTTP 400/404, refused recipients), the delivery is *dead-lettered* and reported.

A dispatcher takes a lease on each item before sending; if it dies mid-send the lease
expires and the next run resends (at least once; PagerDuty's dedup_key absorbs repeats).
Time comes from the ``clock`` argument, so tests of backoff and quiet hours are exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from auditlens.alerts.channels import Channel, ChannelError, Delivery
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.audit import SAME_DATABASE, SYSTEM_ACTOR, NewEntry, Trail
from auditlens.store.outbox import OutboxItem

Clock = Callable[[], dt.datetime]
#: How channels see an alert (auditlens.privacy: the pseudonymised alert).
Disguise = Callable[[Alert], Alert]
#: Alerts in these states are no longer announced (held triggers are cancelled).
FINISHED = frozenset({"closed", "dismissed"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failing delivery."""

    max_attempts: int = 6
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 3600.0
    #: How long a dispatcher holds an item it is sending (longer than any send takes).
    lease_seconds: float = 120.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure (Retry-After wins, capped)."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        return min(self.backoff_seconds * 2.0 ** (failures - 1), self.max_backoff_seconds)


@dataclass(frozen=True)
class DeadLetter:
    """A delivery given up on, with the last error (``error`` English, ``error_ko`` the
    same in Korean; :meth:`text` picks one)."""

    delivery_id: int
    alert_id: int
    channel: str
    attempts: int
    error: str
    error_ko: str = ""

    def text(self, lang: str) -> str:
        """The last error in ``lang`` (English where no Korean was recorded)."""
        return self.error_ko or self.error if lang == "ko" else self.error


@dataclass
class DispatchReport:
    """What one dispatch pass did."""

    attempted: int = 0
    sent: int = 0
    retrying: int = 0
    cancelled: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    next_due: dt.datetime | None = None
    pending: int = 0

    def add(self, other: DispatchReport) -> None:
        """Add another pass's counts (the newest next_due and pending win)."""
        self.attempted += other.attempted
        self.sent += other.sent
        self.retrying += other.retrying
        self.cancelled += other.cancelled
        self.dead += other.dead
        self.next_due, self.pending = other.next_due, other.pending


def dispatch(
    engine: Engine,
    channels: Mapping[str, Channel],
    *,
    clock: Clock,
    policy: RetryPolicy = RetryPolicy(),
    limit: int = 500,
    trail: Trail = SAME_DATABASE,
    disguise: Disguise | None = None,
) -> DispatchReport:
    """Send every outbox item due now (at most ``limit``); return what happened.

    Digest items of the same rule and channel go out as one message. Items of alerts
    that were closed or dismissed before their trigger went out are cancelled. With
    ``disguise`` (auditlens.privacy ``alert_disguise``: pseudonymised triage) channels
    see each alert as it returns (the pseudonym instead of the user id); the store and the
    audit trail keep the alert as it is.
    """
    report = DispatchReport()
    now = clock()
    with engine.connect() as conn:
        due = AlertRepository(conn).outbox.due(now, limit=limit)
    for unit in _units(due):
        _deliver(engine, channels, unit, clock, policy, report, trail, disguise)
    report.next_due = AlertRepository(engine).outbox.next_due()
    report.pending = AlertRepository(engine).outbox.counts()["pending"]
    return report


def _units(items: Sequence[OutboxItem]) -> list[list[OutboxItem]]:
    """Single deliveries, and digest deliveries grouped per (rule, channel)."""
    units: list[list[OutboxItem]] = []
    digests: dict[tuple[str, str], list[OutboxItem]] = {}
    for item in items:
        if item.digest and item.action == "trigger":
            digests.setdefault((item.rule_id, item.channel), []).append(item)
        else:
            units.append([item])
    return units + list(digests.values())


def _deliver(
    engine: Engine,
    channels: Mapping[str, Channel],
    unit: list[OutboxItem],
    clock: Clock,
    policy: RetryPolicy,
    report: DispatchReport,
    trail: Trail = SAME_DATABASE,
    disguise: Disguise | None = None,
) -> None:
    now = clock()
    lease = now + dt.timedelta(seconds=policy.lease_seconds)
    with engine.begin() as conn:
        claimed = [item for item in unit if AlertRepository(conn).outbox.claim(item.id, now, lease)]
        pairs = [(item, AlertRepository(conn).get_alert(item.alert_id)) for item in claimed]
    live = []
    for item, alert in pairs:
        if item.action == "trigger" and alert.status in FINISHED:
            _cancel(engine, item, alert, clock(), trail)
            report.cancelled += 1
        else:
            live.append((item, alert))
    if not live:
        return
    report.attempted += len(live)
    try:
        delivery = _send(channels, live, disguise)
    except ChannelError as exc:
        error: ChannelError | None = exc
    except Exception as exc:  # a channel bug must not lose the delivery: retry, record it
        channel = channels.get(live[0][0].channel)
        text = f"{type(exc).__name__}: {exc}"
        shown = channel.mask(text) if channel is not None else text
        error = ChannelError(shown, ko=f"예상하지 못한 오류로 전송하지 못했습니다 ({shown})")
    else:
        error = None
    at = clock()
    for item, alert in live:
        if error is None:
            _record(engine, item, alert, at, trail=trail, delivery=delivery)
            report.sent += 1
            continue
        failures = item.attempts + 1
        if error.permanent or failures >= policy.max_attempts:
            _record(engine, item, alert, at, trail=trail, error=error, dead=True)
            said, said_ko = str(error), error.text("ko")
            channel = channels.get(item.channel)
            if channel is not None:  # the report names the channel once, not "slack slack:"
                said = said.removeprefix(f"{channel.label}: ")
                said_ko = said_ko.removeprefix(f"{channel.label}: ")
            report.dead.append(
                DeadLetter(item.id, item.alert_id, item.channel, failures, said, said_ko)
            )
        else:
            wait = policy.delay(failures, error.retry_after)
            _record(
                engine,
                item,
                alert,
                at,
                trail=trail,
                error=error,
                retry_at=at + dt.timedelta(seconds=wait),
            )
            report.retrying += 1


def _send(
    channels: Mapping[str, Channel],
    live: list[tuple[OutboxItem, Alert]],
    disguise: Disguise | None = None,
) -> Delivery:
    if disguise is not None:
        live = [(item, disguise(alert)) for item, alert in live]
    first, alert = live[0]
    channel = channels.get(first.channel)
    if channel is None:
        raise ChannelError(
            f"channel {first.channel!r} is not configured",
            hint="add it to [alert_channels] or requeue after fixing the configuration",
            ko=f"{first.channel!r} 채널이 설정되어 있지 않습니다",
            ko_hint="[alert_channels]에 추가하거나, 설정을 고친 뒤 다시 대기열에 넣으십시오",
        )
    if first.action == "resolve":
        return channel.resolve(alert)
    if first.digest:
        recipients = list(dict.fromkeys(r for item, _ in live for r in item.recipients))
        return channel.send_digest([a for _, a in live], recipients)
    return channel.send(alert, first.recipients)


def _record(
    engine: Engine,
    item: OutboxItem,
    alert: Alert,
    at: dt.datetime,
    *,
    delivery: Delivery | None = None,
    error: ChannelError | None = None,
    dead: bool = False,
    retry_at: dt.datetime | None = None,
    trail: Trail = SAME_DATABASE,
) -> None:
    """Store the attempt, the item's new state and its audit entry in one transaction."""
    ok = error is None
    status = "sent" if ok else ("dead" if dead else "pending")
    code = delivery.status_code if delivery else (error.status_code if error else None)
    with engine.begin() as conn:
        attempt = AlertRepository(conn).outbox.record_attempt(
            item,
            now=at,
            ok=ok,
            status_code=code,
            retry_after=error.retry_after if error else None,
            error=None if error is None else str(error),
            error_ko=None if error is None else error.text("ko"),
            detail=delivery.detail if delivery else None,
            next_status=status,
            not_before=retry_at,
        )
        trail.append(
            conn,
            NewEntry(
                actor=SYSTEM_ACTOR,
                action="deliver",
                target=f"delivery:{item.id}",
                subject=alert.user_id,
                reason_code="sent" if ok else ("dead_letter" if dead else "failed"),
                note=delivery.detail if delivery else str(error),
                criteria={
                    "alert_id": alert.id,
                    "channel": item.channel,
                    "rule_id": item.rule_id,
                    "action": item.action,
                    "attempt": attempt,
                    "status_code": code,
                    "retry_after": error.retry_after if error else None,
                    "next_attempt_at": retry_at.isoformat() if retry_at else None,
                },
            ),
            at,
        )


def _cancel(engine: Engine, item: OutboxItem, alert: Alert, at: dt.datetime, trail: Trail) -> None:
    with engine.begin() as conn:
        AlertRepository(conn).outbox.cancel(item.id)
        trail.append(
            conn,
            NewEntry(
                actor=SYSTEM_ACTOR,
                action="deliver",
                target=f"delivery:{item.id}",
                subject=alert.user_id,
                reason_code="cancelled",
                note=f"alert #{alert.id} was {alert.status} before this delivery was due",
                criteria={"alert_id": alert.id, "channel": item.channel, "rule_id": item.rule_id},
            ),
            at,
        )
