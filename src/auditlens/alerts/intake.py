# size: the pure intake plan and the one apply step that writes it read best side by side.
"""From detections to alerts: one alert per person and incident, suppression, routing,
outbox — each step in the trail.

A *detection* is a user's peak in a score run (scoring.user_peaks: the highest decayed
risk, with every day tied at it — the *incident*) that crossed the alert threshold. For
each one, :func:`admit` writes a ``detect`` entry to the audit trail with the criteria in
force (threshold, model version, run, capacity), then, in this order:

* a false-positive suppression of this user and scenario is in force: skipped
  (``suppress`` entry);
* the user has an *active* alert (open, acknowledged, escalated or waiting for a close
  approval): it **absorbs** the detection — the detection is appended to the alert's
  evidence and the alert shows it (days, risk, reasons), nobody is paged again
  (``absorb`` entry). If the detection is **more severe** than the alert, the same alert
  takes the higher severity and is routed again for it, i.e. pages again under the same
  alert id and PagerDuty dedup key (``upgrade`` entry);
* a closed or dismissed alert of the user already covers every day of the incident at
  the same or a higher severity, or was opened within ``dedup_hours`` at the same or a
  higher severity: recorded as its evidence, nobody is paged (``deduplicate`` entry);
* otherwise an alert is opened, its deliveries are planned with the routing rules and
  put in the outbox (``alert`` entry listing every route and when it is due).

So the dedup unit is the person, not the top reason: a new model (after ``train``) that
explains the same person's incident with another reason does not page again.

Each detection is planned first (:func:`plan`: pure, from the suppression in force and
the user's alerts) and then applied (:func:`apply`, entries written with
alerts/lifecycle.py's ``record`` as triage's are), in one transaction; a detection
already in the trail is not handled again, so raising alerts for the same run twice
changes nothing; ``complete`` runs in the transaction of the last detection (a run's
"all alerts raised" mark).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine

from auditlens.alerts import routing
from auditlens.alerts.lifecycle import NEW_ALERT, alert_target, record
from auditlens.alerts.routing import Rule
from auditlens.store.alerts import ACTIVE_STATUSES, Alert, AlertRepository, NewAlert
from auditlens.store.audit import SAME_DATABASE, SYSTEM_ACTOR, NewEntry, Trail
from auditlens.store.feedback import Suppression
from auditlens.vocabulary import severity_rank

#: Scenario of a detection without any reason.
UNEXPLAINED: Final = "unexplained"


@dataclass(frozen=True)
class Detection:
    """A user's peak in a score run at or above the alert threshold."""

    score_id: int  # the stored score row of the incident's first day
    run_id: int
    user_id: str
    department: str | None
    window: dt.date
    risk: float
    severity: str
    reasons: list[dict[str, Any]]  # the incident's reasons, strongest first
    model_sha256: str
    config_hash: str
    #: Every day of the incident (tied at the peak), in date order; () = just ``window``.
    windows: tuple[dt.date, ...] = ()

    @property
    def days(self) -> tuple[dt.date, ...]:
        """The incident's days (at least ``window``)."""
        return self.windows or (self.window,)

    @property
    def scenario(self) -> str:
        """What kind of behaviour: the feature of the first (strongest) reason."""
        return str(self.reasons[0].get("feature", UNEXPLAINED)) if self.reasons else UNEXPLAINED

    @property
    def dedup_key(self) -> str:
        """One alert per person: the user id."""
        return self.user_id


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
    absorbed: int = 0
    upgraded: list[Alert] = field(default_factory=list)
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
    *,
    complete: Callable[[Connection], None] | None = None,
    trail: Trail = SAME_DATABASE,
) -> IntakeReport:
    """Turn detections into alerts and outbox deliveries (see the module docstring).

    ``complete`` is called in the transaction of the last detection (or in a
    transaction of its own when there is none), so what it records commits together
    with the last alert.
    """
    report = IntakeReport()
    if not detections:
        if complete is not None:
            with engine.begin() as conn:
                complete(conn)
        return report
    for i, detection in enumerate(detections):
        with engine.begin() as conn:
            _admit_one(conn, detection, rules, criteria, now, report, trail)
            if complete is not None and i == len(detections) - 1:
                complete(conn)
    return report


