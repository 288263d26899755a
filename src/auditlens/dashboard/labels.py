"""Words for the values the dashboard shows: scenarios, departments, alert statuses.

A scenario is a feature column (the alert's top reason): it reads as the feature's name
from ``features/docs.py``, the same words the reasons use.

Example::

    >>> scenario_label("usb_connect_count", "ko"), department_label("unknown", "en")
    ('USB 연결 횟수', 'unknown')
"""

from __future__ import annotations

from auditlens.reports.labels import department_word, scenario_word, status_word

#: The reports' words for scenarios, departments and alert statuses (one wording on
#: screen and on paper).
scenario_label = scenario_word
department_label = department_word
status_label = status_word
