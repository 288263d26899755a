"""What the pipeline's steps (ingest, train, alerting, dispatch) tell a person, in Korean
and English: notes and status lines the CLI prints, used in more than one place."""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "train_few_users": {
        "ko": "확인된 적발 사례가 있는 라벨 사용자가 {n}명뿐입니다 (최소 {need}명 필요: 그보다 "
        "적으면 수치가 한 사람에 좌우됩니다). 비지도 모델을 계속 사용합니다",
        "en": "only {n} labelled users with a confirmed finding (need {need}: with fewer, "
        "the figures hang on one person); keeping the unsupervised model",
    },
    "train_few_windows": {
        "ko": "라벨이 붙은 양성 구간이 {n}개뿐입니다 (최소 {need}개 필요). "
        "비지도 모델을 계속 사용합니다",
        "en": "only {n} labelled positive windows (need {need}); keeping the unsupervised model",
    },
    "train_done": {
        "ko": "양성 구간 {n}개로 스태킹 앙상블을 학습했습니다",
        "en": "stacked ensemble trained on {n} positive windows",
    },
}
