"""The evaluation report's wording, in Korean and English.

Kept apart from the report's rendering so the command line can word a figure without
importing what computes it.

Example::

    >>> say("en", "small_sample", n=3, need=10)[:45]
    'only 3 people with a confirmed finding (at le'
    >>> span((0.8512, 0.9534)), span((0.41, 0.625), percent=True)
    ('0.85-0.95', '41-62%')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the command line imports this module; numpy stays unloaded
    from auditlens.detect.bootstrap import Intervals

TEXTS: Final[dict[str, dict[str, str]]] = {
    "title": {"ko": "탐지 모델 평가 보고서", "en": "Detection model evaluation"},
    "warning": {"ko": "경고", "en": "Warning"},
    "small_sample": {
        "ko": "감사에서 확인된 내부자가 {n}명뿐입니다 (최소 {need}명 필요). 한 사람의 결과에 "
        "수치가 크게 흔들리므로 아래 수치로 모델의 성능을 판단할 수 없고, 구간이 넓은 것도 "
        "그 때문입니다. `auditlens train`은 이 상태에서 지도 학습 앙상블을 등록하지 않습니다.",
        "en": "only {n} people with a confirmed finding (at least {need} needed). One person "
        "moves every figure a long way, so the figures below cannot show how well the model "
        "works, which is also why the intervals are wide. `auditlens train` registers no "
        "supervised ensemble in this state.",
    },
    "fallback": {
        "ko": "확인된 이상 일자가 {n}개뿐이라 (최소 {need}개 필요) 비지도 모델만 평가했습니다",
        "en": "only {n} labelled positive windows (need {need}): evaluated the unsupervised "
        "models alone",
    },
    "fallback_label": {"ko": "대체 평가", "en": "Fallback"},
    "summary": {"ko": "요약", "en": "Summary"},
    "measured": {
        "ko": "측정한 것: 모델이 학습에 쓰지 않은 이후 기간에서, 감사로 이상이 확인된 사람을 "
        "다른 사람보다 위험하게 평가하는지입니다.",
        "en": "What was measured: whether the model ranks the people with a confirmed audit "
        "finding above everyone else, on later days it had not learned from.",
    },
    "covered": {
        "ko": "대상: 사용자 {users}명, {days}일 ({first} ~ {last}). 시험 기간은 {test_from} ~ "
        "{test_until}. 확인된 내부자 {labelled}명, 이상으로 확인된 사용자-일 {windows}개.",
        "en": "Covered: {users} users over {days} days ({first} to {last}); tested on "
        "{test_from} to {test_until}. {labelled} people with a confirmed finding, "
        "{windows} confirmed user-days.",
    },
    "headline": {
        "ko": "사람 단위 ({model}, 시험 기간의 확인된 내부자 {tested}명): ROC-AUC {roc}. 내부자 "
        "한 명과 다른 사람 한 명을 무작위로 골랐을 때 내부자의 점수가 더 높을 확률입니다.",
        "en": "Per person ({model}, {tested} people with a confirmed finding in the test "
        "period): ROC-AUC {roc}, the chance that an insider scores above another person, "
        "both picked at random.",
    },
    "headline_top": {
        "ko": "점수 상위 k명 중 실제 내부자 비율 (k = 내부자 수): {prec}.",
        "en": "Share of real insiders among the k highest scores (k = the number of "
        "insiders): {prec}.",
    },
    "headline_windows": {
        "ko": "사용자-일 단위: 다른 사람의 5%만 오탐할 때 탐지율 {det5}, 10%일 때 {det10}.",
        "en": "Per user-day: detection rate {det5} when 5% of the others are falsely "
        "flagged, {det10} at 10%.",
    },
    "ece": {
        "ko": "앙상블 확률의 보정 오차 (ECE): {ece}.",
        "en": "Calibration error of the ensemble's probabilities (ECE): {ece}.",
    },
    "caveats": {"ko": "유의할 점", "en": "Caveats"},
    "caveat_intervals": {
        "ko": "괄호 안은 95% 신뢰구간입니다. 사람을 복원 추출해 다시 계산한 범위이며, 확인된 "
        "내부자가 적을수록 넓어집니다.",
        "en": "Figures in brackets are 95% intervals from resampling people; the fewer "
        "people with a confirmed finding, the wider they are.",
    },
    "caveat_labels": {
        "ko": "정답은 감사에서 확인된 건뿐입니다. 발견되지 않은 내부자는 정상으로 셈하므로 "
        "실제 탐지율과 다를 수 있습니다.",
        "en": "The truth is what audits confirmed: an insider never found counts as clean, so "
        "real detection may differ.",
    },
    "caveat_time": {
        "ko": "과거 기간의 결과입니다. 업무 방식이나 수법이 바뀌면 성능도 달라집니다.",
        "en": "These are results on a past period; when work habits or schemes change, so "
        "does performance.",
    },
    "results": {"ko": "결과", "en": "Results"},
    "interval_note": {
        "ko": "괄호 안: 95% 신뢰구간 (사람 단위 부트스트랩).",
        "en": "In brackets: the 95% interval (bootstrap over people).",
    },
    "pooled": {
        "ko": "시험 구간 합산, 사용자-일 단위 (오탐 수는 재현율 {recall}에서)",
        "en": "Pooled over the test folds, per user-day (false positives at recall {recall})",
    },
    "user_level": {
        "ko": "사람 단위 (각 사람의 시험 기간 최고 점수)",
        "en": "User level (each user's highest test score)",
    },
    "model": {"ko": "모델", "en": "model"},
    "chart_pr": {"ko": "정밀도-재현율 곡선", "en": "Precision-recall"},
    "chart_shap": {
        "ko": "SHAP 요약: 특성별 기여도",
        "en": "SHAP summary: contribution per feature",
    },
    "det5": {"ko": "탐지율 @오탐 5%", "en": "det. @5% FPR"},
    "det10": {"ko": "탐지율 @오탐 10%", "en": "det. @10% FPR"},
    "prec_k": {"ko": "상위 k 정밀도", "en": "precision@k"},
    "fp_at": {"ko": "재현율 {recall}에서 오탐 수", "en": "false positives @ recall {recall}"},
    "fewer": {
        "ko": "같은 재현율({recall})에서 앙상블의 오탐은 {ensemble}건으로, IsolationForest의 "
        "{forest}건보다 {diff}건 ({share}) 적습니다.",
        "en": "At the same recall ({recall}) the ensemble raises {ensemble} false positives "
        "against IsolationForest's {forest}: {diff} fewer ({share}).",
    },
    "more": {
        "ko": "같은 재현율({recall})에서 앙상블의 오탐은 {ensemble}건으로, IsolationForest의 "
        "{forest}건보다 {diff}건 ({share}) 많습니다.",
        "en": "At the same recall ({recall}) the ensemble raises {ensemble} false positives "
        "against IsolationForest's {forest}: {diff} more ({share}).",
    },
    "ece_line": {
        "ko": "앙상블의 보정 오차 (ECE, 10구간): {ece}",
        "en": "Calibration error (ECE, 10 bins) of the ensemble: {ece}",
    },
    "method": {"ko": "방법", "en": "Method"},
    "method_folds": {
        "ko": "시간 순서 교차 검증: 각 구간은 그 이전 날짜로만 학습하고 이어지는 날짜로 "
        "시험합니다. 같은 사용자-일이 학습과 시험에 함께 들어가는 일은 없습니다.",
        "en": "Time-ordered cross-validation: each fold trains on earlier days and tests on "
        "the following block of days; no user-day is ever in both.",
    },
    "method_user_folds": {
        "ko": "사람 단위 교차 검증: 사람을 구간으로 나누어, 각 구간의 사람은 다른 모든 "
        "사람으로 학습한 모델로 전 기간을 시험합니다. 시험하는 내부자는 학습에 한 번도 "
        "나오지 않습니다.",
        "en": "Person-grouped cross-validation: people are split into folds, and each fold's "
        "people are tested over the whole period by a model trained on everybody else; no "
        "tested insider was ever seen in training.",
    },
    "test_people": {"ko": "시험 인원", "en": "people tested"},
    "fold": {"ko": "구간", "en": "fold"},
    "test_from": {"ko": "시험 시작", "en": "test from"},
    "test_until": {"ko": "시험 종료 (미포함)", "en": "test until"},
    "method_labels": {
        "ko": "정답: 확인된 감사 건의 기간과 겹치는 날은 이상(1), 기각된 건의 기간과 다른 "
        "모든 날은 정상(0)입니다. 확인된 내부자의 나머지 날은 정상인지 알 수 없어 학습과 "
        "평가에서 뺍니다.",
        "en": "Labels: a day overlapping a confirmed finding's period is positive; days of "
        "dismissed findings and every other day are negative. A confirmed insider's other "
        "days are neither known clean nor known bad, so they are left out of training and "
        "evaluation.",
    },
    "method_user_level": {
        "ko": "사람 단위 수치는 각 사람의 시험 기간 최고 점수로, 확인된 건이 있는 사람과 없는 "
        "사람을 비교합니다.",
        "en": "User-level figures take each person's highest test score and compare people "
        "with a confirmed finding against everyone else.",
    },
    "method_bootstrap": {
        "ko": "신뢰구간: 시험된 사람을 복원 추출로 {resamples}번 다시 뽑아 (그 사람의 모든 "
        "사용자-일 포함) 수치를 다시 계산하고, 2.5~97.5 백분위를 95% 구간으로 삼았습니다. "
        "내부자나 정상 사용자가 하나도 뽑히지 않은 표본은 뺐습니다. 난수 시드는 고정되어 "
        "같은 데이터에서 같은 구간이 나옵니다 ({seconds}초 소요).",
        "en": "Intervals: the tested people were resampled with replacement {resamples} "
        "times (each with all their user-days) and every figure recomputed; the 2.5th to "
        "97.5th percentiles form the 95% interval. Resamples that drew no insider or no "
        "other user are left out. The seed is fixed: the same data gives the same "
        "intervals ({seconds} s).",
    },
    "method_fp": {
        "ko": "재현율 {recall}: IsolationForest 단독이 이상 건수만큼 표시했을 때 도달하는 "
        "재현율이며, 이 재현율에서 모델마다 오탐 수를 비교합니다.",
        "en": "Recall {recall}: the recall IsolationForest alone reaches when flagging as "
        "many user-days as there are positives; false positives are compared there.",
    },
    "caption": {
        "ko": "det@5%: 오탐률 5%에서 탐지율, prec@k: 상위 k 정밀도, FP@{recall}: 재현율 "
        "{recall}에서 오탐 수. 아래 줄: 95% 신뢰구간 (사람 단위 부트스트랩 {resamples}회)",
        "en": "det@5%: detection at 5% false-positive rate, prec@k: precision at k, "
        "FP@{recall}: false positives at recall {recall}. Second line: 95% interval "
        "(bootstrap over users, {resamples} resamples)",
    },
    "per_fold": {"ko": "구간별 PR-AUC", "en": "Per fold (PR-AUC)"},
    "chosen": {
        "ko": "선택된 하이퍼파라미터 (구간 평균 PR-AUC 최고)",
        "en": "Chosen hyper-parameters (best mean PR-AUC over the folds)",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` (ko, else en) with ``values`` filled in."""
    entry = TEXTS[key]
    return entry.get(lang, entry["en"]).format(**values)


