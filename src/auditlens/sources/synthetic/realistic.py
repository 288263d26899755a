"""The realistic profile: quiet insiders among benign look-alikes, joiners, leavers, transfers.

Real insiders whisper: a handful of things they never did before (a first-ever logon late
at night, a first USB stick, a first logon on a colleague's PC, a first look at a kind of
data), on a few days among weeks of ordinary work. Real organisations are noisy in the
same ways for good reasons: IT staff on call at night, finance closing the month late,
travellers logging in from laptops and hotels at odd hours, new joiners with no history,
people moving department, leavers handing their files over. :func:`plan_life` draws who
does which of those (at :data:`RATES`), :func:`plan_quiet` the quiet insiders, and
:func:`plant_realistic` acts both out; :mod:`.casting` does the rest (movers' new
selves, ``cast.csv``). docs/scenarios.md describes every case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from auditlens.sources.synthetic.catalog import FAMILIES, FAMILY_CODE
from auditlens.sources.synthetic.organisation import (
    DEPARTMENT_NAMES,
    DEPARTMENTS,
    ROLE_NAMES,
    People,
)
from auditlens.sources.synthetic.scenarios import MISUSE_TARGETS, Plan, Planted, _Planter, _window
from auditlens.sources.synthetic.sessions import Workdays
from auditlens.sources.synthetic.spec import (
    DAY,
    HOUR,
    I64,
    NEVER,
    Bool,
    GeneratorSpec,
    Period,
)

QUIET_SCENARIOS: Final = (
    "quiet_after_hours_copy",
    "quiet_foreign_host",
    "quiet_new_resource",
    "quiet_departing",
)
#: Shares of the look-alikes: of everyone outside IT (travellers, transfers), of
#: everyone (joiners, leavers), of IT operations staff (on-call rota) and of finance
#: (month-end closing duty); half the leavers hand their files over first.
RATES: Final = {
    "traveller": 0.04,
    "joiner": 0.03,
    "leaver": 0.02,
    "transfer": 0.03,
    "oncall": 0.6,
    "month_end": 0.7,
    "handover": 0.5,
}
_IT: Final = DEPARTMENT_NAMES.index("it")
_FINANCE: Final = DEPARTMENT_NAMES.index("finance")
_ONCALL_ROLES: Final = (ROLE_NAMES.index("dba"), ROLE_NAMES.index("sysadmin"))
_OUTSIDE_NETS: Final = ("203.0.113", "198.51.100", "192.0.2")


@dataclass(frozen=True, eq=False)
class Life:
    """Who does what besides ordinary work, by user code and day index.

    ``joined`` is each user's first local midnight with events (the period's first for
    everyone there from the start), ``left`` the first without (NEVER for stayers),
    ``absent`` the (user, day) cells away from the desk (trips). ``trips``, ``oncall``
    list (user, days); ``transfers`` (user, day, new department, new role);
    ``closing`` the month-end closing days and ``month_end`` who closes;
    ``handover`` the leavers who download their files for a successor first.
    """

    joined: I64
    left: I64
    absent: Bool
    trips: list[tuple[int, I64]]
    oncall: list[tuple[int, I64]]
    transfers: list[tuple[int, int, int, int]]
    closing: I64
    month_end: list[int]
    handover: list[int]


def plan_life(spec: GeneratorSpec, rng: np.random.Generator, period: Period, staff: People) -> Life:
    """Draw the look-alikes at :data:`RATES`: one life event per person at most
    (travel, joining, leaving, transfer), plus the on-call rota and month-end duty."""
    n, days = spec.users, spec.days
    first = int(period.midnight[0])
    joined = np.full(n, first, dtype=np.int64)
    left = np.full(n, NEVER, dtype=np.int64)
    absent = np.zeros((n, days), dtype=bool)
    it = staff.dept == _IT
    # one life event each: cumulative shares over a single uniform draw
    u = rng.random(n)
    edges = np.cumsum([RATES[k] for k in ("traveller", "joiner", "leaver", "transfer")])
    kind = np.searchsorted(edges, u, side="right")  # 0..3, 4 = none
    kind[it & np.isin(kind, (0, 3))] = 4  # IT neither travels nor moves here
    workdays = np.flatnonzero(~period.day_off)
    trips: list[tuple[int, I64]] = []
    for user in np.flatnonzero(kind == 0).tolist():
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(0, max(1, workdays.size - 2)))
            trip = workdays[at : at + int(rng.integers(2, 5))]
            absent[user, trip] = True
            trips.append((user, trip))
    for user in np.flatnonzero(kind == 1).tolist():
        joined[user] = first + int(rng.integers(days // 5, max(days // 5 + 1, 3 * days // 4))) * DAY
    leavers = np.flatnonzero(kind == 2)
    left[leavers] = first + rng.integers(days // 2, days, leavers.size) * DAY
    handover = leavers[rng.random(leavers.size) < RATES["handover"]].tolist()
    transfers = []
    moving = [d for d in range(len(DEPARTMENT_NAMES)) if d != _IT]
    for user in np.flatnonzero(kind == 3).tolist():
        day = int(rng.integers(days // 3, max(days // 3 + 1, 2 * days // 3)))
        new = int(rng.choice([d for d in moving if d != staff.dept[user]]))
        roles = DEPARTMENTS[DEPARTMENT_NAMES[new]].roles
        shares = np.array(list(roles.values()))
        role = ROLE_NAMES.index(list(roles)[int(rng.choice(len(roles), p=shares / shares.sum()))])
        transfers.append((user, day, new, role))
    # the on-call rota: every third week, each on a week of their own
    ops = np.flatnonzero(np.isin(staff.role, _ONCALL_ROLES))
    ops = ops[rng.random(ops.size) < RATES["oncall"]]
    week = np.arange(days) // 7
    offset = rng.integers(0, 3, ops.size)
    oncall = [(int(o), np.flatnonzero(week % 3 == k)) for o, k in zip(ops, offset, strict=True)]
    fin = np.flatnonzero(staff.dept == _FINANCE)
    month_end = fin[rng.random(fin.size) < RATES["month_end"]].tolist()
    return Life(
        joined, left, absent, trips, oncall, transfers, _closing_days(period), month_end, handover
    )


def _closing_days(period: Period) -> I64:
    """The last two working days of each month that ends in the period and the first
    working day of each month that starts in it."""
    work = np.flatnonzero(~period.day_off)
    out: set[int] = set()
    for month in sorted({(d.year, d.month) for d in period.dates}):
        days = [i for i, d in enumerate(period.dates) if (d.year, d.month) == month]
        mine = work[np.isin(work, days)]
        if not mine.size:
            continue
        if (period.dates[days[-1]] + dt.timedelta(days=1)).month != month[1]:
            out.update(mine[-2:].tolist())
        if period.dates[days[0]].day == 1:
            out.add(int(mine[0]))
    return np.array(sorted(out), dtype=np.int64)


def plan_quiet(
    spec: GeneratorSpec, rng: np.random.Generator, period: Period, staff: People, life: Life
) -> Plan:
    """The quiet insiders: never IT, joiners, leavers, movers or travellers (they need a
    clean history of their own); one of :data:`QUIET_SCENARIOS` each in turn, on a
    window of 5 to 12 days after the first third of the period."""
    n = spec.users
    left = life.left.copy()
    forced = np.zeros((n, spec.days), dtype=bool)
    busy = np.zeros(n, dtype=bool)
    busy[[u for u, *_ in life.transfers]] = True
    busy[[u for u, _ in life.trips]] = True
    busy |= (life.joined > period.midnight[0]) | (left < NEVER)
    eligible = np.flatnonzero((staff.dept != _IT) & ~busy)
    count = round(spec.insider_rate * n)
    if spec.insider_rate > 0:
        count = max(count, min(len(QUIET_SCENARIOS), eligible.size // 2))
    count = min(count, eligible.size // 2)
    chosen = rng.choice(eligible, size=count, replace=False) if count else eligible[:0]
    turn = int(rng.integers(len(QUIET_SCENARIOS)))
    insiders = []
    for i, user in enumerate(chosen.tolist()):
        scenario = QUIET_SCENARIOS[(i + turn) % len(QUIET_SCENARIOS)]
        days = _window(rng, period, 5, 12, spare=1 if scenario == "quiet_departing" else 0)
        if scenario == "quiet_departing":
            left[user] = period.midnight[0] + (days[-1] + 1) * DAY
        forced[user, days[~period.day_off[days]]] = True
        insiders.append((user, scenario, days))
    return Plan(left, forced, insiders)


def plant_realistic(
    rng: np.random.Generator,
    period: Period,
    staff: People,
    plan: Plan,
    life: Life,
    work: Workdays,
) -> Planted:
    """The look-alikes' extra sessions and tasks, then the quiet insiders' handful."""
    return _QuietPlanter(rng, period, staff, plan, work, life).run()


class _QuietPlanter(_Planter):
    """The realistic profile's planter: look-alikes first, then the insiders."""

    def __init__(
        self,
        rng: np.random.Generator,
        period: Period,
        staff: People,
        plan: Plan,
        work: Workdays,
        life: Life,
    ) -> None:
        super().__init__(rng, period, staff, plan, work)
        self.life = life

    def run(self) -> Planted:
        self._oncall()
        self._month_end()
        self._travel()
        self._handover()
        handlers: dict[str, Callable[[int, I64], int]] = {
            "quiet_after_hours_copy": self._after_hours_copy,
            "quiet_foreign_host": self._foreign_host,
            "quiet_new_resource": self._new_resource,
            "quiet_departing": self._departing,
        }
        midnight, left = self.period.midnight, self.plan.left
        for user, scenario, days in self.plan.insiders:
            end = max(handlers[scenario](user, days), int(midnight[days[-1]] + DAY))
            end = -(-min(end, int(left[user])) // 1_000_000) * 1_000_000  # whole seconds
            self.labels.append((self.staff.user_ids[user], scenario, int(midnight[days[0]]), end))
        return Planted(self.sessions, self.tasks, self.hosts, self.ips, self.labels)

    def _employed(self, user: int, day: int) -> bool:
        at = int(self.period.midnight[day])
        return bool(self.life.joined[user] <= at < self.plan.left[user])

    # --- benign look-alikes -----------------------------------------------------------------

    def _oncall(self) -> None:
        """On-call weeks: a short night session on half the nights, IT work in it."""
        rng = self.rng
        for user, days in self.life.oncall:
            own = self._own_families(user, sensitive=False)
            for day in days.tolist():
                if rng.random() < 0.5 and self._employed(user, day):
                    sess = self._late_session(user, day, (21.0, 26.0), rng.uniform(0.2, 1.2))
                    k = int(rng.integers(1, 5))
                    tpl = rng.choice(["read", "edit", "browse"], k).tolist()
                    self._inject(sess, tpl, rng.choice(own, k))

    def _month_end(self) -> None:
        """Closing the books: late evenings of exports, downloads and prints of ledgers."""
        rng = self.rng
        for user in self.life.month_end:
            own = self._own_families(user, sensitive=False)
            for day in self.life.closing.tolist():
                if self.main[user, day] < 0 or not self._employed(user, day):
                    continue
                sess = self._late_session(user, day, (19.0, 22.0), rng.uniform(1.0, 3.0))
                k = int(rng.integers(4, 13))
                tpl = rng.choice(["export", "download", "print", "edit"], k).tolist()
                self._inject(sess, tpl, rng.choice(own, k))

    def _travel(self) -> None:
        """Trip days: work from a laptop on an outside address, at shifted hours."""
        rng = self.rng
        laptop: dict[int, str] = {}
        for user, days in self.life.trips:
            if user not in laptop:
                laptop[user] = f"LAPTOP-{int(rng.integers(16**5)):05X}"
            # the same laptop, a new outside address each trip
            self.hosts.append(laptop[user])
            self.ips.append(f"{rng.choice(_OUTSIDE_NETS)}.{int(rng.integers(2, 255))}")
            host = len(self.staff.hosts) + len(self.hosts) - 1
            hours = (5.0, 8.0) if rng.random() < 0.5 else (14.0, 19.0)
            for day in days.tolist():
                if not self._employed(user, day):
                    continue
                start = int(self.period.midnight[day] + rng.uniform(*hours) * HOUR)
                end = start + int(rng.uniform(3.0, 7.0) * HOUR)
                self.sessions.add(user=user, day=day, start=start, end=end, host=host, ip=host,
                                  rate=0.8, fail=0.1)  # fmt: skip
                self.busy[user, day] = max(int(self.busy[user, day]), end)

    def _handover(self) -> None:
        """A leaver's last working days: their files downloaded for a successor (1.5-3x)."""
        rng, profiles = self.rng, self.staff.profiles
        for user in self.life.handover:
            own = self._own_families(user, sensitive=False)
            prof = profiles.profile[user]
            base = self.staff.intensity[user] / profiles.mean_len[prof] * profiles.p_bulk[prof]
            worked = [d for d in np.flatnonzero(self.main[user] >= 0).tolist()
                      if self._employed(user, d)]  # fmt: skip
            for day in worked[-3:]:
                k = max(2, round(base * rng.uniform(1.5, 3.0)))
                tpl = rng.choice(["download", "export"], k, p=[0.7, 0.3]).tolist()
                self._inject(int(self.main[user, day]), tpl, rng.choice(own, k))

    # --- quiet insiders -----------------------------------------------------------------------

    def _after_hours_copy(self, user: int, days: I64) -> int:
        """One to three late-night logons, the first ever; a USB stick and a few downloads."""
        rng, last = self.rng, 0
        own = self._own_families(user, sensitive=True)
        for i, day in enumerate(self._pick(days, 1, 3)):
            sess = self._late_session(user, day, (21.5, 23.8), rng.uniform(0.2, 0.8))
            k = int(rng.integers(1, 5))
            usb = ["usb"] if i == 0 or rng.random() < 0.5 else []
            self._inject(sess, [*usb, *["download"] * k], rng.choice(own, k + len(usb)))
            last = max(last, int(self.busy[user, day]))
        return last

    def _foreign_host(self, user: int, days: I64) -> int:
        """Logons on a manager's (else a colleague's) PC at lunch; a few looks there."""
        rng, last = self.rng, 0
        dept = self.staff.dept
        peers = np.flatnonzero((dept == dept[user]) & (np.arange(dept.size) != user))
        bosses = peers[self.staff.role[peers] == ROLE_NAMES.index("manager")]
        pool = bosses if bosses.size else peers
        host = int(rng.choice(pool)) if pool.size else (user + 1) % dept.size
        own = self._own_families(user, sensitive=True)
        for day in self._pick(days[self.main[user, days] >= 0], 1, 3):
            start = int(self.main_start[user, day] + rng.uniform(3.0, 4.0) * HOUR)
            end = start + int(rng.uniform(0.2, 0.6) * HOUR)
            sess = int(self.sessions.add(user=user, day=day, start=start, end=end, host=host,
                                         ip=host, rate=0.0, fail=0.3)[0])  # fmt: skip
            k = int(rng.integers(1, 5))
            tpl = rng.choice(["read", "download"], k, p=[0.6, 0.4]).tolist()
            self._inject(sess, tpl, rng.choice(own, k))
            last = max(last, end)
        return last

    def _new_resource(self, user: int, days: I64) -> int:
        """A kind of data never touched before: a few reads over two to four days, one
        export at the end."""
        rng = self.rng
        mine = set(self._department(user).families)
        pool = [f for f in MISUSE_TARGETS if f not in mine]
        pool += [f for f, fam in FAMILIES.items()
                 if fam.sensitivity == "high" and f not in mine and f not in pool]  # fmt: skip
        target = np.array([FAMILY_CODE[str(rng.choice(pool))]])
        chosen = self._pick(days[self.main[user, days] >= 0], 2, 4)
        for i, day in enumerate(chosen):
            k = int(rng.integers(1, 4))
            tpl = rng.choice(["read", "browse"], k).tolist()
            tpl += ["export"] if i == len(chosen) - 1 else []
            self._inject(int(self.main[user, day]), tpl, np.repeat(target, len(tpl)))
        return 0

    def _departing(self, user: int, days: I64) -> int:
        """The last working days before leaving: a first USB stick, 1.5-2.5x the usual
        downloads and exports."""
        rng, profiles = self.rng, self.staff.profiles
        prof = profiles.profile[user]
        own = self._own_families(user, sensitive=False)
        base = self.staff.intensity[user] / profiles.mean_len[prof] * profiles.p_bulk[prof]
        worked = days[self.main[user, days] >= 0].tolist()[-3:]
        for i, day in enumerate(worked):
            k = max(2, round(base * rng.uniform(1.5, 2.5)))
            tpl = ["usb"] * (i == len(worked) - 2 or len(worked) == 1)
            tpl += rng.choice(["download", "export"], k, p=[0.7, 0.3]).tolist()
            self._inject(int(self.main[user, day]), tpl, rng.choice(own, len(tpl)))
        return int(self.plan.left[user])
