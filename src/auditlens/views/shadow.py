"""Champion against challenger: the evidence of shadow-scored runs (`auditlens model
compare`), and the one rule both models' "flagged" follows.

A run scored in shadow mode stores the champion's rows in ``scores`` and the
challenger's rows for the same windows in ``shadow_scores``. Per run, each model's
*flagged* users are its :func:`capacity_cut` of those windows: every user's peak
(``scoring.user_peaks`` of the decayed risk), the run's ``review_capacity`` riskiest
(``scoring.flag_top``, ties by user id). The challenger's were decided and stored by the
run (``shadow_scores.flagged``); the champion's are computed here from its stored rows by
the same rule. Triage outcomes are those of the alerts each run's detections opened or
joined (``alert_evidence``), as :mod:`auditlens.views.kpis` counts them (confirmed =
closed with the reason code ``confirmed``; dismissed).

Example::

    with Store.open(settings) as store:
        found = shadow_comparison(store, runs=5)
        found.overall.jaccard, found.overall.confirmed_challenger
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import polars as pl
from pydantic import Field
from sqlalchemy import select

from auditlens.schema import USER_ID
from auditlens.scoring import flag_top, user_peaks
from auditlens.store.db import alert_evidence, alerts
from auditlens.store.repo import Store
from auditlens.views.common import ViewModel, utc
from auditlens.views.kpis import outcomes


def capacity_cut(windows: pl.DataFrame, capacity: int) -> pl.DataFrame:
    """``user_id, risk_score, flagged`` for every user of ``windows`` (``user_id``,
    ``window``, ``decayed_risk``): the user's peak, and True for the ``capacity``
    riskiest peaks (ties by user id) — the flagged users of one run, for either model.

    >>> rows = pl.DataFrame({"user_id": ["a", "a", "b", "c"], "window": [1, 2, 1, 1],
    ...                      "decayed_risk": [10.0, 80.0, 50.0, 20.0]})
    >>> capacity_cut(rows, 2).sort("user_id").rows()
    [('a', 80.0, True), ('b', 50.0, True), ('c', 20.0, False)]
    """
    peaks = user_peaks(windows).select(USER_ID, "risk_score")
    flagged = flag_top(peaks, capacity).flagged.get_column(USER_ID)
    return peaks.with_columns(pl.col(USER_ID).is_in(flagged.implode()).alias("flagged"))


class Agreement(ViewModel):
    """How the champion's and the challenger's flagged users agree, and how each would
    have fared against triage."""

    users: int = Field(description="users both models scored")
    champion_only: int = Field(description="users only the champion flagged")
    challenger_only: int = Field(description="users only the challenger flagged")
    both: int = Field(description="users both flagged")
    jaccard: float | None = Field(description="both / flagged by either; null: none flagged")
    rank_correlation: float | None = Field(
        description="Spearman correlation of the users' peak risk under the two models; "
        "null with fewer than 3 users or a constant risk"
    )
    confirmed: int = Field(description="confirmed alerts of these users")
    confirmed_champion: int = Field(description="confirmed alerts the champion flagged")
    confirmed_challenger: int = Field(description="confirmed alerts the challenger flagged")
    dismissed: int = Field(description="dismissed alerts of these users")
    dismissed_avoided_champion: int = Field(
        description="dismissed alerts whose user the champion did not flag"
    )
    dismissed_avoided_challenger: int = Field(
        description="dismissed alerts whose user the challenger did not flag"
    )


class RunComparison(Agreement):
    """One shadow-scored run."""

    run_id: int
    started_at: dt.datetime
    capacity: int = Field(description="the run's review capacity (flagged users per model)")
    champion_version: int | None = Field(description="registry version; null: not registered")
    champion_sha256: str
    challenger_version: int | None
    challenger_sha256: str


class ShadowComparison(ViewModel):
    """The newest shadow-scored runs (newest first) and all of them together: users and
    correlation pooled over (run, user), each alert counted once (flagged by a model
    when it flagged the alert's user in any run the alert belongs to)."""

    runs: tuple[RunComparison, ...]
    overall: Agreement | None = Field(description="null: no run was shadow-scored")
    challengers: tuple[str, ...] = Field(description="the challenger sha256s compared")


def shadow_comparison(store: Store, *, runs: int = 10) -> ShadowComparison:
    """The evidence of the newest ``runs`` shadow-scored runs for promoting the challenger."""
    compared: list[RunComparison] = []
    pairs: list[pl.DataFrame] = []
    flagged_by: dict[int, tuple[bool, bool]] = {}  # alert id -> champion, challenger
    status: dict[int, str] = {}
    for run_id in store.shadow.runs(limit=runs):
        run = store.scores.run(run_id)
        if run is None:  # pragma: no cover - shadow rows reference their run
            continue
        pair = _pair(store, run_id, run.capacity)
        found = _run_alerts(store, run_id)
        status |= found
        for alert_id, user in _alert_users(store, set(found)).items():
            champ, chall = _flags_of(pair, user)
            was = flagged_by.get(alert_id, (False, False))
            flagged_by[alert_id] = (was[0] or champ, was[1] or chall)
        shadow = store.shadow.of_run(run_id)
        compared.append(
            RunComparison(
                run_id=run_id,
                started_at=run.started_at,
                capacity=run.capacity,
                champion_version=run.model_version,
                champion_sha256=run.model_sha256,
                challenger_version=_first_int(shadow, "model_version"),
                challenger_sha256=str(shadow.get_column("model_sha256")[0]),
                **_agreement(pair, _alert_flags(store, pair, found)).model_dump(),
            )
        )
        pairs.append(pair)
    overall = None
    if pairs:
        every = pl.concat(pairs)
        flags = [(status[a], champ, chall) for a, (champ, chall) in flagged_by.items()]
        overall = _agreement(every, flags)
    return ShadowComparison(
        runs=tuple(compared),
        overall=overall,
        challengers=tuple(dict.fromkeys(r.challenger_sha256 for r in compared)),
    )


def _pair(store: Store, run_id: int, capacity: int) -> pl.DataFrame:
    """``user_id, champion_risk, champion, challenger_risk, challenger`` of the users
    both models scored in run ``run_id`` (risk = peak; the flags booleans)."""
    mine = capacity_cut(store.scores.of_run(run_id), capacity)
    shadow = store.shadow.of_run(run_id)
    theirs = (
        shadow.group_by(USER_ID)
        .agg(pl.col("risk").max().alias("challenger_risk"), (pl.col("flagged").max() > 0))
        .rename({"flagged": "challenger"})
    )
    return (
        mine.rename({"risk_score": "champion_risk", "flagged": "champion"})
        .join(theirs, on=USER_ID, how="inner")
        .sort(USER_ID)
    )


def _flags_of(pair: pl.DataFrame, user: str) -> tuple[bool, bool]:
    row = pair.filter(pl.col(USER_ID) == user)
    if row.height == 0:
        return False, False
    return bool(row["champion"][0]), bool(row["challenger"][0])


def _run_alerts(store: Store, run_id: int) -> dict[int, str]:
    """The alerts run ``run_id``'s detections opened or joined, with their outcome as
    :func:`auditlens.views.kpis.outcomes` reads it: ``confirmed``, ``dismissed``, or
    another status."""
    joined = select(alert_evidence.c.alert_id).where(alert_evidence.c.run_id == run_id)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.id, alerts.c.status, alerts.c.created_at).where(alerts.c.id.in_(joined))
        ).all()
    if not rows:
        return {}
    found = outcomes(store, rows, min(utc(r.created_at) for r in rows))
    return {i: "confirmed" if o.confirmed else o.status for i, o in found.items()}


