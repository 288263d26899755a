"""`auditlens explain`: replay one stored score from the store alone, through the
fitted pipeline the store recorded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from auditlens.config import Settings
from auditlens.detect.explain import Reason, reasons_json, same_reasons
from auditlens.errors import AuditlensError
from auditlens.features.base import WINDOW
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.detection import feature_context, feature_hashes, score_matrix
from auditlens.schema import EVENT_COLUMNS, USER_ID
from auditlens.scoring import user_peaks
from auditlens.store.repo import Store


@dataclass(frozen=True)
class Explanation:
    """A stored score and the same score recomputed from the store."""

    user_id: str
    window: dt.date
    stored: dict[str, Any]
    replayed: dict[str, Any]
    reasons: list[Reason]
    checks: dict[str, bool]

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
            hint = (
                f"scored days of {user_id}: "
                + ", ".join(str(d) for d in known.get_column(WINDOW).unique().sort().tail(10))
                if known.height
                else "no score of this user is stored; run `auditlens run` first"
            )
            raise AuditlensError(f"no stored score for {user_id} on {day or 'any day'}", hint=hint)
        stored = history.row(0, named=True)
        record = store.models.by_sha(stored["model_sha256"])
        if record is None:
            raise AuditlensError(f"model {stored['model_sha256'][:12]} is not in the store")
        model = FittedPipeline.load(Path(record.path), record.sha256)
        events = store.events.upto(int(stored["data_batch_id"])).select(EVENT_COLUMNS).collect()
    # the stored pipeline's own fitted feature sets rebuild the features it scored
    matrix = model.matrix(events, feature_context(settings))
    scoring = score_matrix(matrix, model, settings)
    key = pl.DataFrame({USER_ID: [user_id], WINDOW: [day]})
    idx = scoring.rows_of(key)
    window = scoring.windows[idx].row(0, named=True)
    reasons = scoring.reasons(model, key)[0]
    replayed = {
        "raw_score": window["raw_score"],
        "risk": window["risk"],
        "decayed_risk": window["decayed_risk"],
        "severity": window["severity"],
        "feature_hash": feature_hashes(scoring.frame[idx])[0],
        "reasons": reasons_json(reasons),
        "config_hash": settings.fingerprint(),
    }
    checks = {
        "config": replayed["config_hash"] == stored["config_hash"],
        "features": replayed["feature_hash"] == stored["feature_hash"],
        "score": abs(replayed["raw_score"] - stored["raw_score"]) <= 1e-9,
        "risk": abs(replayed["decayed_risk"] - stored["decayed_risk"]) <= 1e-6,
        "severity": replayed["severity"] == stored["severity"],
    }
    if stored["reasons"] != "[]":
        checks["reasons"] = same_reasons(stored["reasons"], reasons)
    return Explanation(user_id, stored["window"], stored, replayed, reasons, checks)
