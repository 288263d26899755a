"""Stored reasons as people read them: the feature's label (features/docs.py), the value
with its unit, and the sentence — each in Korean and English."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from auditlens.features.docs import doc_for, show_value
from auditlens.views.common import ViewModel

#: Scenario of a detection without any reason (as alerts/intake.py names it).
UNEXPLAINED: Final = "unexplained"


class ReasonView(ViewModel):
    """One reason for a risk: which feature, its value, and what it means."""

    feature: str = Field(description="feature column (docs/features.md)")
    label_ko: str = Field(description="the feature's name in Korean")
    label_en: str = Field(description="the feature's name in English")
    value: float | None
    value_ko: str = Field(description="the value with its Korean unit, e.g. 14건")
    value_en: str = Field(description="the value with its English unit")
    own_average: float | None
    peer_average: float | None
    contribution: float | None
    text_ko: str = Field(description="the reason as a Korean sentence")
    text_en: str = Field(description="the reason as an English sentence")
    day: dt.date | None = Field(description="the incident day it belongs to (several days)")


def reason_views(stored: str | list[dict[str, Any]]) -> tuple[ReasonView, ...]:
    """The reasons stored with a score or an alert (JSON text or parsed), in stored order."""
    items = json.loads(stored) if isinstance(stored, str) else stored
    return tuple(_view(r) for r in items)


def _view(reason: Mapping[str, Any]) -> ReasonView:
    feature = str(reason.get("feature", UNEXPLAINED))
    value = _float(reason.get("value"))
    try:
        doc = doc_for(feature)
        label_ko, label_en = doc.ko, doc.en
        value_ko, value_en = show_value(value, feature, "ko"), show_value(value, feature, "en")
    except KeyError:  # a feature this version does not document (an older model's)
        label_ko = label_en = feature
        value_ko = value_en = "-" if value is None else f"{value:g}"
    day = reason.get("window")
    return ReasonView(
        feature=feature,
        label_ko=label_ko,
        label_en=label_en,
        value=value,
        value_ko=value_ko,
        value_en=value_en,
        own_average=_float(reason.get("own_average")),
        peer_average=_float(reason.get("peer_average")),
        contribution=_float(reason.get("contribution")),
        text_ko=str(reason.get("ko") or reason.get("en") or feature),
        text_en=str(reason.get("en") or feature),
        day=None if not day else dt.date.fromisoformat(str(day)),
    )


def scenario_of(stored: str) -> str:
    """The scenario of stored reasons: the first (strongest) reason's feature, as alert
    intake names it."""
    items = json.loads(stored)
    return str(items[0].get("feature", UNEXPLAINED)) if items else UNEXPLAINED


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