Outcome = Literal["suppress", "absorb", "upgrade", "deduplicate", "alert"]


@dataclass(frozen=True)
class IntakePlan:
    """What one detection changes, decided without touching the store (:func:`plan`)."""

    #: The ``detect`` entry (written first, whatever the outcome).
    detect: NewEntry
    outcome: Outcome
    #: The entry of the outcome (for a new alert its target is filled in on apply).
    entry: NewEntry
    #: The detection as an alert to open or as evidence of one.
    new: NewAlert
    #: The user's alert it goes to (absorb, upgrade, deduplicate).
    alert: Alert | None = None
    #: Kind of the evidence row it adds (open, absorb, upgrade, duplicate; suppress: none).
    evidence: str = ""
    #: The severity the alert shows afterwards (absorb keeps it, upgrade raises it).
    severity: str = ""
    #: Plan the alert's deliveries and put them in the outbox (a new or upgraded alert).
    route: bool = False


def plan(
    detection: Detection,
    criteria: Criteria,
    *,
    suppression: Suppression | None,
    mine: Sequence[Alert],
    now: dt.datetime,
) -> IntakePlan:
    """What ``detection`` does, given the suppression in force for its user and scenario
    and the user's alerts (``mine``, newest first); pure (see the module docstring)."""
    facts = criteria.as_dict() | {
        "run_id": detection.run_id,
        "score_id": detection.score_id,
        "window": detection.window.isoformat(),
        "windows": [d.isoformat() for d in detection.days],
        "risk": round(detection.risk, 3),
        "model_sha256": detection.model_sha256,
        "config_hash": detection.config_hash,
        "scenario": detection.scenario,
    }
    first_reason = str(detection.reasons[0].get("en", "")) if detection.reasons else ""
    target = f"score:{detection.score_id}"
    system = functools.partial(NewEntry, SYSTEM_ACTOR, subject=detection.user_id)
    detect = system(
        "detect", target, reason_code=detection.severity, note=first_reason, criteria=facts
    )
    new = _new_alert(detection)
    if suppression is not None:
        entry = system(
            "suppress",
            target,
            reason_code="false_positive_suppression",
            note=f"suppressed until {suppression.until.isoformat()} after "
            f"alert #{suppression.alert_id} was dismissed",
            criteria={"suppression_id": suppression.id, "scenario": detection.scenario},
        )
        return IntakePlan(detect, "suppress", entry, new)
    active = next((a for a in mine if a.status in ACTIVE_STATUSES), None)
    if active is not None:
        return _absorb(detect, detection, new, active, facts)
    since = now - dt.timedelta(hours=criteria.dedup_hours)
    seen = next(
        (
            a
            for a in mine
            if severity_rank(detection.severity) <= severity_rank(a.severity)
            and (set(detection.days) <= set(a.windows) or a.created_at >= since)
        ),
        None,
    )
    if seen is not None:
        covered = set(detection.days) <= set(seen.windows)
        entry = system(
            "deduplicate",
            alert_target(seen.id),
            reason_code="same_incident" if covered else "same_user_recent",
            note=f"score {detection.score_id} added to {seen.status} alert #{seen.id} "
            f"(opened {seen.created_at.isoformat()}): "
            + ("same incident, already reviewed" if covered else "within the dedup window"),
            criteria=facts | {"dedup_key": detection.dedup_key},
        )
        return IntakePlan(detect, "deduplicate", entry, new, seen, "duplicate")
    entry = system(
        "alert",
        NEW_ALERT,
        reason_code=detection.severity,
        note=f"score {detection.score_id}: risk {detection.risk:.1f} ({detection.scenario})",
        criteria=facts,
    )
    return IntakePlan(detect, "alert", entry, new, None, "open", detection.severity, route=True)


