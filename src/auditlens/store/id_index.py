"""A process's index of every stored event id by its 64-bit hash: a duplicate check of ids
spread over the whole range (random UUIDs) reads only the parts that may hold one of them.

Part id ranges (store/id_ranges.py) prune the parts a check reads when ids rise over
time. Random ids meet every part's range, so each check read every stored id: O(lake)
per micro-batch, growing all day. The index keeps each stored id's hash (8 bytes) and
the part holding it (4 bytes), sorted, in a few runs of doubling size (a new part is a
small run; runs of similar size are merged, so adding costs O(log n) per id over time
and a lookup searches O(log n) runs). A check hashes its ids, finds the parts holding an
equal hash and reads only those parts' ids to confirm: a hash match is a candidate, never
the answer (two ids can share a hash). New ids read no part at all.

The hash is Polars' (stable within one Polars version: the index lives in one process
and is built from the lake by it). Parts committed by another process are added on the
next check; a compaction in this process renames its parts in the index; the ids of a
part no longer committed otherwise (another process compacted it) are dropped, and the
compacted part is read like any new one.

Example::

    index = IdIndex(lake)
    index.sync(["part-1.parquet"])            # reads the ids of parts it does not know
    parts, maybe = index.candidates(ids)      # the parts to read, the ids to look for
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

from auditlens.schema import EVENT_ID
from auditlens.store.lake import EventLake

#: Parts read at once while adding unknown parts (bounds the memory of a first build).
READ_PARTS: Final = 256
_PART_COLUMN: Final = "_part"


def id_hashes(ids: pl.Series) -> np.ndarray:
    """The index's hash of each id (nulls are never stored: callers drop them)."""
    return ids.cast(pl.String).hash().to_numpy()


class IdIndex:
    """Hashes of the stored event ids and the part holding each (module docstring)."""

    def __init__(self, lake: EventLake) -> None:
        self.lake = lake
        self._number: dict[str, int] = {}  # part -> its number in the runs
        self._names: list[str] = []
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted hashes, part numbers)
        #: A stream's compaction renames parts in another thread than its checks.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many ids the index holds."""
        return sum(len(hashes) for hashes, _ in self._runs)

    @property
    def runs(self) -> int:
        """How many sorted runs a lookup searches (O(log n))."""
        return len(self._runs)

    def add(self, part: str, ids: pl.Series) -> None:
        """Index the ids just written to ``part`` (nulls left out)."""
        hashes = id_hashes(ids.drop_nulls())
        with self._lock:
            if part in self._number:
                return
            number = self._register(part)
            self._push(hashes, np.full(len(hashes), number, dtype=np.int32))

    def rename(self, parts: list[str], part: str) -> None:
        """The ids of ``parts`` are now in ``part`` (a compaction moved them)."""
        with self._lock:
            old = [self._number.pop(p) for p in parts if p in self._number]
            if not old:
                return
            number = self._register(part)
            mapping = np.arange(len(self._names), dtype=np.int32)
            mapping[old] = number
            self._runs = [(hashes, mapping[where]) for hashes, where in self._runs]

    def sync(self, committed: Sequence[str]) -> None:
        """Make the index hold exactly the ids of ``committed`` parts: unknown parts are
        read (their ``event_id`` column only), the ids of parts no longer committed are
        dropped."""
        with self._lock:
            live = set(committed)
            gone = [p for p in self._number if p not in live]
            if gone:  # compacted by another process, or by this one a moment ago
                self._drop(gone)
            missing = [p for p in committed if p not in self._number]
            for start in range(0, len(missing), READ_PARTS):
                self._read(missing[start : start + READ_PARTS])

    def candidates(self, ids: pl.Series) -> tuple[list[str], pl.Series]:
        """The parts that may hold one of ``ids`` and those ids (equal hashes; a caller
        confirms by reading them)."""
        wanted = ids.drop_nulls().cast(pl.String)
        with self._lock:
            runs, names = list(self._runs), list(self._names)
        if wanted.len() == 0 or not runs:
            return [], wanted.clear()
        hashes = id_hashes(wanted)
        order = np.argsort(hashes)  # sorted queries walk each run in order (cache-friendly)
        queries = hashes[order]
        hit = np.zeros(len(queries), dtype=bool)
        numbers: list[np.ndarray] = []
        for run, parts in runs:
            left = np.searchsorted(run, queries, side="left")
            found = run[np.minimum(left, len(run) - 1)] == queries
            if not found.any():
                continue
            hit |= found
            right = np.searchsorted(run, queries[found], side="right")  # equal hashes
            starts, counts = left[found], right - left[found]
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            numbers.append(parts[np.repeat(starts, counts) + offsets])
        if not numbers:
            return [], wanted.clear()
        held = np.unique(np.concatenate(numbers))
        asked = np.zeros(len(hashes), dtype=bool)
        asked[order[hit]] = True
        return [names[int(n)] for n in held], wanted.filter(pl.Series(asked))

    # --- building ----------------------------------------------------------------------

    def _register(self, part: str) -> int:
        number = len(self._names)
        self._number[part] = number
        self._names.append(part)
        return number

    def _drop(self, parts: list[str]) -> None:
        """Forget the ids of ``parts`` (lock held)."""
        dead = np.zeros(len(self._names), dtype=bool)
        dead[[self._number.pop(p) for p in parts]] = True
        runs = []
        for hashes, where in self._runs:
            keep = ~dead[where]
            if len(hashes) and keep.any():
                runs.append((hashes[keep], where[keep]))
        self._runs = runs

    def _read(self, parts: list[str]) -> None:
        """Index the ids of ``parts`` (one scan; nulls left out)."""
        numbers = {str(self.lake.root / p): self._register(p) for p in parts}
        frame = (
            pl.scan_parquet(list(numbers), include_file_paths=_PART_COLUMN)
            .select(EVENT_ID, _PART_COLUMN)
            .drop_nulls(EVENT_ID)
            .collect()
        )
        where = frame.get_column(_PART_COLUMN).replace_strict(numbers, return_dtype=pl.Int32)
        self._push(id_hashes(frame.get_column(EVENT_ID)), where.to_numpy())

    def _push(self, hashes: np.ndarray, parts: np.ndarray) -> None:
        """Add a run; merge the last runs while the newer is at least half the older."""
        if len(hashes) == 0:
            return
        order = np.argsort(hashes, kind="stable")
        self._runs.append((hashes[order], parts[order]))
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            (h2, p2), (h1, p1) = self._runs.pop(), self._runs.pop()
            hashes, parts = np.concatenate([h1, h2]), np.concatenate([p1, p2])
            order = np.argsort(hashes, kind="stable")  # two sorted runs: a merge
            self._runs.append((hashes[order], parts[order]))
