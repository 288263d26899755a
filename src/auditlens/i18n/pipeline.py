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
    # the stages of a job (pipeline/stages.py) and their units, as progress shows them
    "stage_features": {"ko": "특성 계산", "en": "features"},
    "stage_features and model": {"ko": "특성 계산과 모델 준비", "en": "features and model"},
    "stage_score": {"ko": "점수 계산", "en": "score"},
    "stage_reasons": {"ko": "사유 작성", "en": "reasons"},
    "stage_store": {"ko": "저장", "en": "store"},
    "stage_alerts": {"ko": "경보 발행", "en": "alerts"},
    "stage_shadow": {"ko": "도전자 모델 그림자 채점", "en": "shadow scoring"},
    "stage_grid search": {"ko": "하이퍼파라미터 탐색", "en": "grid search"},
    "stage_cross-validation": {"ko": "교차 검증", "en": "cross-validation"},
    "stage_metrics and report": {"ko": "지표 계산과 보고서 작성", "en": "metrics and report"},
    "stage_fit": {"ko": "학습", "en": "fit"},
    "stage_save": {"ko": "모델 저장", "en": "save"},
    "stage_register": {"ko": "MLflow 모델 등록", "en": "register in MLflow"},
    "stage_ingest": {"ko": "{source} 수집", "en": "ingest {source}"},
    "unit_rows": {"ko": "행", "en": "rows"},
    "unit_fits": {"ko": "회", "en": "fits"},
    "train_done": {
        "ko": "양성 구간 {n}개로 스태킹 앙상블을 학습했습니다",
        "en": "stacked ensemble trained on {n} positive windows",
    },
}
