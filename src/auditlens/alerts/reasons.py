"""Reason codes of triage decisions: one fixed list with Korean and English labels.

A decision says *why* with one of these codes (``--reason``) and, in free text, anything
more (``--note``). A fixed list keeps the trail countable ("how many dismissals were
false positives last quarter?"); the note keeps the detail. README lists them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ReasonCode(StrEnum):
    """Why a person decided as they did."""

    REVIEWING = "reviewing"
    FALSE_POSITIVE = "false_positive"
    EXPLAINED = "explained"
    POLICY_EXCEPTION = "policy_exception"
    DUPLICATE = "duplicate"
    SUSPECTED_VIOLATION = "suspected_violation"
    CONFIRMED = "confirmed"
    REFERRED = "referred"
    REMEDIATED = "remediated"
    APPROVED = "approved"
    NEW_EVIDENCE = "new_evidence"
    MISTAKE = "mistake"
    OTHER = "other"


#: (Korean, English) label of every code.
LABELS: Final[dict[ReasonCode, tuple[str, str]]] = {
    ReasonCode.REVIEWING: ("검토 중", "under review"),
    ReasonCode.FALSE_POSITIVE: ("오탐", "false positive"),
    ReasonCode.EXPLAINED: ("업무상 정당한 사유 확인", "legitimate business reason confirmed"),
    ReasonCode.POLICY_EXCEPTION: ("승인된 예외", "approved policy exception"),
    ReasonCode.DUPLICATE: ("중복 알림", "duplicate of another alert"),
    ReasonCode.SUSPECTED_VIOLATION: ("위반 의심", "suspected violation"),
    ReasonCode.CONFIRMED: ("위반 확인", "violation confirmed"),
    ReasonCode.REFERRED: ("조사·징계 부서 이관", "referred to investigation / HR"),
    ReasonCode.REMEDIATED: ("조치 완료", "remediated"),
    ReasonCode.APPROVED: ("종결 승인", "closing approved"),
    ReasonCode.NEW_EVIDENCE: ("새로운 증거", "new evidence"),
    ReasonCode.MISTAKE: ("잘못된 처리 정정", "correcting a mistaken decision"),
    ReasonCode.OTHER: ("기타 (메모 필수)", "other (note required)"),
}


def label(code: ReasonCode, lang: str) -> str:
    """The label of ``code`` in ``lang`` (ko or en)."""
    ko, en = LABELS[code]
    return ko if lang == "ko" else en


def parse(text: str) -> ReasonCode:
    """The code ``text`` names (case and surrounding space ignored).

    Raises:
        ValueError: not one of the codes (the message lists them).
    """
    try:
        return ReasonCode(text.strip().casefold())
    except ValueError:
        known = ", ".join(c.value for c in ReasonCode)
        raise ValueError(f"reason code {text!r} is not one of: {known}") from None
