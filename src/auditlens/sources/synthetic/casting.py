"""After the realistic profile's plan: movers' second codes, the first-ever USB stick,
and what is written besides the events (the directory as it stands, ``cast.csv``).

:func:`transfer` lets a moved person work as their new self from the transfer day;
:func:`first_usb` keeps an insider's USB stick their first; :func:`cast` says who plays
which part and :func:`directory_now` gives the directory at the period's end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from auditlens.sources.synthetic.catalog import TEMPLATE_CODE
from auditlens.sources.synthetic.organisation import (
    _INTENSITY,
    DEPARTMENT_NAMES,
    ROLE_NAMES,
    People,
    Profiles,
)
from auditlens.sources.synthetic.realistic import Life
from auditlens.sources.synthetic.scenarios import Plan
from auditlens.sources.synthetic.spec import DAY, EPOCH, I64, NEVER, Columns, Period


def first_usb(tasks: Columns, sess: Columns, plan: Plan) -> Columns:
    """Without the rare ordinary USB use the insiders of a USB scenario drew before their
    window: their stick in the window is then the first ever, as the scenario says."""
    usb = TEMPLATE_CODE["usb"]
    before = np.zeros(sess["user"].size, dtype=bool)
    for user, scenario, days in plan.insiders:
        if scenario in ("quiet_after_hours_copy", "quiet_departing"):
            before |= (sess["user"] == user) & (sess["day"] < days[0])
    drop = (tasks["template"] == usb) & before[tasks["session"]]
    return {k: v[~drop] for k, v in tasks.items()}


def transfer(staff: People, life: Life, sess: Columns, left: I64) -> tuple[People, Columns, I64]:
    """Movers work as their new selves from the transfer day: each gets a second user
    code (same user id and PC, new department, role and team) that their sessions from
    then on belong to. Returns the staff, sessions and ``left`` with those codes added."""
    if not life.transfers:
        return staff, sess, left
    n = len(staff.user_ids)
    movers = np.array([t[0] for t in life.transfers], dtype=np.int64)
    new_dept = np.array([t[2] for t in life.transfers], dtype=np.int64)
    new_role = np.array([t[3] for t in life.transfers], dtype=np.int64)
    user = sess["user"].copy()
    for j, (who, day, _, _) in enumerate(life.transfers):
        user[(sess["user"] == who) & (sess["day"] >= day)] = n + j
    factor = np.array([_INTENSITY.get(r, 1.0) for r in ROLE_NAMES])
    dept = np.concatenate([staff.dept, new_dept])
    role = np.concatenate([staff.role, new_role])
    heavy = np.concatenate([staff.heavy, np.zeros(movers.size, dtype=bool)])
    level = staff.intensity[movers] / factor[staff.role[movers]] * factor[new_role]
    level /= np.where(staff.heavy[movers], 2.5, 1.0)
    moved = dataclasses.replace(
        staff,
        dept=dept,
        role=role,
        heavy=heavy,
        user_ids=[*staff.user_ids, *(staff.user_ids[int(m)] for m in movers)],
        hired=[*staff.hired, *(staff.hired[int(m)] for m in movers)],
        start_h=np.concatenate([staff.start_h, staff.start_h[movers]]),
        len_h=np.concatenate([staff.len_h, staff.len_h[movers]]),
        p_overtime=np.concatenate([staff.p_overtime, staff.p_overtime[movers]]),
        p_weekend=np.concatenate([staff.p_weekend, staff.p_weekend[movers]]),
        p_oncall=np.concatenate([staff.p_oncall, np.zeros(movers.size)]),
        intensity=np.concatenate([staff.intensity, level]),
        team_shift=np.concatenate([staff.team_shift, (new_dept * 31 + 7) % 1_000_003]),
        profiles=Profiles.of(dept, role, heavy),
    )
    return moved, {**sess, "user": user}, np.concatenate([left, left[movers]])


def cast(staff: People, period: Period, life: Life, plan: Plan) -> pl.DataFrame:
    """Who plays which part: ``user_id, kind, start, end`` (local dates, ``end``
    inclusive), sorted; the quiet insiders under their scenario's name."""
    dates = period.dates
    rows: list[tuple[str, str, dt.date, dt.date]] = []

    def add(user: int, kind: str, first: int, last: int) -> None:
        rows.append((staff.user_ids[user], kind, dates[first], dates[last]))

    def day_of(local_us: int) -> int:
        return min(len(dates) - 1, int((local_us - period.midnight[0]) // DAY))

    for user, days in life.trips:
        add(user, "traveller", int(days[0]), int(days[-1]))
    for user, days in life.oncall:
        if days.size:
            add(user, "oncall", int(days[0]), int(days[-1]))
    for user in np.flatnonzero(life.joined > period.midnight[0]).tolist():
        add(user, "joiner", day_of(int(life.joined[user])), len(dates) - 1)
    handover = set(life.handover)
    for user in np.flatnonzero(life.left < NEVER).tolist():
        kind = "handover_leaver" if user in handover else "leaver"
        add(user, kind, 0, day_of(int(life.left[user])) - 1)
    for user, day, _, _ in life.transfers:
        add(user, "transfer", day, len(dates) - 1)
    for user in life.month_end:
        if life.closing.size:
            add(user, "month_end", int(life.closing[0]), int(life.closing[-1]))
    for user, scenario, days in plan.insiders:
        add(user, scenario, int(days[0]), int(days[-1]))
    frame = pl.DataFrame(
        rows,
        schema={"user_id": pl.String, "kind": pl.String, "start": pl.Date, "end": pl.Date},
        orient="row",
    )
    return frame.sort("user_id", "kind", "start")


def directory_now(directory: pl.DataFrame, staff: People, life: Life) -> pl.DataFrame:
    """The directory as it stands at the end: movers in their new department and role,
    joiners hired on their first day."""
    dept = [DEPARTMENT_NAMES[d] for d in staff.dept]
    role = [ROLE_NAMES[r] for r in staff.role]
    for user, _, new_dept, new_role in life.transfers:
        dept[user], role[user] = DEPARTMENT_NAMES[new_dept], ROLE_NAMES[new_role]
    hired = [
        EPOCH + dt.timedelta(days=int(j // DAY)) if j > life.joined.min() else staff.hired[i]
        for i, j in enumerate(life.joined.tolist())
    ]
    return directory.with_columns(
        pl.Series("department", dept, pl.String),
        pl.Series("role", role, pl.String),
        pl.Series("hired", hired, pl.Date),
    )