#: Each evaluated model's name in Korean; English keeps the model ids of the JSON.
MODEL_NAMES_KO: Final[dict[str, str]] = {
    "isolation_forest": "IsolationForest 단독",
    "unsupervised": "비지도 모델",
    "ensemble": "스태킹 앙상블",
}


def model_name(lang: str, name: str) -> str:
    """How a model is named in the report: its id in English, a Korean name in Korean."""
    return MODEL_NAMES_KO.get(name, name) if lang == "ko" else name


def span(interval: tuple[float, float] | None, percent: bool = False) -> str:
    """An interval as ``0.85-0.95`` (or ``41-62%``); empty when there is none."""
    if interval is None or any(math.isnan(v) for v in interval):
        return ""
    low, high = interval
    if percent:
        return f"{low * 100:.0f}-{high * 100:.0f}%"
    return f"{low:.2f}-{high:.2f}"


def interval_caption(lang: str, resamples: int, recall: str) -> str:
    """The note under the figures table: its short headers, and that each cell shows the
    95% interval on its second line."""
    return say(lang, "caption", resamples=resamples, recall=recall)


def interval_of(intervals: Intervals | None, figure: str) -> tuple[float, float] | None:
    """The interval of ``figure`` (a field of ``Intervals``), or None without intervals."""
    if intervals is None:
        return None
    low, high = getattr(intervals, figure)
    return (float(low), float(high))
