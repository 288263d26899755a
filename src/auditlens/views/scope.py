"""Which alerts a figure or a list counts: some departments, severities and scenarios.

One definition for the KPIs (:func:`auditlens.views.kpis.kpis`), the trends and the alert
queue, so a number on the dashboard and the list behind it hold the same alerts.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field
from sqlalchemy import Select, or_

from auditlens.store.db import alerts
from auditlens.views.common import ViewModel
from auditlens.vocabulary import Severity

#: The department of an alert whose user's department was not known.
UNKNOWN_DEPARTMENT: Final = "unknown"


class AlertScope(ViewModel):
    """Which alerts to count (each filter optional; all must hold)."""

    departments: tuple[str, ...] = Field(
        default=(), description=f"empty: every department; {UNKNOWN_DEPARTMENT!r}: none known"
    )
    severities: tuple[Severity, ...] = Field(default=(), description="empty: every severity")
    scenarios: tuple[str, ...] = Field(default=(), description="empty: every scenario")


def within(query: Select[Any], scope: AlertScope | None) -> Select[Any]:
    """``query`` (over the alerts table) narrowed to ``scope`` (None: unchanged)."""
    if scope is None:
        return query
    if scope.departments:
        named = [d for d in scope.departments if d != UNKNOWN_DEPARTMENT]
        either = [alerts.c.department.in_(named)]
        if UNKNOWN_DEPARTMENT in scope.departments:
            either.append(alerts.c.department.is_(None))
        query = query.where(or_(*either))
    if scope.severities:
        query = query.where(alerts.c.severity.in_([s.value for s in scope.severities]))
    if scope.scenarios:
        query = query.where(alerts.c.scenario.in_(scope.scenarios))
    return query
