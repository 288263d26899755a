"""The report model: everything a report shows, in every format, read through the views.

:func:`build_report` asks the read model (``auditlens.views``) for a period and the one
before it, and nothing else: the XLSX workbook, the PPTX deck and the e-mail digest only
lay out a :class:`ReportData`, so a number in a report is the number the API and the
dashboard show for the same period, to the digit. People are shown as a viewer of the
API sees them: pseudonyms when ``privacy.pseudonymise`` is on (management reads
reports), in the user id fields and in any text that names the person.

A report is reproducible: :attr:`Reproducibility.digest` is a hash of its numbers, and
building it again for the same period on the same data gives the same digest.

Example::

    with Store.open(settings) as store:
        data = build_report(store, settings, Period.parse("2026-09", "monthly"), "ko")
    data.kpis.alerts, data.footer.audit_head_hash
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

from pydantic import BaseModel, Field

from auditlens import __version__
from auditlens.config import Settings
from auditlens.i18n import Lang
from auditlens.privacy import Pseudonymiser, mask_text, pseudonymiser_for
from auditlens.reports.controls import ControlEvidence, control_evidence, load_controls
from auditlens.reports.evidence import Figures, evidence_items
from auditlens.reports.period import Period, PeriodKind
from auditlens.store.repo import Store
from auditlens.views import (
    Activity,
    AlertFilters,
    AlertRow,
    AlertTrend,
    AuditFilters,
    AuditStatus,
    Coverage,
    DataHealth,
    DecisionView,
    Durations,
    Ingestion,
    Kpis,
    ModelChange,
    ModelVersion,
    Page,
    ReasonView,
    RiskFilters,
    RiskRow,
    ViewModel,
    activity,
    alert_detail,
    alert_queue,
    alert_trend,
    audit_search,
    audit_status,
    coverage,
    data_health,
    ingestion,
    kpis,
    model_changes,
    model_versions,
    period_models,
    scored_day,
    top_risks,
)

__all__ = [
    "AlertDecision",
    "ModelHealth",
    "Period",
    "PeriodKind",
    "ReportData",
    "Reproducibility",
    "TopRisk",
    "Triage",
    "build_report",
]

#: Riskiest users a report shows with their reasons.
TOP_RISKS: Final = 10
#: Items one read asks the views for (their most).
_PAGE: Final = 500
M = TypeVar("M", bound=BaseModel)


class TopRisk(ViewModel):
    """One of the riskiest users of the period, with the reasons of their peak day."""

    row: RiskRow = Field(description="user_id as a viewer sees it (pseudonym when configured)")
    reasons: tuple[ReasonView, ...]


class AlertDecision(ViewModel):
    """One decision on one of the period's alerts (the trail's record of it)."""

    alert_id: int
    user_id: str = Field(description="the alert's user as a viewer sees it")
    decision: DecisionView


class Triage(ViewModel):
    """How the team worked the period's alerts (``views.kpis`` fields, as they are)."""

    time_to_first_action: Durations
    time_to_close: Durations
    ended: int
    dismissed: int
    dismissal_rate: float | None
    confirmed: int
    confirmed_rate: float | None
    closed: int
    four_eyes: int
    four_eyes_share: float | None
    four_eyes_cases: tuple[int, ...] = Field(description="alerts closed with a second approval")


class ModelHealth(ViewModel):
    """The models: every version, what each changed, and which ones the period rests on."""

    versions: tuple[ModelVersion, ...]
    changes: tuple[ModelChange, ...]
    used: tuple[str, ...] = Field(description="sha256 of the models behind the period's risk")
    in_force: str | None
    drift_available: bool = Field(description="drift and precision from triage are measured")
    note_ko: str
    note_en: str


class Reproducibility(ViewModel):
    """What a report rests on: enough to produce it again and to check it was not changed."""

    period: Period
    zone: str
    data_batch_id: int | None = Field(description="newest ingest batch at the period's end")
    data_watermark: str | None
    models: tuple[str, ...]
    config_hash: str = Field(description="Settings.fingerprint(): the settings that score")
    audit_head_seq: int
    audit_head_hash: str = Field(description="the trail's head when the report was built")
    audit_ok: bool
    generated_at: dt.datetime
    version: str = Field(description="auditlens version")
    digest: str = Field(description="sha256 of the report's numbers (same data, same digest)")


