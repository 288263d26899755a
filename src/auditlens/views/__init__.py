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
``kpis(store, start, end)``                 the KPIs of docs/kpis.md
``audit_search(store, filters, page)``      trail entries (AuditFilters), newest first
``audit_status(store)``                     hash chain and table replay, verified now
``model_versions(store)``                   registered models, which one is in force
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
from auditlens.views.catalog import ModelVersion, model_versions
from auditlens.views.common import MAX_LIMIT, NotFound, Page, PageOf, ViewModel
from auditlens.views.kpis import Durations, Kpis, kpis
from auditlens.views.person import (
    ScoredDay,
    SessionStep,
    SessionView,
    day_sessions,
    flagged_start,
    scored_day,
    scored_days,
)
from auditlens.views.reasons import ReasonView
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

__all__ = [
    "MAX_LIMIT",
    "AlertDetail",
    "AlertFacets",
    "AlertFilters",
    "AlertRow",
    "AttemptView",
    "AuditEntryView",
    "AuditFilters",
    "AuditStatus",
    "DecisionView",
    "DeliveryView",
    "Durations",
    "EvidenceView",
    "HistoryDay",
    "Kpis",
    "ModelVersion",
    "NotFound",
    "Page",
    "PageOf",
    "ReasonView",
    "RiskEvidence",
    "RiskFilters",
    "RiskRow",
    "ScoredDay",
    "SessionStep",
    "SessionView",
    "UserRisk",
    "ViewModel",
    "alert_detail",
    "alert_facets",
    "alert_queue",
    "audit_search",
    "audit_status",
    "day_sessions",
    "flagged_start",
    "kpis",
    "model_versions",
    "scored_day",
    "scored_days",
    "top_risks",
    "user_history",
    "user_risk",
]
