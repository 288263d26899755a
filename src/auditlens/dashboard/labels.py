"""Words for the values the dashboard shows: scenarios, departments, alert statuses.

A scenario is a feature column (the alert's top reason): it reads as the feature's name
from ``features/docs.py``, the same words the reasons use.

Example::

    >>> scenario_label("usb_connect_count", "ko"), department_label("unknown", "en")
    ('USB 연결 횟수', 'unknown')
"""

from __future__ import annotations

from auditlens.i18n import pick
from auditlens.i18n.words import ALERT_STATUS_KO
from auditlens.reports.labels import department_word, scenario_word

#: The reports' words for scenarios and departments (one wording on screen and on paper).
scenario_label = scenario_word
department_label = department_word


def status_label(status: str, lang: str) -> str:
    """An alert status in ``lang`` (신규, 확인…; English: the status with spaces)."""
    return pick(lang, status.replace("_", " "), ALERT_STATUS_KO.get(status, status))