class ReportData(ViewModel):
    """Everything every report format shows for one period (frozen, typed, read model only)."""

    period: Period
    previous: Period
    lang: Lang
    zone: str
    pseudonymised: bool
    kpis: Kpis
    previous_kpis: Kpis
    activity: Activity = Field(description="coverage and each day's risk")
    previous_coverage: Coverage
    alert_trend: AlertTrend
    top_risks: tuple[TopRisk, ...]
    users: tuple[RiskRow, ...] = Field(description="every user's peak in the period")
    alerts: tuple[AlertRow, ...] = Field(description="every alert opened in the period")
    decisions: tuple[AlertDecision, ...] = Field(description="decisions on those, oldest first")
    data_health: DataHealth
    ingestion: Ingestion
    models: ModelHealth
    controls: tuple[ControlEvidence, ...]
    audit: AuditStatus
    footer: Reproducibility

    @property
    def scenario_mix(self) -> dict[str, int]:
        """Alerts per scenario (``kpis.by_scenario``)."""
        return self.kpis.by_scenario

    @property
    def severity_by_department(self) -> dict[str, dict[str, int]]:
        """Department -> severity -> alerts (``alert_trend.by_department_severity``)."""
        return self.alert_trend.by_department_severity

    @property
    def triage(self) -> Triage:
        """Triage performance of the period's alerts."""
        k = self.kpis
        closing = {}
        for d in self.decisions:  # the newest close/approve decides, as kpis() reads it
            if d.decision.action in ("close", "approve"):
                closing[d.alert_id] = d.decision.action
        closed = {a.id for a in self.alerts if a.status == "closed"}
        return Triage(
            time_to_first_action=k.time_to_first_action,
            time_to_close=k.time_to_close,
            ended=k.ended,
            dismissed=k.dismissed,
            dismissal_rate=k.dismissal_rate,
            confirmed=k.confirmed,
            confirmed_rate=k.confirmed_rate,
            closed=k.closed,
            four_eyes=k.four_eyes,
            four_eyes_share=k.four_eyes_share,
            four_eyes_cases=tuple(
                sorted(a for a, act in closing.items() if act == "approve" and a in closed)
            ),
        )


def build_report(
    store: Store,
    settings: Settings,
    period: Period,
    lang: Lang,
    *,
    now: dt.datetime | None = None,
    top: int = TOP_RISKS,
) -> ReportData:
    """Everything a report of ``period`` shows, read through ``auditlens.views``.

    Raises:
        ControlsError: ``report_controls`` names a file that cannot be used.
        ConfigError: pseudonymise is on without a usable key.
    """
    controls = load_controls(settings.report_controls)
    pseudonymiser = pseudonymiser_for(settings)
    zone = settings.timezone
    start, end = period.start, period.end
    previous = period.previous()
    figures = kpis(store, start, end, zone=zone)
    seen = activity(store, start, end, zone=zone)
    fed = ingestion(store, start, end, zone=zone)
    health = data_health(store, start, end, zone=zone)
    used = period_models(store, start, end)
    status = audit_status(store, now=now)
    users = _all(lambda page: top_risks(store, RiskFilters(start=start, end=end), page))
    alerts = _all(
        lambda page: alert_queue(store, AlertFilters(start=start, end=end), page, zone=zone)
    )
    shown = _Shown(pseudonymiser)
    numbers: dict[str, Any] = {
        "kpis": figures,
        "previous_kpis": kpis(store, previous.start, previous.end, zone=zone),
        "activity": seen,
        "previous_coverage": coverage(store, previous.start, previous.end, zone=zone),
        "alert_trend": alert_trend(store, start, end, zone=zone),
        "top_risks": tuple(
            TopRisk(
                row=shown.row(row),
                reasons=shown.many(scored_day(store, row.user_id, row.day).reasons, row.user_id),
            )
            for row in users[:top]
        ),
        "users": tuple(shown.row(row) for row in users),
        "alerts": tuple(shown.row(a) for a in alerts),
        "decisions": _decisions(store, alerts, shown),
        "data_health": health,
        "ingestion": fed,
    }
    watchers = audit_search(
        store, AuditFilters(actions=("view",), start=start, end=end), Page(limit=1), zone=zone
    ).total
    items = evidence_items(Figures(period, figures, seen, fed, health, status, used, watchers))
    return ReportData(
        period=period,
        previous=previous,
        lang=lang,
        zone=zone,
        pseudonymised=pseudonymiser is not None,
        models=_model_health(store, used),
        controls=control_evidence(controls, items, period),
        audit=status,
        footer=Reproducibility(
            period=period,
            zone=zone,
            data_batch_id=fed.batch_id,
            data_watermark=fed.watermark,
            models=used,
            config_hash=settings.fingerprint(),
            audit_head_seq=status.head_seq,
            audit_head_hash=status.head_hash,
            audit_ok=status.ok,
            generated_at=status.checked_at,
            version=__version__,
            digest=digest(numbers),
        ),
        **numbers,
    )


