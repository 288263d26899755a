"""What `auditlens run` and the alerting step tell a person, in Korean and English."""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "run_busy": {
        "ko": "다른 `auditlens run`이 이 저장소에서 실행 중입니다 ({wait}초 기다림)",
        "en": "another `auditlens run` is working on this store (waited {wait} s)",
    },
    "run_busy_hint": {
        "ko": "끝난 뒤 다시 실행하거나 `--wait 초`로 더 기다리세요 (종료 코드 6)",
        "en": "run again when it has finished, or wait longer with `--wait SECONDS` (exit code 6)",
    },
    "config_changed": {
        "ko": "점수에 영향을 주는 설정이 실행 {run} 이후 바뀌었습니다 ({fields}): "
        "전체 {n}개 사용자-일을 다시 점수화해 저장했습니다",
        "en": "settings that change scores differ from run {run} ({fields}): "
        "rescored and stored all {n} user-days",
    },
    "nothing_new": {
        "ko": "실행 {run} 이후 새 이벤트가 없습니다: 다시 계산하지 않았고, 사용자별 최고 위험은 "
        "저장된 점수에서 보여 줍니다",
        "en": "no new events since run {run}: nothing was recomputed; the users' peaks "
        "shown are the stored ones",
    },
    "not_recorded": {
        "ko": "이전 실행에는 설정 내용이 기록되지 않음",
        "en": "the earlier run did not record them",
    },
    "ensemble_stale": {
        "ko": "학습된 앙상블 {sha}의 특성 열이 현재 설정의 특성과 다릅니다 ({diff})",
        "en": "the trained ensemble {sha} was fitted on other feature columns "
        "than the current settings produce ({diff})",
    },
    "ensemble_stale_hint": {
        "ko": "`auditlens train --labels 파일`로 다시 학습하거나, 비지도 모델로 바꾸려면 "
        "`auditlens run --refit --unsupervised`",
        "en": "train it again with `auditlens train --labels FILE`, or replace it with an "
        "unsupervised model: `auditlens run --refit --unsupervised`",
    },
    "refit_keeps_ensemble": {
        "ko": "--refit: 학습된 앙상블 {sha}을(를) 계속 사용합니다 (다시 학습: `auditlens "
        "train`; 비지도 모델로 교체: `auditlens run --refit --unsupervised`)",
        "en": "--refit: keeping the trained ensemble {sha} (train it again with `auditlens "
        "train`; replace it with an unsupervised model: `auditlens run --refit --unsupervised`)",
    },
    "model_other_config": {
        "ko": "모델 {sha}은(는) 다른 설정에서 학습되었습니다 (새로 맞추려면 `auditlens {cmd}`)",
        "en": "model {sha} was fitted under other settings (fit it again: `auditlens {cmd}`)",
    },
    "features_changed": {
        "ko": "특성 열이 바뀌어 ({diff}) 모델 {sha} 대신 새 비지도 모델을 학습했습니다",
        "en": "feature columns changed ({diff}): fitted a new unsupervised model instead of {sha}",
    },
    "replaced_ensemble": {
        "ko": "학습된 앙상블 {old}을(를) 새 비지도 모델 {new}(으)로 교체했습니다",
        "en": "replaced the trained ensemble {old} with the new unsupervised model {new}",
    },
    "replaced_model": {
        "ko": "비지도 모델 {old}을(를) 새 모델 {new}(으)로 교체했습니다",
        "en": "replaced the unsupervised model {old} with the new model {new}",
    },
    "shadow_scored": {
        "ko": "그림자 채점: 도전자 모델 버전 {version}({sha})이(가) 실행 {run}의 사용자-일 "
        "{rows}개를 따로 점수화해 저장했습니다 (검토 용량 안: 도전자 {challenger}명, "
        "champion {champion}명, 둘 다 {both}명; `auditlens model compare`)",
        "en": "shadow: challenger version {version} ({sha}) scored the {rows} user-days of run "
        "{run}, stored apart (within the review capacity: challenger {challenger}, champion "
        "{champion}, both {both}; `auditlens model compare`)",
    },
    "shadow_no_challenger": {
        "ko": "그림자 채점: 레지스트리에 도전자(challenger) 모델이 없어 champion으로만 "
        "점수화했습니다 (`auditlens train --labels 파일`로 새 버전을 등록하십시오)",
        "en": "shadow: the registry has no challenger, so only the champion scored "
        "(`auditlens train --labels FILE` registers a new version)",
    },
    "shadow_same_model": {
        "ko": "그림자 채점: 도전자 버전 {version}이(가) 현재 점수화에 쓰는 모델과 같아 따로 "
        "점수화하지 않았습니다",
        "en": "shadow: challenger version {version} is the model this run scored with; "
        "nothing to compare",
    },
    "shadow_failed": {
        "ko": "그림자 채점: 도전자 버전 {version}이(가) 점수를 매기지 못했습니다 ({why}). "
        "champion의 결과는 그대로 저장되었습니다",
        "en": "shadow: challenger version {version} could not score ({why}); the "
        "champion's results are stored as usual",
    },
    "shadow_nothing_stored": {
        "ko": "그림자 채점: 이번 실행에 저장된 사용자-일이 없어 도전자 모델로 점수화할 것이 "
        "없습니다",
        "en": "shadow: this run stored no user-days, so the challenger had nothing to score",
    },
    "pending_raised": {
        "ko": "이전 실행 {runs}의 알림 발행이 끝나지 않아 이어서 발행했습니다",
        "en": "finished raising the alerts of earlier run(s) {runs} that had not completed",
    },
    "tied_days": {
        "ko": "외 {n}일 동일",
        "en": "+{n} tied days",
    },
}
