"""Benchmark: user-level detection quality on the default and the realistic profile.

For each profile, generates an organisation, then runs `auditlens score` (the unsupervised
model fitted on the whole file, as the held-out CERT check runs) and `auditlens evaluate`
twice (the same functions the CLI calls): with time folds (fitted on earlier days,
measured on later days) and with user folds (every tested person unseen in training).
Prints user-level ROC-AUC, PR-AUC and detection at 5% FPR with 95% bootstrap intervals
(over users) for the unsupervised model and the supervised ensemble; for the realistic
profile also which insiders are caught at 5% FPR (`score`) by scenario and which
look-alikes (cast.csv) fill the flagged 5%. Never uses the CERT answer key.

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_quality.py [--users N] [--days D]
[--insider-rate R] [--seed S] [--out DIR]``. The same figures by hand::

    auditlens generate --profile realistic --users 300 --days 60 --insider-rate 0.04 \\
        --out var/realistic
    auditlens evaluate --input var/realistic/events.parquet \\
        --labels var/realistic/labels.csv --folds time
    auditlens evaluate --input var/realistic/events.parquet \\
        --labels var/realistic/labels.csv --folds users
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from auditlens import pipeline
from auditlens.config import Settings
from auditlens.pipeline.inputs import InputOptions

FIGURES = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("detection_at_5pct_fpr", "det@5%FPR"))
MODELS = ("unsupervised", "ensemble")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--insider-rate", type=float, default=0.04)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profiles", default="default,realistic")
    parser.add_argument("--out", type=Path, default=None, help="keep samples and reports here")
    args = parser.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="bench_quality-"))
    settings = Settings(data_dir=root / "data", language="en")
    rows: list[tuple[str, str, str, dict[str, object], dict[str, object]]] = []
    notes: list[str] = []
    for profile in args.profiles.split(","):
        sample = root / profile
        began = time.perf_counter()
        pipeline.generate_sample(
            settings,
            sample,
            users=args.users,
            days=args.days,
            seed=args.seed,
            start=dt.date(2026, 9, 1),
            insider_rate=args.insider_rate,
            profile=profile,
        )
        given = InputOptions(path=sample / "events.parquet")
        scored = pipeline.score_file(
            settings, given, output=root / f"scores-{profile}.csv", labels=sample / "labels.csv"
        )
        if scored.metrics is not None:
            m = scored.metrics
            point = {"rows": m.users, "positives": m.insiders} | {
                key: getattr(m, key) for key, _ in FIGURES
            }
            cis = {} if m.intervals is None else m.intervals.as_dict()
            rows.append((profile, "score", "unsupervised", point, cis))
        if (sample / "cast.csv").exists():
            notes.append(_who_is_flagged(profile, root / f"scores-{profile}.csv", sample))
        for kind in ("time", "users"):
            out = root / f"report-{profile}-{kind}"
            pipeline.evaluate(
                settings,
                sample / "labels.csv",
                inputs=given,
                out_dir=out,
                n_folds=3 if kind == "time" else 5,
                fold_kind=kind,  # type: ignore[arg-type]
            )
            report = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
            for model in MODELS:
                if model in report["user_level"]:
                    cis = report["intervals_95"]["user_level"].get(model, {})
                    rows.append((profile, kind, model, report["user_level"][model], cis))
        print(f"# {profile}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    print(
        f"users={args.users} days={args.days} insider_rate={args.insider_rate} "
        f"seed={args.seed}  (user level; 95% bootstrap intervals over users)"
    )
    head = f"{'profile':<10} {'folds':<6} {'model':<13} {'users':>5} {'ins':>4} "
    print(head + " ".join(f"{label:>22}" for _, label in FIGURES))
    for profile, kind, model, m, ci in rows:
        cells = []
        for key, _ in FIGURES:
            low, high = ci.get(key, [float("nan")] * 2)  # type: ignore[attr-defined]
            cells.append(f"{m[key]:.3f} [{low:.3f}-{high:.3f}]")
        line = f"{profile:<10} {kind:<6} {model:<13} {m['rows']:>5} {m['positives']:>4} "
        print(line + " ".join(f"{c:>22}" for c in cells))
    print("(score: fitted on all days; time: fitted on earlier days, measured on later ones;")
    print(" users: every tested person unseen in training)")
    for note in notes:
        print(note)
    print(f"reports under {root}")
    return 0


def _who_is_flagged(profile: str, scores: Path, sample: Path) -> str:
    """Insiders caught at 5% FPR of `score` by scenario, and the look-alike kinds among
    the others flagged at that threshold (a person may play several parts)."""
    risk = pl.read_csv(scores).select("user_id", "risk_score")
    labels = pl.read_csv(sample / "labels.csv").select("user_id", "scenario")
    cast = pl.read_csv(sample / "cast.csv").select("user_id", "kind").unique()
    others = risk.join(labels, on="user_id", how="anti")
    threshold = others["risk_score"].quantile(0.95, "higher")
    caught = labels.join(risk, on="user_id").with_columns(caught=pl.col("risk_score") > threshold)
    by_scenario = caught.group_by("scenario").agg(pl.col("caught").sum(), pl.len()).sort("scenario")
    flagged = others.filter(pl.col("risk_score") > threshold)
    kinds = (
        flagged.join(cast, on="user_id", how="left")
        .with_columns(pl.col("kind").fill_null("ordinary"))
        .group_by("kind")
        .agg(pl.col("user_id").n_unique().alias("n"))
        .sort("n", descending=True)
    )
    lines = [
        f"{profile}: score, caught at 5% FPR by scenario: "
        + ", ".join(
            f"{r['scenario']} {r['caught']}/{r['len']}" for r in by_scenario.iter_rows(named=True)
        )
    ]
    lines.append(
        f"{profile}: score, the {flagged.height} other people flagged at 5% FPR: "
        + ", ".join(f"{r['kind']} {r['n']}" for r in kinds.iter_rows(named=True))
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
