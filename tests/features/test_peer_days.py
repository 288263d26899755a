"""Peer groups day by day (features.peers.peer_days, computed for every day at once)
against the definition worked out day by day in plain Python: users who move between
departments and roles, ties, missing values, a directory, groups that fall back and
stop falling back as users join; all days at once, or continued day by day."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import polars as pl
import pytest

from auditlens.features.base import FeatureContext
from auditlens.features.peers import PeerDays, peer_days

D0 = dt.date(2026, 9, 1)
Row = tuple[str, dt.date, str | None, str | None, int]


def _mode(counts: Counter[str]) -> str | None:
    """The most frequent value; on a tie the smallest; None without any."""
    if not counts:
        return None
    top = max(counts.values())
    return min(v for v, n in counts.items() if n == top)


def _definition(
    rows: list[Row], min_group: int, directory: dict[str, tuple[str | None, str | None]]
) -> tuple[list[tuple[str, dt.date, str]], list[tuple[str, dt.date, str]]]:
    """(groups of the user-days with events, spells), day by day as documented."""
    seen: dict[str, tuple[Counter[str], Counter[str]]] = defaultdict(lambda: (Counter(), Counter()))
    current: dict[str, str] = {}
    groups, spells = [], []
    for day in sorted({r[1] for r in rows}):
        today = [r for r in rows if r[1] == day]
        for user, _, dept, role, n in today:
            depts, roles = seen[user]
            if dept is not None:
                depts[dept] += n
            if role is not None:
                roles[role] += n
        fine, coarse = {}, {}
        for user, (depts, roles) in seen.items():
            dept, role = _mode(depts), _mode(roles)
            listed = directory.get(user, (None, None))
            dept = listed[0] if listed[0] is not None else dept
            role = listed[1] if listed[1] is not None else role
            coarse[user] = dept if dept is not None else "(none)"
            fine[user] = f"{coarse[user]}/{role if role is not None else '(none)'}"
        fine_n, coarse_n = Counter(fine.values()), Counter(coarse.values())
        group = {
            u: fine[u] if fine_n[fine[u]] >= min_group else
            coarse[u] if coarse_n[coarse[u]] >= min_group else "(all)"
            for u in seen
        }  # fmt: skip
        for user in sorted(seen):
            if current.get(user) != group[user]:
                spells.append((user, day, group[user]))
                current[user] = group[user]
        groups += [(u, day, group[u]) for u in sorted({r[0] for r in today})]
    return sorted(groups), sorted(spells)


def _rows(seed: int, users: int = 40, days: int = 25) -> list[Row]:
    """User-days with events per (department, role): people join late, move, share
    their days between two roles (ties included), or have no department or role."""
    rng = random.Random(seed)
    depts, roles = ["fin", "it", "ops", "hr"], ["analyst", "admin", "clerk"]
    out: list[Row] = []
    for u in range(users):
        start = rng.randrange(days // 2) if u % 3 == 0 else 0
        dept, role = rng.choice(depts), rng.choice(roles)
        for day in range(start, days):
            if rng.random() < 0.3:
                continue
            if rng.random() < 0.08:  # a move
                dept, role = rng.choice(depts), rng.choice(roles)
            when = D0 + dt.timedelta(days=day)
            n = rng.choice([1, 1, 2, 3])
            missing = u % 11 == 5
            out.append((f"u{u:02d}", when, None if missing else dept, role, n))
            if rng.random() < 0.2:  # a second role that day: counts may tie
                out.append((f"u{u:02d}", when, dept, rng.choice(roles), n))
    return out


def _frame(rows: list[Row]) -> pl.DataFrame:
    schema = {"user_id": pl.String, "window": pl.Date, "department": pl.String,
              "role": pl.String, "_n": pl.UInt32}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def _triples(frame: pl.DataFrame) -> list[tuple[str, dt.date, str]]:
    return [tuple(r) for r in frame.select("user_id", "window", "peer_group").rows()]  # type: ignore[misc]


@pytest.mark.parametrize(("seed", "min_group", "listed"), [(1, 3, False), (2, 6, False),
                         (3, 4, True), (4, 1, False), (5, 9, True)])  # fmt: skip
def test_every_day_at_once_follows_the_day_by_day_definition(
    seed: int, min_group: int, listed: bool
) -> None:
    rows = _rows(seed)
    directory = {"u01": ("legal", None), "u04": (None, "auditor"), "u07": ("legal", "auditor")}
    directory = directory if listed else {}
    ctx = FeatureContext(min_peer_group=min_group)
    if listed:
        ctx = FeatureContext(
            min_peer_group=min_group,
            peer_groups=pl.DataFrame(
                [(u, d, r) for u, (d, r) in directory.items()],
                schema=["user_id", "department", "role"],
                orient="row",
            ),
        )
    want_groups, want_spells = _definition(rows, min_group, directory)
    got = peer_days(_frame(rows), ctx)
    assert _triples(got.groups) == want_groups
    assert _triples(got.spells) == want_spells
    # groups moved: by moves, ties and fallbacks that end as members join
    assert len(want_spells) > len({s[0] for s in want_spells})
    totals: Counter[tuple[str, str | None, str | None]] = Counter()
    for user, _, dept, role, n in rows:
        totals[user, dept, role] += n
    assert sorted(got.counts.rows(), key=repr) == sorted(
        [(*k, n) for k, n in totals.items()], key=repr
    )


@pytest.mark.parametrize("cut", [1, 7, 19])
def test_continuing_from_the_days_before_gives_the_same_groups(cut: int) -> None:
    rows = _rows(6)
    ctx = FeatureContext(min_peer_group=4)
    whole = peer_days(_frame(rows), ctx)
    split = D0 + dt.timedelta(days=cut)
    head = peer_days(_frame([r for r in rows if r[1] < split]), ctx)
    tail = [r for r in rows if r[1] >= split]
    prior: PeerDays = head.keep_counts()
    for day in sorted({r[1] for r in tail})[:3]:  # a few days one at a time, then the rest
        step = peer_days(_frame([r for r in tail if r[1] == day]), ctx, prior)
        head = PeerDays(pl.concat([head.groups, step.groups]), step.spells, step.counts)
        prior = step.keep_counts()
    rest = [r for r in tail if r[1] > sorted({r[1] for r in tail})[2]]
    last = peer_days(_frame(rest), ctx, prior)
    assert pl.concat([head.groups, last.groups]).sort("user_id", "window").equals(whole.groups)
    assert last.spells.equals(whole.spells)
    assert last.counts.equals(whole.counts)
    # nothing new: the groups of no day, the spells and counts unchanged
    idle = peer_days(_frame([]), ctx, last.keep_counts())
    assert idle.groups.height == 0
    assert idle.spells.equals(whole.spells) and idle.counts.equals(whole.counts)
