"""Numbers and values as a report's reader reads them, in Korean and English.

The dashboard shows numbers in these same forms (``dashboard/widgets.py`` re-exports
them; it sits above the reports). Korean counts carry their counter
(``1,234건``, ``56명``), durations read in the unit that fits (``45분``, ``3.2시간``,
``2.5일``), shares as percentages with one decimal. The words for statuses, scenarios,
departments and severities are :mod:`auditlens.reports.labels`'.

Example::

    >>> count(1234, "ko"), count(56, "en", en_unit="users"), percent(0.125, "ko")
    ('1,234건', '56 users', '12.5%')
    >>> duration(11520, "ko"), duration(11520, "en"), duration(None, "en")
    ('3.2시간', '3.2 h', '—')
"""

from __future__ import annotations

from typing import Final

from auditlens.i18n import pick
from auditlens.views import ModelChange

#: What a number that cannot be computed (no data) reads as.
NONE: Final = "—"


def count(n: int | None, lang: str, *, ko_unit: str = "건", en_unit: str = "") -> str:
    """A count: ``1,234건`` in Korean (``ko_unit``: 건, 명, 개…), ``1,234`` or
    ``1,234 users`` in English."""
    if n is None:
        return NONE
    if lang == "ko":
        return f"{n:,}{ko_unit}"
    return f"{n:,} {en_unit}" if en_unit else f"{n:,}"


def percent(share: float | None, lang: str, digits: int = 1) -> str:
    """A fraction 0-1 as a percentage (``12.5%``); ``—`` when there is none."""
    del lang  # the same in both languages
    return NONE if share is None else f"{share * 100:.{digits}f}%"


def duration(seconds: float | None, lang: str) -> str:
    """A duration in the unit that reads best: minutes under an hour, hours under two
    days, then days."""
    if seconds is None:
        return NONE
    if seconds < 3600:
        minutes = f"{seconds / 60:.0f}"
        return pick(lang, f"{minutes} min", f"{minutes}분")
    if seconds < 48 * 3600:
        hours = f"{seconds / 3600:.1f}"
        return pick(lang, f"{hours} h", f"{hours}시간")
    days = f"{seconds / 86400:.1f}"
    return pick(lang, f"{days} days", f"{days}일")


def risk(value: float) -> str:
    """A risk 0-100 with one decimal (``87.5``)."""
    return f"{value:.1f}"


#: Model kinds in Korean (English: the kind as stored).
_KIND_KO: Final = {"unsupervised": "비지도", "ensemble": "앙상블"}


def model_kind(kind: str, lang: str) -> str:
    """A model's kind in ``lang`` (``unsupervised`` reads 비지도 in Korean).

    >>> model_kind("unsupervised", "ko"), model_kind("ensemble", "ko"), model_kind("x", "ko")
    ('비지도', '앙상블', 'x')
    """
    return pick(lang, kind, _KIND_KO.get(kind, kind))


def model_change(change: ModelChange | None, lang: str) -> str:
    """What a model changed against the one before it, in a few words (the dashboard's
    model page and the reports say it alike)."""
    ko = lang == "ko"
    if change is None or change.previous_sha256 is None:
        return "첫 모델" if ko else "first model"
    said = []
    if change.kind_before != change.kind:
        before = model_kind(change.kind_before or "", lang)
        said.append(f"{before} → {model_kind(change.kind, lang)}")
    if change.features_added or change.features_removed:
        plus, minus = len(change.features_added), len(change.features_removed)
        said.append(f"특성 +{plus} -{minus}" if ko else f"features +{plus} -{minus}")
    if change.params_changed:
        names = ", ".join(change.params_changed)
        said.append(f"매개변수: {names}" if ko else f"parameters: {names}")
    if change.config_changed:
        said.append("점수 설정 변경" if ko else "scoring settings changed")
    if change.n_train_before != change.n_train:
        said.append(
            f"학습 {change.n_train_before:,} → {change.n_train:,}건"
            if ko
            else f"trained on {change.n_train_before:,} → {change.n_train:,} windows"
        )
    return "; ".join(said) or ("변경 없음" if ko else "no change")
