"""From detections to alerts: dedup, suppression, routing, outbox — each step in the trail.

A *detection* is a stored score row that crossed the alert threshold. For each one,
:func:`admit` writes a ``detect`` entry to the audit trail with the criteria in force
(threshold, model version, run, capacity), then either

* skips it because a false-positive suppression of this user and scenario is in force
  (``suppress`` entry),
* folds it into a recent alert of the same user and scenario that is at least as severe
  (``deduplicate`` entry; nobody is paged twice within the dedup window), or
* opens an alert, plans its deliveries with the routing rules and puts them in the
  outbox (``alert`` entry listing every route and when it is due).

Each detection is handled in one transaction, and a detection already in the trail is
not handled again, so raising alerts for the same run twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine

from auditlens.alerts.routing import Rule, plan
from auditlens.store import alerts as store
from auditlens.store import feedback
from auditlens.store.alerts import Alert, NewAlert
from auditlens.store.audit import SAME_DATABASE, SYSTEM_ACTOR, NewEntry, Trail

SEVERITY_RANK: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: Scenario of a detection without any reason.
UNEXPLAINED: Final = "unexplained"


@dataclass(frozen=True)
class Detection:
    """A stored score row at or above the alert threshold."""

    score_id: int
    run_id: int
    user_id: str
    department: str | None
    window: dt.date
    risk: float
    severity: str
    reasons: list[dict[str, Any]]
    model_sha256: str
    config_hash: str

    @property
    def scenario(self) -> str:
        """What kind of behaviour: the feature of the first (strongest) reason."""
        return str(self.reasons[0].get("feature", UNEXPLAINED)) if self.reasons else UNEXPLAINED

    @property
    def dedup_key(self) -> str:
        """Same user, same scenario = same key."""
        return f"{self.user_id}|{self.scenario}"


@dataclass(frozen=True)
class Criteria:
    """The alerting criteria in force, recorded with every detection."""

    min_severity: str
    threshold_risk: float
    capacity: int
    dedup_hours: float

    def as_dict(self) -> dict[str, Any]:
        """For the audit trail."""
        return dict(self.__dict__)


@dataclass
class IntakeReport:
    """What :func:`admit` did."""

    detections: int = 0
    already_handled: int = 0
    opened: list[Alert] = field(default_factory=list)
    deduplicated: int = 0
    suppressed: int = 0
    routed: int = 0
    held: int = 0
    unrouted: list[int] = field(default_factory=list)


def admit(
    engine: Engine,
    detections: Sequence[Detection],
    rules: Sequence[Rule],
    criteria: Criteria,
    now: dt.datetime,
    trail: Trail = SAME_DATABASE,
) -> IntakeReport:
    """Turn detections into alerts and outbox deliveries (see the module docstring)."""
    report = IntakeReport()
    for detection in detections:
        with engine.begin() as conn:
            target = f"score:{detection.score_id}"
            if trail.has_entry(conn, target, "detect"):
                report.already_handled += 1
                continue
            report.detections += 1
            facts = criteria.as_dict() | {
                "run_id": detection.run_id,
                "score_id": detection.score_id,
                "window": detection.window.isoformat(),
                "risk": round(detection.risk, 3),
                "model_sha256": detection.model_sha256,
                "config_hash": detection.config_hash,
                "scenario": detection.scenario,
            }
            first_reason = str(detection.reasons[0].get("en", "")) if detection.reasons else ""
            trail.append(
                conn,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="detect",
                    target=target,
                    subject=detection.user_id,
                    reason_code=detection.severity,
                    note=first_reason,
                    criteria=facts,
                ),
                now,
            )
            suppression = feedback.active_suppression(
                conn, detection.user_id, detection.scenario, now
            )
            if suppression is not None:
                report.suppressed += 1
                trail.append(
                    conn,
                    NewEntry(
                        actor=SYSTEM_ACTOR,
                        action="suppress",
                        target=target,
                        subject=detection.user_id,
                        reason_code="false_positive_suppression",
                        note=f"suppressed until {suppression['until'].isoformat()} after "
                        f"alert #{suppression['alert_id']} was dismissed",
                        criteria={
                            "suppression_id": suppression["id"],
                            "scenario": detection.scenario,
                        },
                    ),
                    now,
                )
                continue
            since = now - dt.timedelta(hours=criteria.dedup_hours)
            recent = store.recent_alert(conn, detection.dedup_key, since)
            if recent is not None and _rank(detection.severity) <= _rank(recent.severity):
                report.deduplicated += 1
                trail.append(
                    conn,
                    NewEntry(
                        actor=SYSTEM_ACTOR,
                        action="deduplicate",
                        target=f"alert:{recent.id}",
                        subject=detection.user_id,
                        reason_code="same_user_scenario",
                        note=f"score {detection.score_id} folded into alert #{recent.id} "
                        f"(opened {recent.created_at.isoformat()})",
                        criteria={
                            "dedup_key": detection.dedup_key,
                            "dedup_hours": criteria.dedup_hours,
                        },
                    ),
                    now,
                )
                continue
            alert = store.insert_alert(conn, _new_alert(detection), now)
            routes = plan(alert, rules, now)
            for route in routes:
                store.enqueue(
                    conn,
                    alert_id=alert.id,
                    channel=route.channel,
                    rule_id=route.rule_id,
                    action="trigger",
                    recipients=route.recipients,
                    digest=route.digest,
                    not_before=route.not_before,
                    now=now,
                )
            report.opened.append(alert)
            report.routed += len(routes)
            report.held += sum(route.held(now) for route in routes)
            if not routes:
                report.unrouted.append(alert.id)
            trail.append(
                conn,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="alert",
                    target=f"alert:{alert.id}",
                    subject=alert.user_id,
                    reason_code=alert.severity,
                    note=f"score {detection.score_id}: risk {alert.risk:.1f} ({alert.scenario})",
                    criteria=facts
                    | {
                        "routes": [
                            {
                                "rule_id": r.rule_id,
                                "channel": r.channel,
                                "due": r.not_before.isoformat(),
                                "held": r.held(now),
                                "digest": r.digest,
                            }
                            for r in routes
                        ]
                    },
                ),
                now,
            )
    return report


def _new_alert(detection: Detection) -> NewAlert:
    return NewAlert(
        dedup_key=detection.dedup_key,
        user_id=detection.user_id,
        department=detection.department,
        window=detection.window,
        score_id=detection.score_id,
        run_id=detection.run_id,
        risk=detection.risk,
        severity=detection.severity,
        scenario=detection.scenario,
        reasons=detection.reasons,
        model_sha256=detection.model_sha256,
    )


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 0)
