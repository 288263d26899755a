"""The Parquet event lake: immutable part files, made visible only by a committed batch.

A lake belongs to exactly one store. Its directory holds ``.store-id`` naming the store
(the store holds the same id and where its lake is), so a store never reads, writes or
cleans up another store's lake (``Store`` checks this before using it).

A part's name is recorded in the store as *pending* before the part is written; the part
is written to a temporary name, fsynced and renamed into place, then the SQL transaction
that records the batch (and removes the pending row) commits. A crash in between leaves a
pending part that no committed batch references: readers never see it and the next
ingestion deletes it. Nothing else is ever deleted: a file the store did not itself write
and abandon is left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from auditlens.schema import EVENT_DTYPES, LOCATION

if TYPE_CHECKING:
    from auditlens.store.segments import Slice

PART_GLOB = "part-*.parquet"
#: File in the lake directory naming the store the lake belongs to.
IDENTITY_FILE = ".store-id"
_HASH_CHUNK = 1 << 20


class EventLake:
    """A directory of Parquet parts holding validated events."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        """Where this lake is: ``host:/absolute/path`` (two machines never share one)."""
        return f"{socket.gethostname()}:{self.root.resolve()}"

    @staticmethod
    def new_part_name() -> str:
        """A fresh, unique part file name."""
        return f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"

    def write_part(self, events: pl.DataFrame, name: str | None = None) -> str:
        """Write ``events`` atomically as part ``name`` (default: a new name); return it."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = name or self.new_part_name()
        tmp = self.root / f".tmp-{name}"
        events.write_parquet(tmp, compression="zstd", statistics=True)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / name)
        _fsync_dir(self.root)
        return name

    def sha256(self, name: str) -> str | None:
        """The sha256 of part ``name`` as it is on disk now (None when it is missing)."""
        digest = hashlib.sha256()
        try:
            with (self.root / name).open("rb") as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def read_hashed(self, name: str) -> tuple[str, bytes] | None:
        """Part ``name``'s sha256 and its bytes, from one read (None when it is missing):
        a caller that checks the hash then parses these bytes reads what it checked."""
        try:
            data = (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        return hashlib.sha256(data).hexdigest(), data

    def discard(self, name: str) -> None:
        """Remove a part (and its temporary file) whose batch did not commit."""
        for path in (self.root / name, self.root / f".tmp-{name}"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def scan(self, parts: Iterable[str]) -> pl.LazyFrame:
        """Lazily read the given committed parts (an empty frame when there are none)."""
        paths = [str(self.root / p) for p in parts]
        if not paths:
            return pl.LazyFrame(schema={**EVENT_DTYPES, LOCATION: pl.String()})
        return pl.scan_parquet(paths)

    def scan_slices(self, slices: Sequence[Slice]) -> pl.LazyFrame:
        """Lazily read the given file slices, in order (whole files in one scan each run
        of them; a slice of a compacted file as its rows)."""
        frames: list[pl.LazyFrame] = []
        whole: list[str] = []
        for piece in slices:
            if piece.whole:
                whole.append(piece.part)
                continue
            if whole:
                frames.append(self.scan(whole))
                whole = []
            frames.append(self.scan([piece.part]).slice(piece.start, piece.rows))
        if whole or not frames:
            frames.append(self.scan(whole))
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")

    def part_files(self) -> list[str]:
        """Names of the part files in the lake directory."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.glob(PART_GLOB))

    # --- identity ------------------------------------------------------------------------

    def identity(self) -> dict[str, Any] | None:
        """The content of ``.store-id`` (None when the lake is not bound to a store)."""
        path = self.root / IDENTITY_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"store_id": f"(unreadable {path})"}
        return data if isinstance(data, dict) else {"store_id": f"(unreadable {path})"}

    def write_identity(self, store_id: str, store: str) -> None:
        """Bind the lake to a store: write ``.store-id`` atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"store_id": store_id, "store": store, "location": self.location})
        tmp = self.root / f".tmp-{IDENTITY_FILE[1:]}-{uuid.uuid4().hex[:8]}"
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / IDENTITY_FILE)
        _fsync_dir(self.root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
