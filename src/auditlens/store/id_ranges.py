"""Each lake part's range of event ids, kept by the process: a duplicate check opens only
the parts whose range meets the checked ids.

Without it every check (every micro-batch of a stream) had Polars read the footer of
every part to prune by statistics: 0.08 s at 1,000 parts and 0.4 s at 5,000 (a stream
writes a part per micro-batch, several a second). Parts are written once and never
change, so a part's range is read once per process (its Parquet footer's statistics,
no data) or taken from the events as the part is written, and kept.

Ids that rise over time (sequences, time-ordered ids such as ULIDs) then check against
the newest parts only. Ids spread over the whole range (random UUIDs) meet every part's
range: those checks still read every part's ids.

Example::

    ranges = IdRanges(lake)
    ranges.add("part-1.parquet", events.get_column("event_id"))
    ranges.meeting(["part-1.parquet"], "E100", "E200")  # ['part-1.parquet'] or []
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl
import pyarrow.parquet as pq

from auditlens.schema import EVENT_ID
from auditlens.store.lake import EventLake

#: A part whose range cannot be told (no statistics): always read.
UNKNOWN: Final = "unknown"
#: A part without any id: never read.
EMPTY: Final = None

Range = tuple[str, str] | str | None  # (lowest, highest), UNKNOWN or EMPTY


class IdRanges:
    """Event-id ranges (lowest, highest) of lake parts (module docstring)."""

    def __init__(self, lake: EventLake) -> None:
        self.lake = lake
        self._ranges: dict[str, Range] = {}
        self._rows: dict[str, int] = {}

    def add(self, part: str, ids: pl.Series) -> None:
        """Keep the range of ``part`` from the ids written to it."""
        present = ids.drop_nulls().cast(pl.String)
        lo, hi = present.min(), present.max()
        self._ranges[part] = (str(lo), str(hi)) if present.len() else EMPTY
        self._rows[part] = ids.len()

    def rows(self, parts: Sequence[str]) -> int:
        """How many rows ``parts`` hold (of those whose range was read or added)."""
        return sum(self._rows.get(part, 0) for part in parts)

    def meeting(self, parts: Sequence[str], lo: str, hi: str) -> list[str]:
        """Those of ``parts`` that may hold an id from ``lo`` to ``hi`` (inclusive)."""
        for part in parts:
            if part not in self._ranges:
                self._ranges[part] = self._read(part)
        out = []
        for part in parts:
            found = self._ranges[part]
            if found == UNKNOWN or (isinstance(found, tuple) and found[0] <= hi and lo <= found[1]):
                out.append(part)
        return out

    def _read(self, part: str) -> Range:
        """The range in ``part``'s footer statistics (UNKNOWN when they don't tell)."""
        try:
            meta = pq.read_metadata(self.lake.root / part)
        except (OSError, ValueError):  # unreadable here: let the scan say what is wrong
            return UNKNOWN
        self._rows[part] = meta.num_rows
        if meta.num_rows == 0:
            return EMPTY
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if EVENT_ID not in names:
            return UNKNOWN
        column = names.index(EVENT_ID)
        lows: list[str] = []
        highs: list[str] = []
        for group in range(meta.num_row_groups):
            chunk = meta.row_group(group)
            if chunk.num_rows == 0:
                continue
            stats = chunk.column(column).statistics
            if stats is None or not stats.has_min_max:
                if stats is not None and stats.null_count == chunk.num_rows:
                    continue  # only nulls: no id to meet
                return UNKNOWN
            if not isinstance(stats.min, str) or not isinstance(stats.max, str):
                return UNKNOWN
            lows.append(stats.min)
            highs.append(stats.max)
        return (min(lows), max(highs)) if lows else EMPTY