def _alert_users(store: Store, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.id, alerts.c.user_id).where(alerts.c.id.in_(ids)))
        return {int(i): str(u) for i, u in rows}


def _alert_flags(
    store: Store, pair: pl.DataFrame, found: dict[int, str]
) -> list[tuple[str, bool, bool]]:
    """``(outcome, champion flagged, challenger flagged)`` per alert of ``found``."""
    users = _alert_users(store, set(found))
    return [(found[a], *_flags_of(pair, users[a])) for a in sorted(found)]


def _agreement(pair: pl.DataFrame, flags: list[tuple[str, bool, bool]]) -> Agreement:
    """The :class:`Agreement` of ``pair`` (see _pair) and alert ``flags``."""
    champ = pair.get_column("champion").to_list()
    chall = pair.get_column("challenger").to_list()
    counts: defaultdict[str, int] = defaultdict(int)
    for a, b in zip(champ, chall, strict=True):
        counts["both" if a and b else "champion_only" if a else "challenger_only" if b else ""] += 1
    either = counts["both"] + counts["champion_only"] + counts["challenger_only"]
    confirmed = [(a, b) for outcome, a, b in flags if outcome == "confirmed"]
    dismissed = [(a, b) for outcome, a, b in flags if outcome == "dismissed"]
    return Agreement(
        users=pair.height,
        champion_only=counts["champion_only"],
        challenger_only=counts["challenger_only"],
        both=counts["both"],
        jaccard=counts["both"] / either if either else None,
        rank_correlation=spearman(
            pair.get_column("champion_risk").to_numpy(),
            pair.get_column("challenger_risk").to_numpy(),
        ),
        confirmed=len(confirmed),
        confirmed_champion=sum(a for a, _ in confirmed),
        confirmed_challenger=sum(b for _, b in confirmed),
        dismissed=len(dismissed),
        dismissed_avoided_champion=sum(not a for a, _ in dismissed),
        dismissed_avoided_challenger=sum(not b for _, b in dismissed),
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation (ties get their average rank); None with fewer than 3
    values or when either side is constant.

    >>> spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 30, 20, 40]))
    0.8
    """
    if a.size < 3 or a.size != b.size:
        return None
    ra = pl.Series(a).rank("average").to_numpy()
    rb = pl.Series(b).rank("average").to_numpy()
    if np.std(ra) == 0 or np.std(rb) == 0:
        return None
    return round(float(np.corrcoef(ra, rb)[0, 1]), 12)


def _first_int(frame: pl.DataFrame, column: str) -> int | None:
    value = frame.get_column(column)[0]
    return None if value is None else int(value)
