"""Helpers shared by the file-source tests: read a file's one batch, or why it was not read."""

from __future__ import annotations

import json
from pathlib import Path

from auditlens.sources.base import UNREADABLE, Batch
from auditlens.sources.files import FileSource


def read_one(path: Path | str, **kwargs: object) -> Batch:
    """The one batch of ``path``; a last line without a line end counts as final."""
    kwargs.setdefault("settle_seconds", 0)
    batches = list(FileSource(path, **kwargs).read())  # type: ignore[arg-type]
    assert len(batches) == 1
    return batches[0]


def unreadable(path: Path | str, **kwargs: object) -> str:
    """The reason a single file was not read (it comes back as an unreadable batch)."""
    batch = read_one(path, **kwargs)
    assert batch.events.height == 0 and batch.rejected is not None
    assert batch.rejected.rows() == [
        (str(path), f"file could not be read: {batch.metadata[UNREADABLE]}", "")
    ]
    assert json.loads(batch.watermark.value)["files"] == {}  # not read: tried again next time
    return batch.metadata[UNREADABLE]
