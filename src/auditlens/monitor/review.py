"""Miss-rate sampling: a run draws unflagged users at random for review, and reviewers
say of each whether it was missed.

The capacity cut (``scoring.flag_top``) decides whom reviewers see; nobody looks at the
rest. With ``[monitoring] review_sample = N`` each run that stores rows draws N of its
users who were *not* flagged — outside the cut and without an alert still open —
uniformly at random (:func:`draw`), stores them as pending review samples and writes one
``review_draw`` audit entry (how many, from how many, and the seed) in one transaction
(:func:`record_draw`). The seed is fresh per draw (``secrets``), so no one can predict who
will be looked at, and recorded, so an auditor replays the draw: the population is the
sorted user ids (its sha256 is in the entry) and ``random.Random(seed).sample`` picks.

A reviewer's verdict (:func:`decide_sample`: ``missed`` — it should have been flagged —
or ``clean``) needs the analyst role, a reason code (alerts/reasons.py) and is a
``review_verdict`` entry with the principal; a sample is decided once (a second verdict,
or a concurrent one, is a :class:`ReviewConflict`). ``views.quality`` turns the verdicts
into a miss rate and an estimated recall.

Example::

    >>> drawn = draw(["U3", "U1", "U2"], 2, seed=7)
    >>> drawn == draw(["U2", "U3", "U1"], 2, seed=7)  # the order given does not matter
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import polars as pl
from sqlalchemy import select

from auditlens.alerts import reasons
from auditlens.errors import AuditlensError
from auditlens.identity import Acting
from auditlens.store.audit import SYSTEM_ACTOR, AuditEntry, NewEntry
from auditlens.store.db import alerts, scores
from auditlens.store.repo import Store
from auditlens.store.repository import hold_write_lock
from auditlens.store.reviews import VERDICTS, NewSample, ReviewRepository, ReviewSample
from auditlens.store.reviews import Verdict as VerdictWord

#: Alert statuses that no longer hold a user "flagged".
ENDED: Final = ("closed", "dismissed")
#: How the draw picks, as the trail records it (an auditor's recipe).
METHOD: Final = "random.Random(seed).sample(sorted(population), min(n, len(population)))"


class ReviewError(AuditlensError):
    """A verdict that cannot be recorded as asked (unknown verdict or reason)."""


class ReviewConflict(ReviewError):
    """The sample was decided already (the API answers 409)."""


@dataclass(frozen=True)
class Draw:
    """What one run's draw stored."""

    run_id: int
    requested: int
    population: int
    seed: int
    sample_ids: tuple[int, ...]
    users: tuple[str, ...]
    entry: AuditEntry


@dataclass(frozen=True)
class Verdict:
    """One recorded verdict."""

    sample: ReviewSample
    entry: AuditEntry


def draw(population: Iterable[str], n: int, seed: int) -> list[str]:
    """``n`` users of ``population`` (all when fewer) chosen uniformly at random by
    ``seed``; the same population and seed give the same users, in the same order."""
    ordered = sorted(set(population))
    return random.Random(seed).sample(ordered, min(max(n, 0), len(ordered)))  # noqa: S311 - a sample, not a secret


def population_digest(population: Iterable[str]) -> str:
    """sha256 of the sorted population (one id per line): what the auditor rebuilds."""
    return hashlib.sha256("\n".join(sorted(set(population))).encode("utf-8")).hexdigest()


def unflagged(store: Store, users: Iterable[str], flagged: Iterable[str]) -> list[str]:
    """``users`` neither ``flagged`` nor holding an alert that is not closed or dismissed."""
    with store.engine.connect() as conn:
        alerted = set(
            conn.execute(
                select(alerts.c.user_id).where(alerts.c.status.not_in(ENDED)).distinct()
            ).scalars()
        )
    return sorted(set(users) - set(flagged) - alerted)


def record_draw(
    store: Store,
    run_id: int,
    peaks: pl.DataFrame,
    stored: pl.DataFrame,
    flagged: pl.DataFrame,
    n: int,
    *,
    now: dt.datetime,
    seed: int | None = None,
) -> Draw | None:
    """Draw ``n`` of the run's unflagged users and store them with one audit entry.

    Args:
        peaks: every user's peak (``user_id``, ``peak_window``: scoring.user_peaks).
        stored: the run's stored rows; their users are the run's users.
        flagged: the users within the capacity cut (``CapacityCut.flagged``).
        n: users to draw (0: off — nothing is drawn or written, None returned).
        seed: the draw's seed; default a fresh random one (tests pass theirs).
    """
    if n <= 0:
        return None
    peaks = peaks.join(stored.select("user_id").unique(), on="user_id", how="semi")
    population = unflagged(store, peaks["user_id"].to_list(), flagged["user_id"].to_list())
    seed = secrets.randbits(63) if seed is None else seed
    chosen = draw(population, n, seed)
    rows = _peak_rows(store, run_id, peaks.filter(pl.col("user_id").is_in(chosen)))
    samples = [
        NewSample(run_id, *rows[user], population=len(population))
        for user in chosen
        if user in rows
    ]
    entry = NewEntry(
        actor=SYSTEM_ACTOR,
        action="review_draw",
        target=f"run:{run_id}",
        criteria={
            "requested": n,
            "drawn": len(samples),
            "population": len(population),
            "population_sha256": population_digest(population),
            "seed": seed,
            "method": METHOD,
            "excluded": "flagged (capacity cut) or with an alert not closed or dismissed",
        },
    )
    with store.engine.begin() as conn:
        ids = ReviewRepository(conn).add(samples, now)
        entry = NewEntry(**{**entry.__dict__, "criteria": entry.criteria | {"samples": ids}})
        written = store.trail.append(conn, entry, now)
    return Draw(run_id, n, len(population), seed, tuple(ids), tuple(chosen), written)