def digest(numbers: dict[str, Any]) -> str:
    """sha256 of a report's numbers (the views' answers as JSON, keys sorted)."""
    plain = {
        k: [v.model_dump(mode="json") for v in value]
        if isinstance(value, tuple)
        else value.model_dump(mode="json")
        for k, value in numbers.items()
    }
    blob = json.dumps(plain, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def report_numbers(data: ReportData) -> dict[str, Any]:
    """The parts of ``data`` :attr:`Reproducibility.digest` hashes."""
    return {
        name: getattr(data, name)
        for name in (
            "kpis", "previous_kpis", "activity", "previous_coverage", "alert_trend",
            "top_risks", "users", "alerts", "decisions", "data_health", "ingestion",
        )
    }  # fmt: skip


def _all(read: Callable[[Page], Any]) -> list[Any]:
    """Every item of a paged view, page after page."""
    found: list[Any] = []
    offset: int | None = 0
    while offset is not None:
        page = read(Page(limit=_PAGE, offset=offset))
        found.extend(page.items)
        offset = page.next_offset
    return found


def _decisions(store: Store, alerts: list[AlertRow], shown: _Shown) -> tuple[AlertDecision, ...]:
    """Every decision on ``alerts`` (``views.alert_detail``), oldest first."""
    found = []
    for alert in alerts:
        for decision in alert_detail(store, alert.id).decisions:
            found.append(
                AlertDecision(
                    alert_id=alert.id,
                    user_id=shown.user(alert.user_id),
                    decision=shown.one(decision, alert.user_id),
                )
            )
    return tuple(sorted(found, key=lambda d: d.decision.seq))


def _model_health(store: Store, used: tuple[str, ...]) -> ModelHealth:
    versions = model_versions(store)
    return ModelHealth(
        versions=versions,
        changes=model_changes(store),
        used=used,
        in_force=next((v.sha256 for v in versions if v.active), None),
        drift_available=False,
        note_ko="드리프트와 분석자 판정 기반 정밀도는 모니터링 기능이 도입되면 표시됩니다.",
        note_en="Drift and precision from triage are shown once monitoring exists.",
    )


class _Shown:
    """People as a viewer of the API sees them: pseudonyms when configured."""

    def __init__(self, pseudonymiser: Pseudonymiser | None) -> None:
        self.pseudonymiser = pseudonymiser

    def user(self, user_id: str) -> str:
        return user_id if self.pseudonymiser is None else self.pseudonymiser.user(user_id)

    def one(self, model: M, user_id: str) -> M:
        """``model`` with ``user_id`` replaced in every text field (numbers unchanged)."""
        if self.pseudonymiser is None:
            return model
        person, pseudonym = {user_id}, self.user(user_id)
        masked = _walk(model.model_dump(mode="json"), lambda t: mask_text(t, person, pseudonym))
        return type(model).model_validate_json(json.dumps(masked, ensure_ascii=False))

    def many(self, models: tuple[M, ...], user_id: str) -> tuple[M, ...]:
        return tuple(self.one(m, user_id) for m in models)

    def row(self, row: M) -> M:
        """A row that carries its ``user_id``."""
        return self.one(row, str(getattr(row, "user_id")))  # noqa: B009 - RiskRow, AlertRow


def _walk(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value
