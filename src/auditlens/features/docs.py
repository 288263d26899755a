"""Names, units and plain-language labels (Korean and English) of every feature column.

docs/features.md documents the same columns for people; a test keeps the two and the
matrix in step.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final, Literal

Unit = Literal["ratio", "count", "hour", "times", "score", "bits", "z", "days", "hours"]


@dataclass(frozen=True)
class FeatureDoc:
    """How to name and show one feature."""

    ko: str
    en: str
    unit: Unit


# fmt: off
FEATURE_DOCS: Final[dict[str, FeatureDoc]] = {
    "login_count": FeatureDoc("로그인 횟수", "logins", "count"),
    "off_hours_login_ratio": FeatureDoc("업무시간 외 로그인 비율", "off-hours login ratio", "ratio"),
    "off_hours_action_ratio": FeatureDoc("업무시간 외 활동 비율", "off-hours activity ratio", "ratio"),
    "off_hours_action_count": FeatureDoc("업무시간 외 활동 건수", "off-hours actions", "count"),
    "first_activity_hour": FeatureDoc("첫 활동 시각", "first activity", "hour"),
    "last_activity_hour": FeatureDoc("마지막 활동 시각", "last activity", "hour"),
    "hour_entropy": FeatureDoc("활동 시간대 분산(엔트로피)", "spread of active hours (entropy)", "bits"),
    "weighted_resource_score": FeatureDoc("민감도 가중 자원 접근 점수", "sensitivity-weighted access score", "score"),
    "sensitive_access_count": FeatureDoc("민감 자원 접근 건수", "sensitive-resource accesses", "count"),
    "off_hours_sensitive_count": FeatureDoc("업무시간 외 민감 자원 접근 건수", "off-hours sensitive accesses", "count"),
    "distinct_resources": FeatureDoc("접근한 서로 다른 자원 수", "distinct resources", "count"),
    "new_sensitive_resource_count": FeatureDoc("처음 접근한 민감 자원 종류 수", "sensitive resource kinds used for the first time", "count"),
    "bulk_action_count": FeatureDoc("대량 반출성 행위(다운로드·내보내기·인쇄·USB) 건수", "bulk actions (download, export, print, USB)", "count"),
    "bulk_vs_baseline": FeatureDoc("대량 반출성 행위 건수(본인 평소 대비 배수)", "bulk actions vs own usual (times)", "times"),
    "usb_connect_count": FeatureDoc("USB 연결 횟수", "USB connections", "count"),
    "delete_count": FeatureDoc("삭제 건수", "deletions", "count"),
    "delete_vs_baseline": FeatureDoc("삭제 건수(본인 평소 대비 배수)", "deletions vs own usual (times)", "times"),
    "sensitive_change_count": FeatureDoc("민감 자원 수정·삭제 건수", "edits and deletions of sensitive resources", "count"),
    "failed_access_count": FeatureDoc("접근 거부(실패) 건수", "denied (failed) accesses", "count"),
    "distinct_hosts": FeatureDoc("사용한 단말 수", "hosts used", "count"),
    "new_host_count": FeatureDoc("처음 사용한 단말 수", "hosts used for the first time", "count"),
    "new_src_ip_count": FeatureDoc("처음 사용한 접속 IP 수", "source IPs used for the first time", "count"),
    "failed_login_count": FeatureDoc("로그인 실패 횟수", "failed logins", "count"),
    "failed_login_burst": FeatureDoc("10분 내 연속 로그인 실패 최대 횟수", "most failed logins within 10 minutes", "count"),
    "off_hours_login_gap_days": FeatureDoc("업무시간 외 로그인 공백(직전 이후 일수, 처음이면 전체 이력)", "days since the previous off-hours login (first ever: whole history)", "days"),
    "usb_gap_days": FeatureDoc("USB 사용 공백(직전 이후 일수, 처음이면 전체 이력)", "days since the previous USB use (first ever: whole history)", "days"),
    "login_hours_beyond_range": FeatureDoc("본인의 이전 로그인 시간대를 벗어난 시간", "hours of logon outside any earlier own logon hours", "hours"),
    "novel_kind_count": FeatureDoc("처음 해 본 행동 종류 수(업무시간 외 로그인·USB·새 단말)", "kinds of behaviour shown for the first time ever (off-hours logon, USB, new host)", "count"),
    "peer_rare_novelty": FeatureDoc("동료 집단에서 드문 첫 행동(아무도 안 한 행동이면 1씩)", "first-ever behaviour rare among peers (1 per kind nobody else did)", "score"),
    "foreign_host_count": FeatureDoc("처음 사용한 다른 사람의 단말 수", "other people's hosts used for the first time", "count"),
    "peer_new_resource": FeatureDoc("동료 집단에서 드문 민감 자원 종류의 첫 사용(아무도 안 쓴 종류면 1씩)", "sensitive resource kinds used for the first time, rare among peers (1 per kind nobody else used)", "score"),
    "seq_anomaly_score": FeatureDoc("이례적 작업 순서 점수", "unusual action-sequence score", "score"),
    "rare_transition_count": FeatureDoc("드문 작업 전환 횟수", "rare action-to-action steps", "count"),
    "watchlist_match_count": FeatureDoc("감시 패턴 일치 횟수", "watch-list pattern matches", "count"),
}

#: The Korean counter (docs/style-ko.md) each count column is shown with: 건 for events,
#: 회 for times something happened, 개 for distinct things, 대 for machines.
COUNTERS: Final[dict[str, str]] = {
    "login_count": "회", "off_hours_action_count": "건", "sensitive_access_count": "건",
    "off_hours_sensitive_count": "건", "distinct_resources": "개",
    "new_sensitive_resource_count": "개", "bulk_action_count": "건", "usb_connect_count": "회",
    "delete_count": "건", "sensitive_change_count": "건", "failed_access_count": "건",
    "distinct_hosts": "대", "new_host_count": "대", "new_src_ip_count": "개",
    "failed_login_count": "회", "failed_login_burst": "회", "rare_transition_count": "회",
    "watchlist_match_count": "회", "novel_kind_count": "개", "foreign_host_count": "대",
}

#: Unit words of the other units (Korean, English), appended to the number.
UNIT_WORDS: Final[dict[Unit, tuple[str, str]]] = {
    "score": ("점", " points"),
    "bits": ("비트", " bits"),
    "z": (" 표준편차", " SD"),
    "days": ("일", " days"),
    "hours": ("시간", " h"),
}

#: Which count each "times the own usual" column divides (its reason shows both).
TIMES_OF: Final[dict[str, str]] = {
    "bulk_vs_baseline": "bulk_action_count",
    "delete_vs_baseline": "delete_count",
}

#: How actions read in reasons.
ACTION_WORDS: Final[dict[str, tuple[str, str]]] = {
    "login": ("로그인", "login"),
    "logout": ("로그아웃", "logout"),
    "view": ("조회", "view"),
    "edit": ("수정", "edit"),
    "create": ("생성", "create"),
    "delete": ("삭제", "delete"),
    "download": ("다운로드", "download"),
    "upload": ("업로드", "upload"),
    "export": ("내보내기", "export"),
    "print": ("인쇄", "print"),
    "copy": ("복사", "copy"),
    "send": ("전송", "send"),
    "usb_connect": ("USB 연결", "USB connect"),
    "usb_disconnect": ("USB 해제", "USB disconnect"),
    "grant": ("권한 부여", "grant"),
    "query": ("쿼리", "query"),
    "other": ("기타 작업", "other action"),
}
# fmt: on

#: Prefix of peer-group z-score columns; the rest of the name is a base feature.
PEER_PREFIX: Final = "peer_z_"


def token_words(token: str, lang: str) -> str:
    """A sequence token for people: ``edit:high`` -> '수정(민감)' / 'edit (sensitive)'."""
    action, _, level = token.partition(":")
    ko, en = ACTION_WORDS.get(action, (action, action))
    if lang == "ko":
        return f"{ko}(민감)" if level else ko
    return f"{en} (sensitive)" if level else en


def doc_for(column: str) -> FeatureDoc:
    """The doc of a column; ``peer_z_<c>`` columns are described through ``c``."""
    if column.startswith(PEER_PREFIX):
        base = FEATURE_DOCS[column.removeprefix(PEER_PREFIX)]
        return FeatureDoc(f"{base.ko} (동료 그룹 대비)", f"{base.en} (vs peer group)", "z")
    return FEATURE_DOCS[column]


def format_value(value: float | None, unit: Unit, lang: str = "ko") -> str:
    """Show a feature value for people: 0.62 ratio -> '62%', 23.67 hour -> '23:40'."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value * 100:.0f}%"
    if unit == "hour":
        minutes = round(value * 60) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if unit == "times":
        return f"{value:.1f}배" if lang == "ko" else f"{value:.1f}x"
    if unit == "count":
        return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"
    return f"{value:,.1f}"