def _absorb(
    detect: NewEntry,
    detection: Detection,
    new: NewAlert,
    active: Alert,
    facts: dict[str, Any],
) -> IntakePlan:
    """An active alert takes the detection as evidence; a higher severity re-pages it."""
    upgrade = severity_rank(detection.severity) > severity_rank(active.severity)
    before = {
        "windows": [d.isoformat() for d in active.windows],
        "risk": round(active.risk, 3),
        "severity": active.severity,
        "scenario": active.scenario,
    }
    if upgrade:
        note = (
            f"score {detection.score_id}: severity {active.severity} -> {detection.severity}, "
            f"risk {detection.risk:.1f}; routed again"
        )
    else:
        note = (
            f"score {detection.score_id} appended to {active.status} alert #{active.id}: "
            f"risk {detection.risk:.1f} ({detection.scenario}); not paged again"
        )
    outcome: Outcome = "upgrade" if upgrade else "absorb"
    entry = NewEntry(
        actor=SYSTEM_ACTOR,
        action=outcome,
        target=alert_target(active.id),
        subject=active.user_id,
        reason_code=detection.severity,
        note=note,
        criteria=facts | {"before": before},
    )
    severity = detection.severity if upgrade else active.severity
    return IntakePlan(detect, outcome, entry, new, active, outcome, severity, route=upgrade)


def _admit_one(
    conn: Connection,
    detection: Detection,
    rules: Sequence[Rule],
    criteria: Criteria,
    now: dt.datetime,
    report: IntakeReport,
    trail: Trail,
) -> None:
    if trail.has_entry(conn, f"score:{detection.score_id}", "detect"):
        report.already_handled += 1
        return
    report.detections += 1
    alerts = AlertRepository(conn)
    step = plan(
        detection,
        criteria,
        suppression=alerts.feedback.active_suppression(detection.user_id, detection.scenario, now),
        mine=alerts.user_alerts(detection.user_id),
        now=now,
    )
    apply(conn, step, rules, now, report, trail)


def apply(
    conn: Connection,
    step: IntakePlan,
    rules: Sequence[Rule],
    now: dt.datetime,
    report: IntakeReport,
    trail: Trail,
) -> Alert | None:
    """Write a planned detection in the caller's transaction; return the alert it opened
    or changed (None: suppressed)."""
    alerts = AlertRepository(conn)
    record(conn, trail, step.detect, now)
    if step.outcome == "suppress":
        report.suppressed += 1
        record(conn, trail, step.entry, now)
        return None
    existing = step.alert
    if existing is not None and step.outcome == "deduplicate":
        report.deduplicated += 1
        alerts.add_evidence(existing.id, step.evidence, step.new, now)
        record(conn, trail, step.entry, now)
        return existing
    if existing is None:
        alert = alerts.insert_alert(step.new, now)
    else:
        new = step.new
        alert = alerts.update_headline(
            existing.id,
            window=new.window,
            windows=new.windows,
            risk=new.risk,
            severity=step.severity,
            scenario=new.scenario,
            reasons=new.reasons,
            model_sha256=new.model_sha256,
            now=now,
        )
    alerts.add_evidence(alert.id, step.evidence, step.new, now)
    extra = {"routes": _route(conn, alert, rules, now, report)} if step.route else None
    if step.outcome == "alert":
        report.opened.append(alert)
    elif step.outcome == "upgrade":
        report.upgraded.append(alert)
    else:
        report.absorbed += 1
    record(conn, trail, step.entry, now, alert=alert, extra=extra)
    return alert


def _route(
    conn: Connection, alert: Alert, rules: Sequence[Rule], now: dt.datetime, report: IntakeReport
) -> list[dict[str, Any]]:
    """Plan and enqueue the alert's deliveries; return them for the trail."""
    routes = routing.plan(alert, rules, now)
    for route in routes:
        AlertRepository(conn).outbox.enqueue(
            alert_id=alert.id,
            channel=route.channel,
            rule_id=route.rule_id,
            action="trigger",
            recipients=route.recipients,
            digest=route.digest,
            not_before=route.not_before,
            now=now,
        )
    report.routed += len(routes)
    report.held += sum(route.held(now) for route in routes)
    if not routes:
        report.unrouted.append(alert.id)
    return [
        {
            "rule_id": r.rule_id,
            "channel": r.channel,
            "due": r.not_before.isoformat(),
            "held": r.held(now),
            "digest": r.digest,
        }
        for r in routes
    ]


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
        windows=detection.days,
    )
