"""Words for the values the dashboard shows: scenarios, departments, alert statuses.

A scenario is a feature column (the alert's top reason): it reads as the feature's name
from ``features/docs.py``, the same words the reasons use.

Example::

    >>> scenario_label("usb_connect_count", "ko"), department_label("unknown", "en")
    ('USB 연결 횟수', 'unknown')
"""

from __future__ import annotations

from auditlens.features.docs import doc_for
from auditlens.i18n import pick
from auditlens.i18n.words import ALERT_STATUS_KO
from auditlens.views import UNKNOWN_DEPARTMENT
from auditlens.views.reasons import UNEXPLAINED


def scenario_label(scenario: str, lang: str) -> str:
    """A scenario as the name of its feature (``unexplained``: no reason)."""
    if scenario == UNEXPLAINED:
        return pick(lang, "unexplained", "사유 없음")
    try:
        doc = doc_for(scenario)
    except KeyError:  # a feature this version does not document (an older model's)
        return scenario
    return pick(lang, doc.en, doc.ko)


def department_label(department: str | None, lang: str) -> str:
    """A department as recorded (``unknown``/미상 when none was)."""
    if department is None or department == UNKNOWN_DEPARTMENT:
        return pick(lang, "unknown", "미상")
    return department


def status_label(status: str, lang: str) -> str:
    """An alert status in ``lang`` (신규, 확인…; English: the status with spaces)."""
    return pick(lang, status.replace("_", " "), ALERT_STATUS_KO.get(status, status))