def show_value(value: float | None, column: str, lang: str = "ko") -> str:
    """A feature value with its unit (docs/style-ko.md): counts get their counter.

    >>> show_value(14, "delete_count"), show_value(2, "distinct_hosts", "ko")
    ('14건', '2대')
    >>> show_value(19.1, "peer_z_delete_count"), show_value(19.1, "peer_z_delete_count", "en")
    ('19.1 표준편차', '19.1 SD')
    >>> show_value(3.5, "login_hours_beyond_range"), show_value(40, "usb_gap_days", "en")
    ('3.5시간', '40.0 days')
    >>> show_value(0.62, "off_hours_login_ratio"), show_value(None, "delete_count")
    ('62%', '-')
    """
    doc = doc_for(column)
    shown = format_value(value, doc.unit, lang)
    if value is None:
        return shown
    if doc.unit == "count":
        return shown + COUNTERS.get(column, "건") if lang == "ko" else shown
    words = UNIT_WORDS.get(doc.unit)
    if words is None:
        return shown
    return shown + (words[0] if lang == "ko" else words[1])


def subject_particle(word: str) -> str:
    """이 or 가 after ``word``: '이' after a final consonant (받침), else '가'.

    >>> subject_particle("삭제 건수"), subject_particle("USB 연결")
    ('가', '이')
    """
    last = word.rstrip()[-1:] or "가"
    if "가" <= last <= "힣":
        return "이" if (ord(last) - ord("가")) % 28 else "가"
    return "이" if last.isalpha() and last.lower() not in "aeiouy" else "가"


