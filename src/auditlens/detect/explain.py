"""Reasons for a score in plain Korean and English.

Two methods, chosen by the model's ``contribution_unit`` (the Explainable protocol,
detect/base.py):

* **SHAP** (``log_odds``: a StackedEnsemble trained on findings): TreeSHAP values of each member —
  IsolationForest depth, RandomForest probability, XGBoost/LightGBM log-odds — and the
  tail member's top surprises, weighted by the stacker into exact signed contributions
  to the final log-odds. The largest positive ones become reasons.
* **Per-feature tail surprise** (``surprise``: the unsupervised model alone): each
  feature's surprise among all training windows (-log10 of the share of windows with a
  value at least as high, detect/surprise.py); those above ``min_surprise`` (rarer than
  1 in 10) count.

Each reason shows the value with its unit, the user's own average over the baseline
period and the peer group's average that day (the user left out), e.g.
"업무시간 외 로그인 비율 62% (본인 평균 4%, 동료 그룹 평균 6%)", or "그날 활동한 동료 없음"
when no other member of the group was active. Activity on a day off names the holiday
("추석 연휴 중 활동: ..."), a first-time source IP names the address ("처음 보는 외부 IP
203.0.113.7"); a sequence reason shows the session itself; a watch-list match always comes
first. A reason that describes nothing unusual is not shown (:func:`unusual`; the floors
are documented in docs/features.md). Wording follows docs/style-ko.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import Detector, Explainable, ModelError
from auditlens.features.docs import (
    PEER_PREFIX,
    TIMES_OF,
    Unit,
    compared_words,
    day_off_words,
    doc_for,
    ip_words,
    peer_clause,
    show_value,
    times_sentence,
    token_words,
)

#: Sequence columns whose reason shows the session itself.
SEQUENCE_COLUMNS = frozenset({"seq_anomaly_score", "rare_transition_count"})
SHOWN_TOKENS = 8

#: Floors below which a reason describes nothing unusual and is not shown
#: (docs/features.md, "Reasons"): peer reasons need this many SDs above or below the peers
#: (and a change from the peer mean as below),
MIN_PEER_Z = 1.5
#: "times the own usual" reasons at least this many times,
MIN_TIMES = 1.5
#: deviations from the own habit (unit z) at least this many of the user's own SDs,
MIN_OWN_SD = 1.5
#: and the others a change from the own average of at least (share of it, amount in unit).
MIN_CHANGE: dict[Unit, tuple[float, float]] = {
    "count": (0.5, 0.5),
    "score": (0.5, 0.5),
    "ratio": (0.0, 0.15),
    "hour": (0.0, 2.0),
    "bits": (0.0, 0.5),
    "days": (0.5, 3.0),
    "hours": (0.0, 1.0),
}
#: Reasons about working hours: on a day off they say so first ("추석 연휴 중 활동").
OFF_HOURS_COLUMNS = frozenset(
    {
        "off_hours_login_ratio",
        "off_hours_action_ratio",
        "off_hours_action_count",
        "off_hours_sensitive_count",
        "first_activity_hour",
        "last_activity_hour",
        "off_hours_login_gap_days",
        "login_hours_beyond_range",
    }
)

METHOD = "per-feature tail surprise (empirical, vs training windows)"
SHAP_METHOD = "TreeSHAP of the stacked ensemble's members, weighted into its log-odds"


@dataclass(frozen=True)
class Reason:
    """One reason: which feature, how far out, and the sentence in both languages."""

    feature: str
    value: float
    own_average: float | None
    peer_average: float | None
    contribution: float
    ko: str
    en: str

    def text(self, lang: str) -> str:
        """The sentence in ``lang`` (ko or en)."""
        return self.ko if lang == "ko" else self.en


#: A reason's fields, as ``dataclasses.asdict`` names them.
_REASON_FIELDS: Final = tuple(f.name for f in fields(Reason))


def explain(
    model: Detector,
    frame: pl.DataFrame,
    info: pl.DataFrame,
    *,
    top: int = 3,
    min_surprise: float = 1.0,
    min_log_odds: float = 0.05,
    timezone: str = "Asia/Seoul",
) -> list[list[Reason]]:
    """Reasons for each row of ``frame`` (the feature matrix rows being explained).

    The model must be Explainable. Contributions in log-odds (a StackedEnsemble's SHAP
    values, signed) count above ``min_log_odds``; surprises (the unsupervised
    ensemble's per-feature tail surprises) above ``min_surprise``. ``info`` holds
    the same rows' ``_own_<c>``/``_peer_<c>`` and session columns (FeatureMatrix.info,
    same order). A window with watch-list matches always gets that reason first.
    """
    contrib, columns, floor = _contributions(model, frame, min_surprise, min_log_odds)
    values = frame.to_dicts()
    context = info.to_dicts()
    out: list[list[Reason]] = []
    for i in range(frame.height):
        order = np.argsort(-contrib[i], kind="stable")
        reasons: list[Reason] = []
        used: set[str] = set()
        if values[i].get("watchlist_match_count", 0) > 0:
            reasons.append(_watch_reason(values[i], context[i]))
            used.add("watchlist_match_count")
        for j in order:
            if len(reasons) >= top or contrib[i, j] < floor:
                break
            column = columns[j]
            # a "times the own usual" reason speaks for its count (and the other way round)
            base = TIMES_OF.get(column.removeprefix(PEER_PREFIX), column.removeprefix(PEER_PREFIX))
            if base in used or (base in SEQUENCE_COLUMNS and used & SEQUENCE_COLUMNS):
                continue  # one sentence per feature, one per session
            weight = float(contrib[i, j])
            if base in SEQUENCE_COLUMNS and context[i].get("_seq_tokens"):
                reasons.append(_sequence_reason(values[i], context[i], weight, timezone))
            elif unusual(column, values[i], context[i]):
                reasons.append(_reason(column, values[i], context[i], weight))
            else:
                continue  # nothing unusual to say: the next contribution may have
            used.add(base)
        out.append(reasons)
    return out


def _contributions(
    model: Detector, frame: pl.DataFrame, min_surprise: float, min_log_odds: float
) -> tuple[npt.NDArray[np.float64], list[str], float]:
    if not isinstance(model, Explainable):
        raise ModelError(
            f"cannot explain a {type(model).__name__}: no SHAP or tail member",
            ko=f"{type(model).__name__}은(는) SHAP이나 꼬리 확률 구성 모델이 없어 사유를 "
            "설명할 수 없습니다",
        )
    contrib, columns = model.feature_contributions(frame)
    floor = min_log_odds if model.contribution_unit == "log_odds" else min_surprise
    return contrib, columns, floor


def method_of(model: Detector) -> str:
    """How the reasons of ``model`` are computed (stored with every score run)."""
    log_odds = isinstance(model, Explainable) and model.contribution_unit == "log_odds"
    return SHAP_METHOD if log_odds else METHOD


def unusual(column: str, row: Mapping[str, Any], ctx: Mapping[str, Any]) -> bool:
    """Does the reason for ``column`` describe something unusual (above the floors)?

    A peer reason needs |z| >= MIN_PEER_Z and a change from the peer mean of at least
    MIN_CHANGE; a "times the own usual" one MIN_TIMES; a deviation from the own habit
    MIN_OWN_SD; any other a change from the user's own average of at least MIN_CHANGE
    (the larger of a share of the average and an amount in the feature's unit).

    >>> unusual("peer_z_distinct_resources", {"distinct_resources": 5,
    ...         "peer_z_distinct_resources": 0.7}, {"_own_distinct_resources": 4.9})
    False
    >>> unusual("delete_count", {"delete_count": 14}, {"_own_delete_count": 2.0})
    True
    """
    base = column.removeprefix(PEER_PREFIX)
    unit = doc_for(base).unit
    value = float(row[base])
    if column.startswith(PEER_PREFIX):
        # many SDs from a group whose members all did the same can still be one event
        return abs(float(row[column])) >= MIN_PEER_Z and _changed(
            value, ctx.get(f"_peer_{base}"), unit
        )
    if unit == "times":
        return value >= MIN_TIMES
    if unit == "z":
        return value >= MIN_OWN_SD
    return _changed(value, ctx.get(f"_own_{base}"), unit)


def _changed(value: float, average: Any, unit: Unit) -> bool:
    """Is ``value`` at least MIN_CHANGE away from ``average`` (None: nothing to compare)?"""
    if average is None:  # no history or no peers: the model's contribution stands alone
        return True
    share, amount = MIN_CHANGE.get(unit, (0.5, 0.5))
    return abs(value - float(average)) >= max(share * abs(float(average)), amount)


def _reason(column: str, row: dict[str, Any], ctx: dict[str, Any], contribution: float) -> Reason:
    base = column.removeprefix(PEER_PREFIX)
    counted = TIMES_OF.get(base, base)  # "times the own usual" shows the count beside it
    value = float(row[base])
    own = _float(ctx.get(f"_own_{counted}"))
    peers_active = ctx.get("_peers_active")
    peer = None if peers_active == 0 else _float(ctx.get(f"_peer_{counted}"))
    texts: dict[str, str] = {}
    for lang in ("ko", "en"):
        compared = compared_words(counted, own, peer, peers_active, lang)
        if base in TIMES_OF:
            texts[lang] = times_sentence(base, value, float(row[counted]), compared, lang)
        elif base == "new_src_ip_count" and ctx.get("_new_src_ips"):
            texts[lang] = f"{ip_words(str(ctx['_new_src_ips']), lang)} ({compared})"
        else:
            label = doc_for(base).ko if lang == "ko" else doc_for(base).en
            texts[lang] = f"{label} {show_value(value, base, lang)} ({compared})"
        if column.startswith(PEER_PREFIX) and peer is not None:
            texts[lang] += peer_clause(float(row[column]), lang)
        day_off = ctx.get(f"_day_off_{lang}")
        if base in OFF_HOURS_COLUMNS and day_off:
            texts[lang] = f"{day_off_words(str(day_off), lang)}: {texts[lang]}"
    return Reason(
        feature=column,
        value=value,
        own_average=own,
        peer_average=peer,
        contribution=round(contribution, 3),
        ko=texts["ko"],
        en=texts["en"],
    )


def _session_words(tokens: str, lang: str) -> str:
    """Tokens as words, runs collapsed ('조회 x3'), at most SHOWN_TOKENS shown (the tokens
    after them are not read: a day's session may hold 100,000 steps)."""
    runs: list[tuple[str, int]] = []
    for token, run in itertools.groupby(tokens.split()):  # runs counted in C
        runs.append((token, len(list(run))))
        if len(runs) > SHOWN_TOKENS:  # the shown runs are complete: one more is "…"
            break
    words = [token_words(t, lang) + (f" x{n}" if n > 1 else "") for t, n in runs]
    shown = " → ".join(words[:SHOWN_TOKENS])
    return shown + (" → …" if len(words) > SHOWN_TOKENS else "")


def _sequence_reason(
    row: dict[str, Any], ctx: dict[str, Any], contribution: float, timezone: str
) -> Reason:
    tokens = str(ctx["_seq_tokens"])
    start = ctx.get("_seq_start")
    at = "" if start is None else start.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%H:%M")
    steps = len(tokens.split())
    score = float(row["seq_anomaly_score"])
    own = _float(ctx.get("_own_seq_anomaly_score"))
    peer = None if ctx.get("_peers_active") == 0 else _float(ctx.get("_peer_seq_anomaly_score"))
    rare = int(row.get("rare_transition_count", 0))
    ko = (
        f"이례적 작업 순서: {_session_words(tokens, 'ko')} ({at} 시작, {steps}단계, "
        f"드문 전환 {rare}회) — 이 사용자·동료 그룹에게 드문 순서 (이례성 {score:.0f}점, "
        f"본인 평균 {_num(own, '점')}, {_peer_words(peer, ctx.get('_peers_active'), 'ko')})"
    )
    en = (
        f"unusual action sequence: {_session_words(tokens, 'en')} (started {at}, {steps} steps, "
        f"{rare} rare steps) — unusual for this user and peer group (score {score:.0f} points, "
        f"own average {_num(own, ' points')}, {_peer_words(peer, ctx.get('_peers_active'), 'en')})"
    )
    return Reason(
        feature="seq_anomaly_score",
        value=score,
        own_average=own,
        peer_average=peer,
        contribution=round(contribution, 3),
        ko=ko,
        en=en,
    )


def _watch_reason(row: dict[str, Any], ctx: dict[str, Any]) -> Reason:
    names = str(ctx.get("_seq_watch") or "")
    n = int(row["watchlist_match_count"])
    return Reason(
        feature="watchlist_match_count",
        value=float(n),
        own_average=_float(ctx.get("_own_watchlist_match_count")),
        peer_average=_float(ctx.get("_peer_watchlist_match_count")),
        contribution=99.0,  # always first, whatever the models say
        ko=f"감시 패턴 일치: {names} ({n}회) — 준법 담당자가 지정한 순서",
        en=f"watch-list pattern matched: {names} ({n}x) — a sequence compliance asked to watch",
    )


def _peer_words(peer: float | None, peers_active: Any, lang: str) -> str:
    """The sequence score's peer part: '동료 그룹 평균 95점' or '그날 활동한 동료 없음'."""
    if peers_active == 0:
        return "그날 활동한 동료 없음" if lang == "ko" else "no peer active that day"
    if peer is None:
        return "비교할 동료 없음" if lang == "ko" else "no peers to compare with"
    if lang == "ko":
        return f"동료 그룹 평균 {_num(peer, '점')}"
    return f"peer-group average {_num(peer, ' points')}"


def _num(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{x:.0f}{unit}"


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


#: The JSON form of stored reasons (keys sorted, no ASCII escapes): one encoder for every
#: score's and every incident's reasons.
REASONS_JSON: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def reasons_json(reasons: list[Reason]) -> str:
    """Reasons as a JSON array (stored with each score)."""
    # the fields by hand: dataclasses.asdict deep-copies field by field, ~6x the cost
    # for these flat records (a stream stores reasons at every scoring)
    rows = [{name: getattr(r, name) for name in _REASON_FIELDS} for r in reasons]
    return REASONS_JSON.encode(rows)


def same_reasons(stored: str, reasons: list[Reason], tolerance: float = 1e-6) -> bool:
    """Do stored reasons (JSON) say the same as ``reasons``: same features and sentences,
    contributions equal within ``tolerance``?

    Sentences show rounded values, so the last-bit float differences a recomputation
    may bring (parallel sums) do not count; a different reason or wording does.
    """
    before = json.loads(stored)
    if len(before) != len(reasons):
        return False
    return all(
        b["feature"] == r.feature
        and b["ko"] == r.ko
        and b["en"] == r.en
        and abs(float(b["contribution"]) - r.contribution) <= tolerance
        for b, r in zip(before, reasons, strict=True)
    )


def reasons_text(reasons: list[Reason], lang: str) -> str:
    """Reasons joined into one line for CSV output and terminals."""
    return "; ".join(r.text(lang) for r in reasons)


def incident_reasons(
    days: Sequence[tuple[dt.date, Sequence[Mapping[str, Any]]]],
) -> list[dict[str, Any]]:
    """The reasons of a peak incident (one or more tied days), strongest first.

    Each reason (as stored: a dict of :class:`Reason` fields) gets the ``window`` (ISO
    day) it belongs to; the list is ordered by contribution, highest first (a watch-list
    match always leads), ties in day order. The run's output and the alert both take
    their reasons from here, so they name the same day and the same top reason.
    """
    tagged: list[dict[str, Any]] = []
    for day, reasons in sorted(days, key=lambda d: d[0]):
        window = day.isoformat()
        tagged.extend({**reason, "window": window} for reason in reasons)
    return sorted(tagged, key=lambda r: -float(r.get("contribution", 0.0)))


def incident_lines(
    reasons: Sequence[Mapping[str, Any]], lang: str, days: int, top: int = 3
) -> list[str]:
    """The first ``top`` incident reasons as sentences in ``lang``; with several tied
    days each names its day ("[2026-10-01] ...")."""
    return [
        (f"[{r['window']}] " if days > 1 and r.get("window") else "")
        + str(r.get(lang) or r.get("en") or r.get("feature", ""))
        for r in reasons[:top]
    ]
