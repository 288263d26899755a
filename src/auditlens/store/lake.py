"""The Parquet event lake: immutable part files, made visible only by a committed batch.

A part is written to a temporary name, fsynced and renamed into place *before* the
SQL transaction that records it commits. A crash in between leaves an orphan file that
no committed batch references; readers never see it and the next writer removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from auditlens.errors import StoreError
from auditlens.schema import EVENT_DTYPES, LOCATION

PART_GLOB = "part-*.parquet"


class EventLake:
    """A directory of Parquet parts holding validated events."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write_part(self, events: pl.DataFrame) -> str:
        """Write ``events`` atomically as a new part; return its file name."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = self.root / f".tmp-{name}"
        events.write_parquet(tmp, compression="zstd", statistics=True)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / name)
        _fsync_dir(self.root)
        return name

    def discard(self, name: str) -> None:
        """Remove a part whose batch did not commit."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / name).unlink()

    def scan(self, parts: Iterable[str]) -> pl.LazyFrame:
        """Lazily read the given committed parts (an empty frame when there are none)."""
        paths = [str(self.root / p) for p in parts]
        if not paths:
            return pl.LazyFrame(schema={**EVENT_DTYPES, LOCATION: pl.String()})
        return pl.scan_parquet(paths)

    def remove_orphans(self, committed: Iterable[str]) -> list[str]:
        """Delete parts (and temporary files) no committed batch references."""
        if not self.root.exists():
            return []
        keep = set(committed)
        removed = []
        for path in [*self.root.glob(PART_GLOB), *self.root.glob(".tmp-part-*")]:
            if path.name not in keep:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return sorted(removed)

    @contextlib.contextmanager
    def writer_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the single-writer lock of this lake (one ingestion at a time)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".writer.lock").open("w") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"another ingestion holds {self.root}/.writer.lock",
                            hint="wait for it to finish, then run again",
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
