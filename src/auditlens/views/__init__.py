"""The read model: typed read functions over the store, shared by the API, the dashboard
and the reports, so all three show the same number for the same question.

Each function takes an open :class:`~auditlens.store.repo.Store` and returns frozen,
strict pydantic models (FastAPI returns them as they are). Unknown ids raise
:class:`NotFound`. Lists take a :class:`Page` and return a :class:`PageOf`.

==========================================  ===========================================
``user_risk(store, user_id)``               latest risk, reasons, evidence, open alert
``user_history(store, user_id, start, end)``  risk per day with run and model
``scored_day(store, user_id, day)``         one day's score: reasons, evidence, unit
``scored_days(store, user_id, start, end)``  the same for every day (min severity)
``day_sessions(store, user_id, day)``       that day's sessions as step sequences
``top_risks(store, filters, page)``         users by peak risk (RiskFilters)
``alert_queue(store, filters, page)``       alerts (AlertFilters), most severe first
``alert_detail(store, alert_id)``           one alert: evidence, deliveries, decisions
``alert_facets(store)``                     departments and scenarios alerted on
``kpis(store, start, end, scope=)``         the KPIs of docs/kpis.md (AlertScope)
``alert_trend(store, start, end, scope=)``  alerts per day, department by severity
``coverage(store, start, end)``             users monitored, events
``activity(store, start, end)``             coverage and the risk of each day
``audit_search(store, filters, page)``      trail entries (AuditFilters), newest first
``audit_status(store)``                     hash chain and table replay, verified now
``model_versions(store)``                   registered models, which one is in force
``model_changes(store)``                    what each model changed against the one before
``shadow_comparison(store, runs=)``         champion vs challenger over shadow-scored runs
``data_health(store, start, end)``          quarantine by kind, tamper findings
``ingestion(store, start, end)``            batches per source, the watermark at the end
``period_models(store, start, end)``        the models behind a period's risk
``operations(store)``                       all-time running totals for monitoring
``quality(store, start, end)``              precision per week/scenario, miss-rate estimate
``review_list(store, statuses, page)``      miss-rate review samples, newest draw first
==========================================  ===========================================
"""

from __future__ import annotations

from auditlens.views.alerts import (
    AlertDetail,
    AlertFacets,
    AlertFilters,
    AlertRow,
    AttemptView,
    DecisionView,
    DeliveryView,
    EvidenceView,
    alert_detail,
    alert_facets,
    alert_queue,
)
from auditlens.views.audit import (
    AuditEntryView,
    AuditFilters,
    AuditStatus,
    audit_search,
    audit_status,
)
from auditlens.views.catalog import (
    ModelChange,
    ModelVersion,
    model_changes,
    model_versions,
    period_models,
)
from auditlens.views.common import MAX_LIMIT, NotFound, Page, PageOf, ViewModel
from auditlens.views.data import (
    DataHealth,
    FindingView,
    Ingestion,
    SourceIngest,
    data_health,
    ingestion,
)
from auditlens.views.kpis import Durations, Kpis, kpis
from auditlens.views.operations import (
    AlertCount,
    ModelInForce,
    Operations,
    SourceIntake,
    operations,
)
from auditlens.views.person import (
    ScoredDay,
    SessionStep,
    SessionView,
    day_sessions,
    flagged_start,
    scored_day,
    scored_days,
)
from auditlens.views.quality import MissEstimate, Quality, QualityRow, quality
from auditlens.views.reasons import ReasonView
from auditlens.views.reviews import ReviewRow, review_list
from auditlens.views.risk import (
    HistoryDay,
    RiskEvidence,
    RiskFilters,
    RiskRow,
    UserRisk,
    top_risks,
    user_history,
    user_risk,
)
from auditlens.views.scope import UNKNOWN_DEPARTMENT, AlertScope
from auditlens.views.shadow import Agreement, RunComparison, ShadowComparison, shadow_comparison
from auditlens.views.trends import (
    Activity,
    AlertDay,
    AlertTrend,
    Coverage,
    RiskDay,
    activity,
    alert_trend,
    coverage,
)

__all__ = [
    "MAX_LIMIT",
    "UNKNOWN_DEPARTMENT",
    "Activity",
    "Agreement",
    "AlertCount",
    "AlertDay",
    "AlertDetail",
    "AlertFacets",
    "AlertFilters",
    "AlertRow",
    "AlertScope",
    "AlertTrend",
    "AttemptView",
    "AuditEntryView",
    "AuditFilters",
    "AuditStatus",
    "Coverage",
    "DataHealth",
    "DecisionView",
    "DeliveryView",
    "Durations",
    "EvidenceView",
    "FindingView",
    "HistoryDay",
    "Ingestion",
    "Kpis",
    "MissEstimate",
    "ModelChange",
    "ModelInForce",
    "ModelVersion",
    "NotFound",
    "Operations",
    "Page",
    "PageOf",
    "Quality",
    "QualityRow",
    "ReasonView",
    "ReviewRow",
    "RiskDay",
    "RiskEvidence",
    "RiskFilters",
    "RiskRow",
    "RunComparison",
    "ScoredDay",
    "SessionStep",
    "SessionView",
    "ShadowComparison",
    "SourceIngest",
    "SourceIntake",
    "UserRisk",
    "ViewModel",
    "activity",
    "alert_detail",
    "alert_facets",
    "alert_queue",
    "alert_trend",
    "audit_search",
    "audit_status",
    "coverage",
    "data_health",
    "day_sessions",
    "flagged_start",
    "ingestion",
    "kpis",
    "model_changes",
    "model_versions",
    "operations",
    "period_models",
    "quality",
    "review_list",
    "scored_day",
    "scored_days",
    "shadow_comparison",
    "top_risks",
    "user_history",
    "user_risk",
]