def _peak_rows(
    store: Store, run_id: int, peaks: pl.DataFrame
) -> dict[str, tuple[int, str, dt.date, float, str]]:
    """The run's stored score row of each user's peak day: id, user, day, risk, severity."""
    if peaks.height == 0:
        return {}
    wanted = {(u, d) for u, d in zip(peaks["user_id"], peaks["peak_window"], strict=True)}
    with store.engine.connect() as conn:
        found = conn.execute(
            select(
                scores.c.id, scores.c.user_id, scores.c.window, scores.c.decayed_risk,
                scores.c.severity,
            ).where(scores.c.run_id == run_id, scores.c.user_id.in_([u for u, _ in wanted]))
        ).all()  # fmt: skip
    return {
        str(r.user_id): (
            int(r.id),
            str(r.user_id),
            r.window,
            float(r.decayed_risk),
            str(r.severity),
        )
        for r in found
        if (r.user_id, r.window) in wanted
    }


def decide_sample(
    store: Store,
    sample_id: int,
    verdict: str,
    *,
    by: Acting,
    reason: str,
    note: str = "",
    now: dt.datetime,
) -> Verdict:
    """Record ``by``'s ``verdict`` (missed or clean) on a pending sample, with its trail
    entry, in one transaction.

    Raises:
        IdentityError: ``by`` lacks the analyst role.
        ReviewError: unknown verdict or reason code, or ``other`` without a note.
        ReviewNotFound: no such sample.
        ReviewConflict: the sample is decided already.
    """
    checked, code = _request(verdict, reason, note)
    by.require("analyst", f"decide review sample #{sample_id}", f"검토 표본 #{sample_id} 판정")
    with store.engine.begin() as conn:
        hold_write_lock(conn)  # SQLite: the sample is read as the update will find it
        repo = ReviewRepository(conn)
        sample = repo.get(sample_id)
        if not repo.decide(
            sample_id, checked, by=by.effective.id, reason_code=code, note=note, now=now
        ):
            raise _decided(repo.get(sample_id))
        criteria: dict[str, object] = {
            "verdict": checked,
            "run_id": sample.run_id,
            "window": sample.window.isoformat(),
            "risk": round(sample.risk, 3),
            "severity": sample.severity,
            "population": sample.population,
        }
        if by.on_behalf_of is not None:
            criteria["on_behalf_of"] = by.on_behalf_of.id
        entry = store.trail.append(
            conn,
            NewEntry(
                actor=by.actor.id,
                action="review_verdict",
                target=f"review:{sample_id}",
                subject=sample.user_id,
                reason_code=code,
                note=note,
                criteria=criteria,
            ),
            now,
        )
        decided = repo.get(sample_id)
    return Verdict(decided, entry)


def _decided(sample: ReviewSample) -> ReviewConflict:
    return ReviewConflict(
        f"review sample #{sample.id} is already decided ({sample.status} by {sample.decided_by})",
        hint="a sample is decided once; see `auditlens review list`",
        ko=f"검토 표본 #{sample.id}은(는) 이미 판정되었습니다 ({sample.status}, "
        f"{sample.decided_by})",
        ko_hint="표본은 한 번만 판정합니다. `auditlens review list`로 확인하십시오",
    )


def _request(verdict: str, reason: str, note: str) -> tuple[VerdictWord, str]:
    """The verdict and reason code, checked before the store is touched."""
    checked = next((v for v in VERDICTS if v == verdict), None)
    if checked is None:
        raise ReviewError(
            f"unknown verdict {verdict!r}",
            hint="use missed or clean",
            ko=f"알 수 없는 판정 {verdict!r}입니다",
            ko_hint="missed 또는 clean을 쓰십시오",
        )
    try:
        code = reasons.parse(reason).value
    except ValueError as exc:
        raise ReviewError(
            str(exc),
            hint="see `auditlens alerts reasons`",
            ko=f"사유 코드 {reason!r}은(는) 정해진 코드가 아닙니다",
            ko_hint="코드 목록은 `auditlens alerts reasons`로 확인하십시오",
        ) from None
    if code == reasons.ReasonCode.OTHER and not note.strip():
        raise ReviewError(
            "reason 'other' needs a note",
            hint="describe the reason with --note",
            ko="사유 코드 'other'에는 메모가 필요합니다",
            ko_hint="--note로 사유를 적으십시오",
        )
    return checked, code