#: Networks read as internal; a first-time address outside them is "외부" (external).
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
SHOWN_IPS = 3


def day_off_words(name: str, lang: str) -> str:
    """A day off in words, from its name (calendar.day_off_names).

    >>> day_off_words("추석 전날", "ko"), day_off_words("개천절", "ko")
    ('추석 연휴 중 활동', '휴일(개천절) 중 활동')
    """
    if lang == "ko":
        for holiday, season in (("추석", "추석 연휴"), ("설날", "설 연휴")):
            if holiday in name:
                return f"{season} 중 활동"
        return "주말 중 활동" if name == "주말" else f"휴일({name}) 중 활동"
    if name == "weekend":
        return "activity at the weekend"
    return f"activity on a holiday ({name})"


def ip_words(ips: str, lang: str) -> str:
    """First-time source IPs (comma-separated) in words, external ones first.

    >>> ip_words("10.0.0.7, 203.0.113.7", "ko"), ip_words("10.0.0.7", "en")
    ('처음 보는 외부 IP 203.0.113.7', 'first-time internal IP 10.0.0.7')
    """
    addresses = [a.strip() for a in ips.split(",") if a.strip()]
    outside = [a for a in addresses if not _internal(a)]
    shown = outside or addresses
    listed = ", ".join(shown[:SHOWN_IPS])
    more = len(shown) - SHOWN_IPS
    if lang == "ko":
        kind = "외부 IP" if outside else "내부 IP"
        rest = f" 외 {more}개" if more > 0 else ""
        return f"처음 보는 {kind} {listed}{rest}"
    kind = "external IP" if outside else "internal IP"
    rest = f" and {more} more" if more > 0 else ""
    return f"first-time {kind} {listed}{rest}"


def _internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a host name): not known to be internal
        return False
    return any(ip in network for network in INTERNAL_NETWORKS)


def compared_words(
    column: str, own: float | None, peer: float | None, peers_active: Any, lang: str
) -> str:
    """'본인 평균 2건, 동료 그룹 평균 0.4건' (or '그날 활동한 동료 없음')."""
    if lang == "ko":
        mine = f"본인 평균 {show_value(own, column, 'ko')}"
        if peers_active == 0:
            return f"{mine}, 그날 활동한 동료 없음"
        if peer is None:
            return f"{mine}, 비교할 동료 없음"
        return f"{mine}, 동료 그룹 평균 {show_value(peer, column, 'ko')}"
    mine = f"own average {show_value(own, column, 'en')}"
    if peers_active == 0:
        return f"{mine}, no peer active that day"
    if peer is None:
        return f"{mine}, no peers to compare with"
    return f"{mine}, peer-group average {show_value(peer, column, 'en')}"


def times_sentence(column: str, times: float, today: float, compared: str, lang: str) -> str:
    """'삭제 건수가 본인 평소의 5.2배 (오늘 14건, 본인 평균 2건, ...)'."""
    counted = TIMES_OF[column]
    if lang == "ko":
        label = doc_for(counted).ko
        return (
            f"{label}{subject_particle(label)} 본인 평소의 {times:.1f}배 "
            f"(오늘 {show_value(today, counted, 'ko')}, {compared})"
        )
    return (
        f"{doc_for(counted).en} {times:.1f}x the own usual "
        f"(today {show_value(today, counted, 'en')}, {compared})"
    )


def peer_clause(z: float, lang: str) -> str:
    """' — 동료 그룹보다 3.1 표준편차 높음' (or 낮음)."""
    if lang == "ko":
        return f" — 동료 그룹보다 {abs(z):.1f} 표준편차 {'높음' if z >= 0 else '낮음'}"
    return f" — {abs(z):.1f} SD {'above' if z >= 0 else 'below'} the peer group"
