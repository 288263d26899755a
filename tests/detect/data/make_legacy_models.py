"""Write legacy_models.joblib with the detectors as they were before issue 11.

Run against the old code only (it checks), e.g.:
    git archive ed6eafb src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/detect/data/make_legacy_models.py OUT.joblib
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import joblib
import numpy as np
import polars as pl

from auditlens.detect import ensemble
from auditlens.detect.ensemble import MeanSurpriseEnsemble, StackedEnsemble
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.supervised import SupervisedDetector
from auditlens.detect.tail import TailDetector


def main(out: Path) -> None:
    """Fit both ensembles on a small seeded matrix and save them with their outputs."""
    if not hasattr(ensemble.MeanSurpriseEnsemble, "tail"):
        raise SystemExit("run with the code before issue 11 (see the docstring)")
    rng = np.random.default_rng(0)
    n = 120
    X = pl.DataFrame(
        {
            "user_id": [f"u{i % 20:02d}" for i in range(n)],
            "window": [dt.date(2026, 9, 1) + dt.timedelta(days=i // 20) for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "c": rng.poisson(3, size=n).astype(float),
        }
    )
    y = ((X["a"] + X["b"]) > 2.0).cast(pl.Int8)
    iso = IsolationDetector(n_estimators=20, max_samples=64, random_state=1)
    mean = MeanSurpriseEnsemble([iso, TailDetector()]).fit(X)
    kinds = ("random_forest", "xgboost", "lightgbm")
    members = [SupervisedDetector(k, {"n_estimators": 10}, 1) for k in kinds]  # type: ignore[arg-type]
    stacked = StackedEnsemble(members, seed=1).fit(X, y)
    contrib, base = stacked.contributions(X)
    saved = {
        "X": X,
        "mean": mean,
        "stacked": stacked,
        "mean_scores": mean.score(X),
        "mean_contrib": mean.tail().contributions(X),  # type: ignore[union-attr]
        "stacked_scores": stacked.score(X),
        "stacked_contrib": contrib,
        "stacked_base": base,
    }
    joblib.dump(saved, out, compress=9)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
