"""The Source plug-in point: read raw event batches, each with the watermark after it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from auditlens.schema import Watermark
from auditlens.vocabulary import ValueRules

__all__ = [
    "STREAM",
    "UNREADABLE",
    "Batch",
    "Source",
    "Watermark",
    "rejected_frame",
    "unreadable_batch",
]


@dataclass(frozen=True)
class Batch:
    """One unit of ingestion, stored atomically together with its watermark.

    ``events`` has canonical column names (any subset; values still raw, often strings)
    plus ``_location`` naming each row's origin. ``changes`` lists change-log updates
    and deletes of rows (see ``sources.sql.CHANGE_COLUMNS``) that the store must not
    apply but record as possible log tampering. ``label`` names the batch for humans.
    """

    events: pl.DataFrame
    watermark: Watermark
    label: str = ""
    changes: pl.DataFrame | None = None
    #: Rows the source itself could not turn into events (e.g. a truncated last line):
    #: columns ``_location``, ``reason``, ``raw``. They are quarantined, never dropped.
    rejected: pl.DataFrame | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class Source(ABC):
    """A place events come from. ``read`` yields batches newer than ``since``."""

    #: Stable name under which the store keeps this source's watermark.
    name: str
    #: Where an ``event_id`` is unique: ``"source"``, or ``"file"`` for exports whose ids
    #: restart in every file (then the same id in another file is another event).
    id_scope: str = "source"
    #: How ``validate.py`` reads this source's values (value map, unknown actions, date
    #: order, DST); sources built from configuration set their own.
    rules: ValueRules = ValueRules()

    @abstractmethod
    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield batches in order; each batch's watermark covers it and all before it."""

    def committed(self, batch: Batch, quarantined: pl.DataFrame) -> None:  # noqa: B027
        """Called once ``batch`` is committed to the store, before the next one is read,
        with the rows quarantined from it (``_location``, ``reason``, ``raw``).

        A source may tell its origin here (a stream's informational offset commit, a
        dead-letter topic). What it does here is at least once: a crash after the store's
        commit and before this call runs leaves it undone. The default does nothing.
        """


REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "_location": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}


def rejected_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """Build a ``Batch.rejected`` frame from (location, reason, raw) tuples."""
    return pl.DataFrame(rows, schema=REJECTED_SCHEMA, orient="row")


#: ``Batch.metadata`` key marking a stream's micro-batch: it is committed (its rows
#: quarantined) even when not one row is valid, as one bad message must not stop a stream.
STREAM = "stream"

#: ``Batch.metadata`` key marking a batch that stands for a file the source could not read.
UNREADABLE = "unreadable"


def unreadable_batch(location: str, reason: str, watermark: Watermark) -> Batch:
    """A batch standing for one file that could not be read at all.

    It has no events and one rejected entry locating the file with ``reason`` (so the
    file is quarantined, counted and reported, and the run goes on). ``watermark`` must
    not cover the file: it is tried again on the next run, e.g. after its column
    mapping or permissions were fixed.
    """
    return Batch(
        events=pl.DataFrame(schema={"_location": pl.String()}),
        watermark=watermark,
        label=location,
        rejected=rejected_frame([(location, f"file could not be read: {reason}", "")]),
        metadata={UNREADABLE: reason},
    )
