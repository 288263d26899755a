"""`auditlens explain`: replay one stored score from the store alone, through the
fitted pipeline the store recorded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from auditlens.config import Settings
from auditlens.detect.base import ContributionUnit, Explainable
from auditlens.detect.explain import Reason, reasons_json, same_reasons
from auditlens.errors import AuditlensError
from auditlens.features.base import WINDOW
from auditlens.features.docs import FEATURE_DOCS, PEER_PREFIX
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.detection import (
    feature_context,
    feature_hashes,
    score_matrix,
    signed_zero_hashes,
)
from auditlens.schema import EVENT_COLUMNS, USER_ID
from auditlens.scoring import user_peaks
from auditlens.store.repo import Store

#: How many of the largest contributions (by size, either sign) `explain` shows.
SHOWN_CONTRIBUTIONS = 8


@dataclass(frozen=True)
class Contribution:
    """How much one feature moved the replayed score, and its value that day."""

    feature: str
    value: float
    contribution: float

    @property
    def known(self) -> bool:
        """True when features.docs names the feature (its value can be shown with a unit)."""
        return self.feature.removeprefix(PEER_PREFIX) in FEATURE_DOCS


@dataclass(frozen=True)
class Explanation:
    """A stored score and the same score recomputed from the store, with the features'
    contributions to it (largest first; ``contribution_unit``: SHAP log-odds or tail
    surprise)."""

    user_id: str
    window: dt.date
    stored: dict[str, Any]
    replayed: dict[str, Any]
    reasons: list[Reason]
    checks: dict[str, bool]
    contributions: list[Contribution] = field(default_factory=list)
    contribution_unit: ContributionUnit = "surprise"

    @property
    def reproduced(self) -> bool:
        """True when every check matched."""
        return all(self.checks.values())


def explain_user(settings: Settings, user_id: str, day: dt.date | None = None) -> Explanation:
    """Replay the newest stored score of ``user_id`` on ``day`` from the store alone
    (``day`` None: the user's peak day in the newest run that scored them —
    scoring.user_peaks, the first day of the peak incident; a run stores every peak day
    of the users it scores).

    Loads the recorded model (refusing a file whose sha256 differs), rebuilds features
    from the events up to the recorded watermark, and recomputes the score, risk and
    reasons; ``checks`` says which of them match the stored row.
    """
    with Store.open(settings) as store:
        if day is None:
            known = store.scores.history(user_id)
            if known.height:
                known = known.filter(pl.col("run_id") == known["run_id"].max())
                day = user_peaks(known).row(0, named=True)["peak_window"]
        history = store.scores.history(user_id, day) if day is not None else pl.DataFrame()
        if history.height == 0:
            known = store.scores.history(user_id)
            days = ", ".join(str(d) for d in known.get_column(WINDOW).unique().sort().tail(10))
            hint, ko_hint = (
                (f"scored days of {user_id}: {days}", f"{user_id}의 점수가 있는 날: {days}")
                if known.height
                else (
                    "no score of this user is stored; run `auditlens run` first",
                    "이 사용자의 저장된 점수가 없습니다. 먼저 `auditlens run`을 실행하십시오",
                )
            )
            raise AuditlensError(
                f"no stored score for {user_id} on {day or 'any day'}",
                hint=hint,
                ko=f"{user_id}의 {day or '어느 날'} 저장된 점수가 없습니다",
                ko_hint=ko_hint,
            )
        stored = history.row(0, named=True)
        record = store.models.by_sha(stored["model_sha256"])
        if record is None:
            sha = stored["model_sha256"][:12]
            raise AuditlensError(
                f"model {sha} is not in the store", ko=f"모델 {sha}이(가) 저장소에 없습니다"
            )
        model = FittedPipeline.load(Path(record.path), record.sha256)
        events = store.events.upto(int(stored["data_batch_id"])).select(EVENT_COLUMNS).collect()
    # the stored pipeline's own fitted feature sets rebuild the features it scored
    matrix = model.matrix(events, feature_context(settings))
    scoring = score_matrix(matrix, model, settings)
    key = pl.DataFrame({USER_ID: [user_id], WINDOW: [day]})
    idx = scoring.rows_of(key)
    window = scoring.windows[idx].row(0, named=True)
    row = scoring.features(key)
    reasons = scoring.reasons(model, key)[0]
    replayed = {
        "raw_score": window["raw_score"],
        "risk": window["risk"],
        "decayed_risk": window["decayed_risk"],
        "severity": window["severity"],
        "feature_hash": feature_hashes(row)[0],
        "reasons": reasons_json(reasons),
        "config_hash": settings.fingerprint(),
    }
    checks = {
        "config": replayed["config_hash"] == stored["config_hash"],
        # (a row stored before negative zeros were written as 0.0: any sign of its zeros)
        "features": replayed["feature_hash"] == stored["feature_hash"]
        or stored["feature_hash"] in signed_zero_hashes(row),
        "score": abs(replayed["raw_score"] - stored["raw_score"]) <= 1e-9,
        "risk": abs(replayed["decayed_risk"] - stored["decayed_risk"]) <= 1e-6,
        "severity": replayed["severity"] == stored["severity"],
    }
    if stored["reasons"] != "[]":
        checks["reasons"] = same_reasons(stored["reasons"], reasons)
    unit, contributions = _contributions(model, row)
    return Explanation(
        user_id, stored["window"], stored, replayed, reasons, checks, contributions, unit
    )


def _contributions(
    model: FittedPipeline, row: pl.DataFrame, top: int = SHOWN_CONTRIBUTIONS
) -> tuple[ContributionUnit, list[Contribution]]:
    """The ``top`` largest contributions (by size) of the features of the one-row ``row``
    to the model's score, with each feature's value; none when the model cannot say."""
    detector = model.detector
    if not isinstance(detector, Explainable):
        return "surprise", []
    matrix, columns = detector.feature_contributions(row)
    values = row.row(0, named=True)
    found = [
        Contribution(name, float(values.get(name) or 0.0), round(float(matrix[0, j]), 3))
        for j, name in enumerate(columns)
        if float(matrix[0, j]) != 0.0
    ]
    found.sort(key=lambda c: -abs(c.contribution))
    return detector.contribution_unit, found[:top]
