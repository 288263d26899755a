"""Columns and events: what each session does, turned into the canonical event frame.

Ordinary tasks are drawn from each user's profile (a family, then a template remapped
to what the family's kind allows, popular items first with each team's favourites);
scenario tasks are merged in. Each task's steps become events spread over its session,
between a login (now and then mistyped first) and a logout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

from auditlens import schema
from auditlens.sources.synthetic.catalog import (
    ACTION_CODE,
    ACTIONS,
    FAM_KIND,
    FAM_OFFSET,
    FAM_SIZE,
    REMAP,
    TEMPLATE_CODE,
    TPL_ACT,
    TPL_LEN,
)
from auditlens.sources.synthetic.organisation import DEPARTMENT_NAMES, ROLE_NAMES, People
from auditlens.sources.synthetic.spec import F64, HOUR, I64, NEVER, Columns, Period

_STRIDE: Final = 7919  # prime: maps popularity ranks onto a team's own favourite items


def task_table(
    rng: np.random.Generator, sess: Columns, staff: People, planted: list[Columns]
) -> Columns:
    """Ordinary tasks drawn from each user's profile, with scenario tasks merged in.

    Ordinary tasks are i.i.d., so their order within a session is already random;
    a scenario task lands at a random slot of its session (``usb`` first).
    """
    profiles = staff.profiles
    user = sess["user"]
    prof = profiles.profile[user]
    hours = (sess["end"] - sess["start"]) / HOUR
    counts = rng.poisson(
        staff.intensity[user] * hours / 9.0 * sess["rate"] / profiles.mean_len[prof]
    )
    t_sess = np.repeat(np.arange(user.size), counts)
    t_user, t_prof = user[t_sess], prof[t_sess]
    fam = _sample(profiles.fam_cum, t_prof, rng.random(t_sess.size))
    tpl = REMAP[FAM_KIND[fam], _sample(profiles.tpl_cum, t_prof, rng.random(t_sess.size))]
    # popular items first, and each team has its own favourites
    rank = (FAM_SIZE[fam] * rng.random(t_sess.size) ** 2.5).astype(np.int64)
    inst = (staff.team_shift[t_user] + rank * _STRIDE) % FAM_SIZE[fam]
    fail = rng.random(t_sess.size) < 0.002  # access denied: the look fails, nothing follows
    tpl = np.where(fail, TEMPLATE_CODE["read"], tpl)
    tasks = {
        "session": t_sess,
        "template": tpl,
        "fail": fail,
        "resource": np.where(tpl == TEMPLATE_CODE["usb"], -1, FAM_OFFSET[fam] + inst),
    }
    if not planted:
        return tasks
    extra = {k: np.concatenate([p[k] for p in planted]) for k in (*tasks, "key")}
    order = np.lexsort((extra["key"], extra["session"]))
    extra = {k: v[order] for k, v in extra.items()}
    first = (np.cumsum(counts) - counts)[extra["session"]]
    slot = first + (np.maximum(extra["key"], 0.0) * (counts[extra["session"]] + 1)).astype(np.int64)
    return {k: np.insert(v, slot, extra[k]) for k, v in tasks.items()}


def coded_events(
    rng: np.random.Generator,
    sess: Columns,
    tasks: Columns,
    *,
    n_resources: int,
    period: Period,
    left: I64,
) -> pl.DataFrame:
    """Integer-coded events in time order: login, the tasks' steps, logout per session.

    Times become UTC with ``period``'s offsets; resource code ``n_resources`` means none;
    nothing is kept on or after a user's ``left`` day.
    """
    n_sess = sess["user"].size
    t_len = TPL_LEN[tasks["template"]]
    acts = np.bincount(tasks["session"], weights=t_len, minlength=n_sess).astype(np.int64)
    act_start = np.cumsum(acts) - acts
    failed = rng.random(n_sess) < sess["fail"]
    per_sess = acts + 2 + failed
    off = np.cumsum(per_sess) - per_sess
    total = int(per_sess.sum())
    action = np.empty(total, dtype=np.int8)
    resource = np.full(total, n_resources, dtype=np.int32)  # the null entry
    ok = np.ones(total, dtype=bool)
    ts = np.empty(total, dtype=np.int64)
    start, end = sess["start"], sess["end"]
    # logins (a mistyped password first, now and then), logouts
    pos = off[failed]
    action[pos], ok[pos] = ACTION_CODE["login"], False
    ts[pos] = start[failed] - rng.integers(5_000_000, 120_000_000, pos.size)
    action[off + failed], ts[off + failed] = ACTION_CODE["login"], start
    action[off + per_sess - 1], ts[off + per_sess - 1] = ACTION_CODE["logout"], end
    # actions: task steps in order, spread over the session (steps of a task close)
    task = np.repeat(np.arange(t_len.size), t_len)
    a_sess = tasks["session"][task]
    step = np.arange(task.size) - (np.cumsum(t_len) - t_len)[task]
    gaps = rng.exponential(1.0, task.size)
    gaps[step > 0] *= 0.1
    cum = np.concatenate(([0.0], np.cumsum(gaps)))
    del gaps
    before = cum[act_start]
    span = cum[act_start + acts] - before + rng.exponential(1.0, n_sess)
    frac = (cum[1:] - before[a_sess]) / span[a_sess]
    del cum
    pos = off[a_sess] + failed[a_sess] + 1 + (np.arange(task.size) - act_start[a_sess])
    action[pos] = TPL_ACT[tasks["template"][task], step]
    has_item = tasks["resource"][task] >= 0
    resource[pos[has_item]] = tasks["resource"][task][has_item]
    ok[pos] = ~tasks["fail"][task]
    ts[pos] = start[a_sess] + (frac * (end - start)[a_sess]).astype(np.int64)
    del pos, task, a_sess, step, frac
    ts //= 1000
    ts *= 1000  # logs keep milliseconds
    ev_sess = np.repeat(np.arange(n_sess, dtype=np.int32), per_sess)
    user = sess["user"].astype(np.int32)[ev_sess]
    ts -= period.utc_offset[sess["day"]][ev_sess]
    frame = pl.DataFrame({
        "ts": ts, "user": user, "action": action, "resource": resource,
        "host": sess["host"].astype(np.int32)[ev_sess],
        "ip": sess["ip"].astype(np.int32)[ev_sess], "ok": ok,
    })  # fmt: skip
    del ts, user, action, resource, ok, ev_sess
    # nothing on or after a leaver's last day (a late session may run past midnight)
    left_utc = left - period.utc_offset[-1]
    if (left_utc < NEVER).any():
        limit = pl.Series(np.where(left == NEVER, NEVER, left_utc)).gather(frame["user"])
        frame = frame.filter(frame["ts"] < limit)
    return frame.with_row_index("seq").sort(["ts", "seq"]).drop("seq")


def event_frame(
    f: pl.DataFrame, staff: People, resources: list[str], hosts: list[str], ips: list[str]
) -> pl.DataFrame:
    """Turn the integer-coded frame into the canonical event frame (codes index ``staff``,
    ``resources``, ``hosts`` and ``ips``)."""

    def lookup(values: Sequence[str | None], codes: pl.Series) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(codes)

    user = f["user"]
    n = f.height
    return pl.DataFrame({
        schema.EVENT_ID: pl.select(
            pl.lit("E")
            + (pl.int_range(n, dtype=pl.Int64) + 10**12).cast(pl.String).str.slice(1)
        ).to_series(),
        schema.USER_ID: lookup(list(staff.user_ids), user),
        schema.TIMESTAMP: f["ts"].cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        schema.ACTION_TYPE: lookup(list(ACTIONS), f["action"]),
        schema.RESOURCE_ID: lookup([*resources, None], f["resource"]),
        schema.HOST: lookup(list(hosts), f["host"]),
        schema.SRC_IP: lookup(list(ips), f["ip"]),
        schema.SUCCESS: f["ok"],
        schema.DEPARTMENT: lookup(DEPARTMENT_NAMES, pl.Series(staff.dept).gather(user)),
        schema.ROLE: lookup(ROLE_NAMES, pl.Series(staff.role).gather(user)),
    }).cast(pl.Schema(schema.EVENT_DTYPES))  # fmt: skip


def _sample(cum: F64, row: I64, u: F64) -> I64:
    """Draw one category per item from the cumulative weights ``cum[row]`` (vectorised).

    Row ``r`` occupies ``[r, r + 1)`` of one flat sorted array, so a single searchsorted
    serves every profile at once.
    """
    width = cum.shape[1]
    flat = (cum + np.arange(cum.shape[0])[:, None]).ravel()
    flat[width - 1 :: width] = np.arange(1, cum.shape[0] + 1)
    idx = np.searchsorted(flat, row + u, side="right") - row * width
    out: I64 = np.minimum(idx, width - 1).astype(np.int64)
    return out
