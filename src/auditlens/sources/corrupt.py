"""Damage a copy of an event export the ways real exports break, to exercise quarantine.

Used by the demo and the tests: bad timestamps, missing user ids, duplicate event ids,
timestamps in the future, and a truncated last line.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from auditlens.errors import AuditlensError
from auditlens.schema import EVENT_ID, TIMESTAMP, USER_ID

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The wall clock in UTC: the default clock, replaced by a fixed one in tests."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Corruption:
    """How many rows of each kind were damaged (the truncated line is always one)."""

    rows: int
    bad_timestamps: int
    missing_users: int
    duplicate_ids: int
    future_timestamps: int
    truncated_last_line: bool = True

    @property
    def damaged(self) -> int:
        """Rows that must end in quarantine."""
        return (
            self.bad_timestamps
            + self.missing_users
            + self.duplicate_ids
            + self.future_timestamps
            + int(self.truncated_last_line)
        )


def write_corrupted_csv(
    events: pl.DataFrame,
    out: Path,
    *,
    each: int = 5,
    seed: int = 0,
    rename: dict[str, str] | None = None,
    clock: Clock = utc_now,
) -> Corruption:
    """Write ``events`` as CSV with ``each`` rows damaged per kind and the last line cut.

    ``rename`` renames canonical columns (to mimic a customer's export); future timestamps
    are 400 days after ``clock()``.
    """
    if events.height < 4 * each + 2:
        # reachable from `auditlens demo` with a very small sample: an error a person reads
        raise AuditlensError(
            f"need at least {4 * each + 2} events to damage, got {events.height}",
            hint="generate a larger sample (more users or days)",
            ko=f"손상시킬 이벤트가 {4 * each + 2:,}건 이상 필요한데 {events.height:,}건뿐입니다",
            ko_hint="사용자나 일수를 늘려 더 큰 샘플을 만드십시오",
        )
    rng = np.random.default_rng(seed)
    picks = rng.choice(events.height - 1, size=4 * each, replace=False)
    bad_ts, no_user, dup, future = (
        set(picks[i * each : (i + 1) * each].tolist()) for i in range(4)
    )
    text = events.with_columns(pl.col(TIMESTAMP).dt.to_string("%Y-%m-%dT%H:%M:%S%:z"))
    text = text.with_row_index("__i").with_columns(
        pl.when(pl.col("__i").is_in(sorted(bad_ts)))
        .then(pl.lit("31/02/2026 25:61"))
        .when(pl.col("__i").is_in(sorted(future)))
        .then(pl.lit((clock() + dt.timedelta(days=400)).isoformat()))
        .otherwise(pl.col(TIMESTAMP))
        .alias(TIMESTAMP),
        pl.when(pl.col("__i").is_in(sorted(no_user)))
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col(USER_ID))
        .alias(USER_ID),
        # a duplicate repeats the id of the row before it (which stays valid)
        pl.when(pl.col("__i").is_in(sorted(dup)))
        .then(pl.col(EVENT_ID).shift(1))
        .otherwise(pl.col(EVENT_ID))
        .alias(EVENT_ID),
    )
    text = text.drop("__i")
    if rename:
        text = text.rename(rename)
    body = text.write_csv()
    # cut the final line in half: an export interrupted mid-write
    last_start = body.rstrip("\n").rfind("\n") + 1
    body = body[: last_start + (len(body) - last_start) // 2]
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    # A finished export (not one still being written): its cut last line is final, so a
    # file source quarantines it instead of waiting for the rest of the line.
    settled = out.stat().st_mtime - 3600
    os.utime(out, (settled, settled))
    return Corruption(
        rows=events.height,
        bad_timestamps=len(bad_ts),
        missing_users=len(no_user),
        duplicate_ids=len(dup),
        future_timestamps=len(future),
    )
