"""Planted insider scenarios: who acts out what, when, and the sessions and tasks it takes.

:func:`plan_insiders` picks the insiders (never IT, whose ordinary work looks like
misuse), a scenario each in turn and a window of days after a clean baseline; it also
lets a few ordinary people leave, so that leaving alone is no signal. :func:`plant`
acts the scenarios out: extra sessions, queued tasks and the answer key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from auditlens import schema
from auditlens.sources.synthetic.catalog import (
    FAM_OFFSET,
    FAM_SIZE,
    FAMILIES,
    FAMILY_CODE,
    TEMPLATE_CODE,
)
from auditlens.sources.synthetic.organisation import (
    DEPARTMENT_NAMES,
    DEPARTMENTS,
    Department,
    People,
)
from auditlens.sources.synthetic.sessions import SessionTable, Workdays
from auditlens.sources.synthetic.spec import (
    DAY,
    HOUR,
    I64,
    NEVER,
    Bool,
    Columns,
    GeneratorSpec,
    Period,
)

SCENARIOS: Final = (
    "after_hours_theft",
    "privilege_misuse",
    "tampering_sequence",
    "departing_mass_download",
    "account_sharing",
)
#: Critical data a misusing insider reaches for outside their own department.
MISUSE_TARGETS: Final = ("db_customer", "db_hr_salary", "trading_system", "db_finance")


@dataclass(frozen=True, eq=False)
class Plan:
    """Who leaves when and who acts out which scenario on which days.

    ``left`` is each user's first local midnight without events (NEVER for stayers);
    ``forced`` marks (user, day) working days a scenario needs; ``insiders`` lists
    (user code, scenario, day codes).
    """

    left: I64
    forced: Bool
    insiders: list[tuple[int, str, I64]]


def plan_insiders(
    spec: GeneratorSpec, rng: np.random.Generator, period: Period, staff: People
) -> Plan:
    """Choose the insiders and their windows, and a few ordinary leavers."""
    n = spec.users
    left = np.full(n, NEVER, dtype=np.int64)
    forced = np.zeros((n, spec.days), dtype=bool)
    eligible = np.flatnonzero(staff.dept != DEPARTMENT_NAMES.index("it"))
    count = round(spec.insider_rate * n)
    if spec.insider_rate > 0:
        count = max(count, min(len(SCENARIOS), eligible.size // 2))
    count = min(count, eligible.size // 2)
    chosen = rng.choice(eligible, size=count, replace=False) if count else eligible[:0]
    turn = int(rng.integers(len(SCENARIOS)))
    insiders = []
    for i, user in enumerate(chosen.tolist()):
        scenario = SCENARIOS[(i + turn) % len(SCENARIOS)]
        if scenario == "departing_mass_download":
            days = _window(rng, period, 3, 10, spare=1)
            left[user] = period.midnight[0] + (days[-1] + 1) * DAY
        else:
            days = _window(rng, period, 3, 14, spare=0)
        forced[user, days[~period.day_off[days]]] = True
        insiders.append((user, scenario, days))
    # a few ordinary leavers, so that "left" alone is no signal
    if spec.days >= 4:
        others = np.setdiff1d(np.arange(n), chosen)
        leavers = others[rng.random(others.size) < 0.01]
        last = rng.integers(spec.days // 2, spec.days, leavers.size)
        left[leavers] = period.midnight[0] + last * DAY
    return Plan(left, forced, insiders)


def _window(rng: np.random.Generator, period: Period, lo: int, hi: int, spare: int) -> I64:
    """Scenario days after the first third of the period, with working days in them.

    ``spare`` days are kept free at the end (a leaver's last day must be inside).
    """
    days = len(period.dates)
    first = min(days - 1, max(1, math.ceil(days / 3)))
    room = days - first - spare if days - first - spare >= 1 else days - first
    best = np.arange(first, first + 1)
    for _ in range(20):  # a window can fall on Chuseok and a weekend: draw again
        length = min(int(rng.integers(lo, hi + 1)), room)
        start = first + int(rng.integers(0, room - length + 1))
        window = np.arange(start, start + length)
        workdays = int((~period.day_off[window]).sum())
        if workdays >= min(2, length):
            return window
        if workdays > int((~period.day_off[best]).sum()):
            best = window
    return best


@dataclass(frozen=True, eq=False)
class Planted:
    """What the scenarios add: sessions (after the ordinary ones), tasks queued into
    sessions, hosts and addresses of outside devices (after the staff's), and the answer
    key as (user id, scenario, local start, local exclusive end) in microseconds."""

    sessions: SessionTable
    tasks: list[Columns]
    hosts: list[str]
    ips: list[str]
    labels: list[tuple[str, str, int, int]]


def plant(
    rng: np.random.Generator, period: Period, staff: People, plan: Plan, work: Workdays
) -> Planted:
    """Act out every planned scenario on top of the ordinary working days."""
    return _Planter(rng, period, staff, plan, work).run()


class _Planter:
    """Acts the plan out: every attribute is set here, then only appended to."""

    def __init__(
        self, rng: np.random.Generator, period: Period, staff: People, plan: Plan, work: Workdays
    ) -> None:
        self.rng = rng
        self.period = period
        self.staff = staff
        self.plan = plan
        self.main = work.main
        self.main_start = work.main_start
        self.busy = work.busy.copy()  # late sessions push the day's end on
        self.sessions = SessionTable(first=work.sessions.size)
        self.tasks: list[Columns] = []
        self.labels: list[tuple[str, str, int, int]] = []
        self.hosts: list[str] = []
        self.ips: list[str] = []

    def run(self) -> Planted:
        """Every insider's scenario in plan order (the rng draws depend on that order)."""
        self._scenarios()
        return Planted(self.sessions, self.tasks, self.hosts, self.ips, self.labels)

    def _inject(
        self, session: int, templates: list[str], families: I64, fail: Bool | None = None
    ) -> None:
        """Queue scenario tasks for ``session`` on uniformly random items of ``families``.

        A ``usb`` template goes first in its session; other tasks mix with ordinary work.
        """
        tpl = np.array([TEMPLATE_CODE[t] for t in templates], dtype=np.int64)
        inst = (self.rng.random(tpl.size) * FAM_SIZE[families]).astype(np.int64)
        self.tasks.append(
            {
                "session": np.full(tpl.size, session, dtype=np.int64),
                "template": tpl,
                "resource": np.where(tpl == TEMPLATE_CODE["usb"], -1, FAM_OFFSET[families] + inst),
                "fail": np.zeros(tpl.size, bool) if fail is None else fail,
                "key": np.where(tpl == TEMPLATE_CODE["usb"], -1.0, self.rng.random(tpl.size)),
            }
        )

    def _department(self, user: int) -> Department:
        return DEPARTMENTS[DEPARTMENT_NAMES[self.staff.dept[user]]]

    def _own_families(self, user: int, sensitive: bool) -> I64:
        fams = self._department(user).families
        levels = ("high", "critical") if sensitive else schema.SENSITIVITY_LEVELS
        return np.array([FAMILY_CODE[f] for f in fams if FAMILIES[f].sensitivity in levels])

    def _pick(self, pool: I64, k_lo: int, k_hi: int) -> list[int]:
        k = min(pool.size, int(self.rng.integers(k_lo, k_hi + 1)))
        return sorted(self.rng.choice(pool, size=k, replace=False).tolist()) if k else []

    def _late_session(self, user: int, day: int, hours: tuple[float, float], length: float) -> int:
        """An extra session on the user's own PC, after whatever they did that day."""
        start = max(
            int(self.period.midnight[day] + self.rng.uniform(*hours) * HOUR),
            int(self.busy[user, day]) + HOUR // 2,
        )
        end = start + int(length * HOUR)
        self.busy[user, day] = end
        add = self.sessions.add
        return int(add(user=user, day=day, start=start, end=end, host=user, ip=user,
                       rate=0.0, fail=0.05)[0])  # fmt: skip

    def _scenarios(self) -> None:
        """Run each insider's handler; label from the first scenario day's midnight to
        the later of the handler's last event and the window's end, no later than the
        user leaves, rounded up to whole seconds."""
        handlers: dict[str, Callable[[int, I64], int]] = {
            "after_hours_theft": self._after_hours_theft,
            "privilege_misuse": self._privilege_misuse,
            "tampering_sequence": self._tampering_sequence,
            "departing_mass_download": self._departing_mass_download,
            "account_sharing": self._account_sharing,
        }
        midnight, left = self.period.midnight, self.plan.left
        for user, scenario, days in self.plan.insiders:
            end = max(handlers[scenario](user, days), int(midnight[days[-1]] + DAY))
            end = -(-min(end, int(left[user])) // 1_000_000) * 1_000_000  # whole seconds
            self.labels.append((self.staff.user_ids[user], scenario, int(midnight[days[0]]), end))

    def _after_hours_theft(self, user: int, days: I64) -> int:
        """Nights and days off: USB stick in, bulk downloads of sensitive files."""
        rng, own, last = self.rng, self._own_families(user, sensitive=True), 0
        for day in self._pick(days, 2, 5):
            sess = self._late_session(user, day, (21.0, 23.5), rng.uniform(0.75, 2.0))
            k = int(rng.integers(15, 41))
            tpl = rng.choice(["download", "export", "print"], k, p=[0.6, 0.3, 0.1]).tolist()
            self._inject(sess, ["usb", *tpl], rng.choice(own, k + 1))
            last = max(last, int(self.busy[user, day]))
        return last

    def _privilege_misuse(self, user: int, days: I64) -> int:
        """Reading critical data of other departments in office hours; some attempts denied."""
        rng = self.rng
        mine = self._department(user).families
        targets = np.array([FAMILY_CODE[f] for f in MISUSE_TARGETS if f not in mine])
        chosen = rng.choice(targets, size=min(targets.size, int(rng.integers(1, 3))), replace=False)
        for day in self._pick(days[self.main[user, days] >= 0], 3, 6):
            k = int(rng.integers(4, 13))
            denied = rng.random(k) < 0.25
            tpl = rng.choice(["read", "browse", "download", "export"], k, p=[0.4, 0.2, 0.25, 0.15])
            tpl = np.where(denied, "read", tpl).tolist()
            self._inject(int(self.main[user, day]), tpl, rng.choice(chosen, k), fail=denied)
        return 0

    def _tampering_sequence(self, user: int, days: I64) -> int:
        """View, edit, delete of sensitive records, mostly in a late-evening session."""
        rng, last = self.rng, 0
        own = self._own_families(user, sensitive=True)
        own = own[FAM_SIZE[own] > 1]
        for i, day in enumerate(self._pick(days, 2, 4)):
            if i == 0 or self.main[user, day] < 0 or rng.random() < 0.7:
                sess = self._late_session(user, day, (19.5, 22.5), rng.uniform(0.5, 1.5))
                last = max(last, int(self.busy[user, day]))
            else:
                sess = int(self.main[user, day])
            k = int(rng.integers(8, 19))
            tpl = rng.choice(["maintain", "edit"], k, p=[0.85, 0.15]).tolist()
            self._inject(sess, tpl, rng.choice(own, k))
        return last

    def _departing_mass_download(self, user: int, days: I64) -> int:
        """The last days before leaving: downloads, exports and prints many times baseline."""
        rng, profiles = self.rng, self.staff.profiles
        prof = profiles.profile[user]
        own = self._own_families(user, sensitive=False)
        weight = np.where(np.isin(own, self._own_families(user, sensitive=True)), 2.0, 1.0)
        baseline = self.staff.intensity[user] / profiles.mean_len[prof] * profiles.p_bulk[prof]
        for day in days[self.main[user, days] >= 0].tolist():
            k = max(10, round(baseline * rng.uniform(5.0, 10.0)))
            tpl = rng.choice(["download", "export", "print"], k, p=[0.5, 0.3, 0.2]).tolist()
            self._inject(
                int(self.main[user, day]), tpl, rng.choice(own, k, p=weight / weight.sum())
            )
        return int(self.plan.left[user])

    def _account_sharing(self, user: int, days: I64) -> int:
        """Someone else logs in as the user: a colleague's PC or an outside laptop, at the same
        time as the user's own session."""
        rng, s, last = self.rng, self.sessions, 0
        peers = np.flatnonzero(self.staff.dept == self.staff.dept[user])
        peers = peers[peers != user]
        own = self._own_families(user, sensitive=False)
        for day in self._pick(days[self.main[user, days] >= 0], 3, 6):
            for _ in range(int(rng.integers(1, 3))):
                if peers.size and rng.random() < 0.5:
                    host = int(rng.choice(peers))
                else:
                    self.hosts.append(f"LAPTOP-{int(rng.integers(16**5)):05X}")
                    net = rng.choice(["203.0.113", "198.51.100"])
                    self.ips.append(f"{net}.{int(rng.integers(2, 255))}")
                    host = len(self.staff.hosts) + len(self.hosts) - 1
                start = int(self.main_start[user, day] + rng.uniform(0.5, 4.0) * HOUR)
                end = start + int(rng.uniform(1.0, 4.0) * HOUR)
                sess = int(s.add(user=user, day=day, start=start, end=end, host=host, ip=host,
                                 rate=0.6, fail=0.4)[0])  # fmt: skip
                k = int(rng.integers(2, 7))
                self._inject(sess, ["download"] * k, rng.choice(own, k))
                last = max(last, end)
        return last
