"""Sessions: who is logged in where, when; the ordinary working days of everyone.

A session is one login to logout on one host, with a task rate and a chance that the
login is first mistyped. :func:`ordinary_sessions` draws the usual days (the personal
rhythm, overtime, a shared desktop now and then), weekend catch-up work and IT on-call
nights; scenarios add sessions of their own to a second :class:`SessionTable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from auditlens.sources.synthetic.organisation import People
from auditlens.sources.synthetic.spec import HOUR, I64, Bool, GeneratorSpec, Period

_COLUMNS = ("user", "day", "start", "end", "host", "ip", "rate", "fail")
_FLOAT_COLUMNS = ("rate", "fail")


class SessionTable:
    """Column lists of sessions, appended kind by kind and concatenated once.

    Session codes are positions in the concatenation of every table, so a table that
    follows another starts at ``first`` (the size of those before it).
    """

    def __init__(self, first: int = 0) -> None:
        self.cols: dict[str, list[npt.NDArray[Any]]] = {k: [] for k in _COLUMNS}
        self.first = first
        self.size = 0

    def add(self, **cols: npt.NDArray[Any] | float | int) -> I64:
        """Append sessions (scalars broadcast to the users' length); returns their codes."""
        n = int(np.size(cols["user"]))
        for key, value in cols.items():
            dtype = np.float64 if key in _FLOAT_COLUMNS else np.int64
            self.cols[key].append(np.broadcast_to(np.asarray(value).astype(dtype), (n,)).copy())
        self.size += n
        return np.arange(self.first + self.size - n, self.first + self.size, dtype=np.int64)


def session_arrays(*tables: SessionTable) -> dict[str, npt.NDArray[Any]]:
    """The sessions of ``tables``, in order, as one array per column."""
    return {k: np.concatenate([part for t in tables for part in t.cols[k]]) for k in _COLUMNS}


@dataclass(frozen=True, eq=False)
class Workdays:
    """The ordinary sessions and, per (user, day), what scenarios build on.

    ``main`` is the code of the user's working-day session (-1 without one),
    ``main_start`` its start and ``busy`` the end of the day's last session (local
    microseconds).
    """

    sessions: SessionTable
    main: I64
    main_start: I64
    busy: I64


def ordinary_sessions(
    spec: GeneratorSpec,
    rng: np.random.Generator,
    period: Period,
    staff: People,
    *,
    left: I64,
    forced: Bool,
    joined: I64 | None = None,
    absent: Bool | None = None,
) -> Workdays:
    """Everyone's ordinary sessions while employed (from ``joined``, default always,
    before ``left``); ``forced`` days are worked whatever the odds (an insider's scenario
    days), ``absent`` (user, day) cells not at the desk at all (a traveller's trip)."""
    n, days, s = spec.users, spec.days, SessionTable()
    user = np.repeat(np.arange(n), days)
    day = np.tile(np.arange(days), n)
    midnight = period.midnight[day]
    employed = midnight < left[user]
    if joined is not None:
        employed &= midnight >= joined[user]
    off = period.day_off[day]
    r = rng.random((5, n * days))
    busy = np.full(n * days, np.iinfo(np.int64).min, dtype=np.int64)
    # working days: the personal rhythm, some overtime, now and then a shared desktop
    work = employed & ~off & ((r[0] < 0.95) | forced.ravel())
    if absent is not None:
        work &= ~absent.ravel()
    u, d = user[work], day[work]
    start = midnight[work] + ((staff.start_h[u] + rng.normal(0, 0.25, u.size)) * HOUR)
    hours = staff.len_h[u] + rng.normal(0, 0.4, u.size)
    hours += np.where(r[1][work] < staff.p_overtime[u], rng.uniform(1.0, 3.5, u.size), 0.0)
    end = start + np.clip(hours, 1.0, 14.0) * HOUR
    host = np.where(r[2][work] < 0.003, n + rng.integers(0, 24, u.size), u)
    idx = s.add(user=u, day=d, start=start, end=end, host=host, ip=host, rate=1.0, fail=0.02)
    main = np.full(n * days, -1, dtype=np.int64)
    main[work] = idx
    main_start = np.zeros(n * days, dtype=np.int64)
    main_start[work] = start
    busy[work] = end
    # occasional weekend / holiday catch-up work
    weekend = employed & off & (r[3] < staff.p_weekend[user])
    u, d = user[weekend], day[weekend]
    start = midnight[weekend] + rng.uniform(10.0, 15.0, u.size) * HOUR
    end = start + rng.uniform(1.5, 5.0, u.size) * HOUR
    s.add(user=u, day=d, start=start, end=end, host=u, ip=u, rate=0.6, fail=0.02)
    busy[weekend] = end
    # IT on-call: short evening or night sessions, after the day's own work
    oncall = employed & (r[4] < staff.p_oncall[user])
    u, d = user[oncall], day[oncall]
    start = np.maximum(
        midnight[oncall] + rng.uniform(20.5, 23.5, u.size) * HOUR, busy[oncall] + HOUR // 2
    )
    end = start + rng.uniform(0.3, 1.5, u.size) * HOUR
    s.add(user=u, day=d, start=start, end=end, host=u, ip=u, rate=1.0, fail=0.03)
    busy[oncall] = end
    return Workdays(s, main.reshape(n, days), main_start.reshape(n, days), busy.reshape(n, days))
