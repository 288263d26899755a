"""The Korean words for vocabulary values a person reads in many places (one word each).

An alert's status reads the same in `alerts list`, `alerts show`, a refusal ("종결 상태에서는
… 할 수 없습니다") and the API; the lifecycle and the printers both take it from here.
"""

from __future__ import annotations

from typing import Final

#: Each alert status (store/alerts.ALERT_STATUSES) in Korean.
ALERT_STATUS_KO: Final[dict[str, str]] = {
    "open": "신규",
    "acknowledged": "확인",
    "escalated": "상향 보고",
    "close_requested": "종결 승인 대기",
    "closed": "종결",
    "dismissed": "오탐 기각",
}
