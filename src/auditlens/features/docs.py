"""Names, units and plain-language labels (Korean and English) of every feature column.

docs/features.md documents the same columns for people; a test keeps the two and the
matrix in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Unit = Literal["ratio", "count", "hour", "times", "score", "bits", "z"]


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
    "login_hour_deviation": FeatureDoc("평소와 다른 로그인 시각(편차)", "login time unlike own habit (deviation)", "z"),
    "weighted_resource_score": FeatureDoc("민감도 가중 자원 접근 점수", "sensitivity-weighted access score", "score"),
    "sensitive_access_count": FeatureDoc("민감 자원 접근 건수", "sensitive-resource accesses", "count"),
    "off_hours_sensitive_count": FeatureDoc("업무시간 외 민감 자원 접근 건수", "off-hours sensitive accesses", "count"),
    "distinct_resources": FeatureDoc("접근한 서로 다른 자원 수", "distinct resources", "count"),
    "new_sensitive_resource_count": FeatureDoc("처음 접근한 민감 자원 종류 수", "sensitive resource kinds used for the first time", "count"),
    "bulk_action_count": FeatureDoc("대량 반출성 행위(다운로드·내보내기·인쇄·USB) 건수", "bulk actions (download, export, print, USB)", "count"),
    "bulk_vs_baseline": FeatureDoc("대량 반출성 행위, 본인 평소 대비 배수", "bulk actions vs own usual (times)", "times"),
    "usb_connect_count": FeatureDoc("USB 연결 횟수", "USB connections", "count"),
    "delete_count": FeatureDoc("삭제 건수", "deletions", "count"),
    "delete_vs_baseline": FeatureDoc("삭제, 본인 평소 대비 배수", "deletions vs own usual (times)", "times"),
    "sensitive_change_count": FeatureDoc("민감 자원 수정·삭제 건수", "edits and deletions of sensitive resources", "count"),
    "failed_access_count": FeatureDoc("접근 거부(실패) 건수", "denied (failed) accesses", "count"),
    "distinct_hosts": FeatureDoc("사용한 단말 수", "hosts used", "count"),
    "new_host_count": FeatureDoc("처음 사용한 단말 수", "hosts used for the first time", "count"),
    "new_src_ip_count": FeatureDoc("처음 사용한 접속 IP 수", "source IPs used for the first time", "count"),
    "failed_login_count": FeatureDoc("로그인 실패 횟수", "failed logins", "count"),
    "failed_login_burst": FeatureDoc("10분 내 연속 로그인 실패 최대 횟수", "most failed logins within 10 minutes", "count"),
    "seq_anomaly_score": FeatureDoc("이례적 작업 순서 점수", "unusual action-sequence score", "score"),
    "rare_transition_count": FeatureDoc("드문 작업 전환 횟수", "rare action-to-action steps", "count"),
    "watchlist_match_count": FeatureDoc("감시 패턴 일치 횟수", "watch-list pattern matches", "count"),
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
