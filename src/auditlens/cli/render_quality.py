"""Printing of `auditlens monitor quality` and `auditlens review`: precision per week and
scenario, the miss-rate estimate, review samples and verdicts (ko/en)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditlens.alerts.reasons import ReasonCode, label
from auditlens.cli.common import console
from auditlens.cli.tables import Column, feature_label, print_table
from auditlens.i18n import pick, severity_label
from auditlens.localtime import local_time

if TYPE_CHECKING:
    from auditlens.monitor.review import Verdict
    from auditlens.views import PageOf, Quality, QualityRow, ReviewRow

#: How a review status reads.
_STATUS_KO = {"pending": "검토 대기", "missed": "놓침", "clean": "문제 없음"}


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _reason(code: str | None, lang: str) -> str:
    """A reason code as its label in ``lang`` (an unknown code as it is)."""
    try:
        return label(ReasonCode(code or ""), lang)
    except ValueError:
        return code or "-"


def status_word(status: str, lang: str) -> str:
    """A review sample's status in ``lang``."""
    return pick(lang, status, _STATUS_KO.get(status, status))


def _rows(rows: tuple[QualityRow, ...] | list[QualityRow], first: str, lang: str) -> None:
    columns = [
        Column(first, text=first != pick(lang, "week", "주")),
        Column(pick(lang, "alerts", "알림"), justify="right"),
        Column(pick(lang, "confirmed", "위반 확인"), justify="right"),
        Column(pick(lang, "dismissed", "기각"), justify="right"),
        Column(pick(lang, "open", "미결"), justify="right"),
        Column(pick(lang, "precision", "정밀도"), justify="right"),
        Column(pick(lang, "median h to close", "종결 중앙값(시간)"), justify="right"),
        Column(pick(lang, "p90 h", "90백분위(시간)"), justify="right"),
    ]
    body = [
        [
            (r.week or "") if r.scenario is None else feature_label(r.scenario, lang),
            f"{r.alerts:,}",
            f"{r.confirmed:,}",
            f"{r.dismissed:,}",
            f"{r.open:,}",
            _share(r.precision),
            _hours(r.median_hours_to_close),
            _hours(r.p90_hours_to_close),
        ]
        for r in rows
    ]
    print_table(console, columns, body, lang=lang)


def print_quality(q: Quality, lang: str) -> None:
    """The per-week and per-scenario tables, then the miss-rate and recall estimate."""
    say = console.print
    say(
        pick(
            lang,
            f"Detection quality {q.start} to {q.end} ({q.zone}): alerts by the ISO week "
            "they were opened in, as triaged now",
            f"탐지 품질 {q.start} ~ {q.end} ({q.zone}): 생성된 ISO 주 기준, 현재 처리 상태",
        ),
        highlight=False,
        soft_wrap=True,
    )
    _rows(q.weeks, pick(lang, "week", "주"), lang)
    if q.scenarios:
        _rows(q.scenarios, pick(lang, "scenario", "유형"), lang)
    t = q.total
    say(
        pick(
            lang,
            f"all: {t.alerts:,} alerts, precision {_share(t.precision)} (confirmed "
            f"{t.confirmed:,} / confirmed + dismissed {t.confirmed + t.dismissed:,})",
            f"전체: 알림 {t.alerts:,}건, 정밀도 {_share(t.precision)} (위반 확인 "
            f"{t.confirmed:,}건 / 위반 확인+기각 {t.confirmed + t.dismissed:,}건)",
        ),
        highlight=False,
        soft_wrap=True,
    )
    m = q.misses
    if m.drawn == 0:
        say(
            pick(
                lang,
                "miss rate: no review samples drawn in these weeks (set [monitoring] "
                "review_sample to draw some each run)",
                "놓침 비율: 이 기간에 뽑힌 검토 표본이 없습니다 ([monitoring] review_sample을 "
                "설정하면 실행마다 표본을 뽑습니다)",
            ),
            highlight=False,
            soft_wrap=True,
        )
        return
    rate = f"{_share(m.miss_rate)} [{_share(m.miss_rate_low)} ~ {_share(m.miss_rate_high)}]"
    missed = (
        f"{_number(m.estimated_missed)} [{_number(m.estimated_missed_low)} ~ "
        f"{_number(m.estimated_missed_high)}]"
    )
    recall = f"{_share(m.recall)} [{_share(m.recall_low)} ~ {_share(m.recall_high)}]"
    say(
        pick(
            lang,
            f"review samples: {m.drawn:,} drawn, {m.reviewed:,} reviewed, {m.pending:,} "
            f"pending; {m.missed:,} missed\n"
            f"miss rate {rate} (Wilson 95%) of {m.population:,} unflagged users: "
            f"about {missed} missed\nestimated recall {recall}",
            f"검토 표본: {m.drawn:,}건 추출, {m.reviewed:,}건 검토, {m.pending:,}건 대기; "
            f"놓침 {m.missed:,}건\n"
            f"놓침 비율 {rate} (윌슨 95%), 미탐지 사용자 {m.population:,}명 중 약 {missed}명 "
            f"놓침\n추정 재현율 {recall}",
        ),
        highlight=False,
        soft_wrap=True,
    )


def print_reviews(found: PageOf[ReviewRow], zone: str, lang: str) -> None:
    """Review samples, newest draw first."""
    columns = [
        Column("id", justify="right"),
        Column(pick(lang, "user", "사용자")),
        Column(pick(lang, "day", "일자")),
        Column(pick(lang, "risk", "위험 점수"), justify="right"),
        Column(pick(lang, "severity", "심각도")),
        Column(pick(lang, "drawn", "추출 시각")),
        Column(pick(lang, "status", "상태"), text=True),
    ]
    rows = [
        [
            str(r.id),
            r.user_id,
            str(r.day),
            f"{r.risk:.1f}",
            severity_label(r.severity, lang),
            local_time(r.drawn_at, zone),
            status_word(r.status, lang)
            + (f" ({r.decided_by}, {_reason(r.reason_code, lang)})" if r.decided_by else ""),
        ]
        for r in found.items
    ]
    print_table(console, columns, rows, lang=lang)
    console.print(
        pick(
            lang,
            f"{len(found.items):,} of {found.total:,} samples",
            f"표본 {found.total:,}건 중 {len(found.items):,}건",
        ),
        highlight=False,
    )


def print_verdict(made: Verdict, lang: str) -> None:
    """What a verdict recorded."""
    s = made.sample
    console.print(
        pick(
            lang,
            f"review sample #{s.id} ({s.user_id}): {s.status} by {made.entry.actor}, "
            f"reason {_reason(s.reason_code, lang)} (audit #{made.entry.seq})",
            f"검토 표본 #{s.id} ({s.user_id}): {status_word(s.status, lang)}, 판정자 "
            f"{made.entry.actor}, 사유 {_reason(s.reason_code, lang)} "
            f"(감사 기록 #{made.entry.seq})",
        ),
        highlight=False,
        soft_wrap=True,
    )
