"""Benchmark: the action-sequence model on ~10M events — sessions/s when training and
scoring, and its share of the feature matrix and of the end-to-end scoring job.

Run: ``.venv/bin/python bench/bench_sequences.py [--users N] [--days D]``.
Stages timed on generated events (default 5,250 users x 61 days, ~10M events):
prepare -> tokenise (sessions) -> fit (Word2Vec on a sample + user/group/global step
counts) -> score every session; then the whole feature matrix with and without the
sequence features, and model fit + score, to show the sequence share.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from auditlens.detect.ensemble import default_unsupervised
from auditlens.features.access import AccessFeatures
from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, build_matrix
from auditlens.features.peers import peer_groups
from auditlens.features.resources import ResourceFeatures
from auditlens.features.sequences import SequenceModel, tokenise
from auditlens.features.temporal import TemporalFeatures
from auditlens.scoring import RiskModel
from auditlens.sources.synthetic import GeneratorSpec, generate

T = TypeVar("T")


def timed(label: str, fn: Callable[[], T], times: dict[str, float]) -> T:
    started = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - started
    print(f"{label:<44}{times[label]:>8.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5250)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    data = generate(GeneratorSpec(users=args.users, days=args.days, seed=args.seed))
    events = data.events
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    print(f"events {events.height:,}  load average {os.getloadavg()[0]:.2f} on 2 CPUs")
    t: dict[str, float] = {}
    prepared = timed("prepare events", lambda: prepare(events, ctx), t)
    groups = peer_groups(prepared, ctx)
    tokens = timed("tokenise into sessions", lambda: tokenise(prepared), t)
    sessions = int(tokens["_session"].n_unique())
    model = timed("fit sequence model", lambda: SequenceModel().fit(tokens, groups), t)
    timed("score every session", lambda: model.score(tokens, groups), t)
    print(f"sessions {sessions:,}")
    train = t["tokenise into sessions"] + t["fit sequence model"]
    score = t["tokenise into sessions"] + t["score every session"]
    print(f"training sessions/s   {sessions / train:>12,.0f}  (tokenise + fit)")
    print(f"scoring sessions/s    {sessions / score:>12,.0f}  (tokenise + score)")
    without = (TemporalFeatures(), ResourceFeatures(), AccessFeatures())
    timed("matrix without sequence features", lambda: build_matrix(events, ctx, without), t)
    matrix = timed("matrix with sequence features", lambda: build_matrix(events, ctx), t)
    frame = matrix.frame.filter(matrix.info[HISTORY_DAYS] >= 7)
    risk = timed("fit + score risk model", lambda: RiskModel(default_unsupervised()).fit(frame), t)
    timed("score windows", lambda: risk.score(frame), t)
    seq = t["matrix with sequence features"] - t["matrix without sequence features"]
    total = t["matrix with sequence features"] + t["fit + score risk model"] + t["score windows"]
    print(f"sequence features cost {seq:.2f} s = {seq / t['matrix with sequence features']:.0%}"
          f" of the matrix, {seq / total:.0%} of features + model")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB; load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
