"""Possible log tampering: change-log updates and deletes of access events.

The store never applies them. Each becomes a finding that keeps the copy auditlens
ingested next to what the customer's table holds now, because someone editing or
deleting access logs is itself something an auditor must see.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditlens.schema import EVENT_ID, LOCATION

FINDING_SCHEMA: Final[dict[str, pl.DataType]] = {
    "kind": pl.String(),
    "change_id": pl.Int64(),
    "table_name": pl.String(),
    "row_key": pl.String(),
    "op": pl.String(),
    "changed_at": pl.Datetime("us", "UTC"),
    "event_id": pl.String(),
    "stored_copy": pl.String(),
    "current_row": pl.String(),
}

#: Finding kinds, from the change-log operation and whether auditlens holds the event.
UPDATE_OF_INGESTED: Final = "update_of_ingested_event"
DELETE_OF_INGESTED: Final = "delete_of_ingested_event"
CHANGE_BEFORE_INGESTION: Final = "changed_before_ingestion"
DELETED_BEFORE_INGESTION: Final = "deleted_before_ingestion"
#: A delivered row reuses an event id of its scope (source, or file) with other content.
EVENT_ID_REUSED: Final = "event_id_reused"

#: What each finding kind means, for a person: kind -> (English, Korean). The stored
#: ``kind`` stays the code; lists and reports show :func:`finding_label`.
FINDING_LABELS: Final[dict[str, tuple[str, str]]] = {
    UPDATE_OF_INGESTED: (
        "an ingested event was changed in the source table",
        "수집한 이벤트가 원본 테이블에서 수정됨",
    ),
    DELETE_OF_INGESTED: (
        "an ingested event was deleted from the source table",
        "수집한 이벤트가 원본 테이블에서 삭제됨",
    ),
    CHANGE_BEFORE_INGESTION: (
        "an event was changed before auditlens ingested it",
        "auditlens가 수집하기 전에 이벤트가 변경됨",
    ),
    DELETED_BEFORE_INGESTION: (
        "an event was deleted before auditlens ingested it",
        "auditlens가 수집하기 전에 이벤트가 삭제됨",
    ),
    EVENT_ID_REUSED: (
        "an event id was reused with different content",
        "같은 이벤트 ID가 다른 내용으로 다시 쓰임",
    ),
}


def finding_label(kind: str, lang: str) -> str:
    """A finding kind in words, in ``lang`` (an unknown kind is shown as its code).

    >>> finding_label("delete_of_ingested_event", "ko")
    '수집한 이벤트가 원본 테이블에서 삭제됨'
    """
    en, ko = FINDING_LABELS.get(kind, (kind, kind))
    return ko if lang == "ko" else en


def reuse_findings(reused: pl.DataFrame) -> pl.DataFrame:
    """One finding per row that reused an event id with different content.

    Args:
        reused: ``duplicates.REUSED_SCHEMA`` rows (event_id, _location, first_at,
            stored_copy, current_row).

    Returns:
        ``FINDING_SCHEMA`` rows of kind ``event_id_reused``: ``row_key`` is where the
        new row came from, ``stored_copy`` the event first seen with the id.
    """
    return reused.select(
        pl.lit(EVENT_ID_REUSED).alias("kind"),
        pl.lit(None, pl.Int64).alias("change_id"),
        pl.lit(None, pl.String).alias("table_name"),
        pl.col(LOCATION).alias("row_key"),
        pl.lit("reuse").alias("op"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("changed_at"),
        pl.col(EVENT_ID),
        pl.col("stored_copy"),
        pl.col("current_row"),
    ).select([pl.col(name).cast(dtype) for name, dtype in FINDING_SCHEMA.items()])


def tamper_findings(changes: pl.DataFrame | None, stored: pl.DataFrame) -> pl.DataFrame:
    """Turn change-log updates/deletes into findings.

    Args:
        changes: rows with change_id, table_name, row_key, op (update, delete,
            insert_missing), changed_at, event_id, current_row; None = no changes.
        stored: the ingested events the changes name, matched by ``event_id`` or, when
            the change has none (the customer's own id column went with the row), by
            ``_location`` (canonical columns).

    Returns:
        One finding per change (``FINDING_SCHEMA``); none is ever dropped.
    """
    if changes is None or changes.height == 0:
        return pl.DataFrame(schema=FINDING_SCHEMA)
    copies = stored.select(
        pl.col(EVENT_ID).cast(pl.String),
        pl.col(LOCATION).cast(pl.String),
        pl.struct(pl.exclude(LOCATION).cast(pl.String), pl.col(LOCATION))
        .struct.json_encode()
        .alias("stored_copy"),
    )
    by_id = copies.unique(EVENT_ID, keep="first").select(EVENT_ID, "stored_copy")
    # a deleted row's own event id is gone with it: fall back to where it came from
    by_place = copies.unique(LOCATION, keep="first").select(
        LOCATION,
        pl.col("stored_copy").alias("_copy_by_place"),
        pl.col(EVENT_ID).alias("_id_by_place"),
    )
    changes = changes.with_columns(pl.col(EVENT_ID).cast(pl.String))
    if LOCATION not in changes.columns:
        changes = changes.with_columns(pl.lit(None, pl.String).alias(LOCATION))
    joined = (
        changes.join(by_id, on=EVENT_ID, how="left")
        .join(by_place, on=LOCATION, how="left")
        .with_columns(
            pl.coalesce("stored_copy", "_copy_by_place").alias("stored_copy"),
            pl.coalesce(EVENT_ID, "_id_by_place").alias(EVENT_ID),
        )
    )
    held = pl.col("stored_copy").is_not_null()
    op = pl.col("op")
    kind = (
        pl.when(op == "insert_missing")
        .then(pl.lit(DELETED_BEFORE_INGESTION))
        .when(held & (op == "update"))
        .then(pl.lit(UPDATE_OF_INGESTED))
        .when(held & (op == "delete"))
        .then(pl.lit(DELETE_OF_INGESTED))
        .otherwise(pl.lit(CHANGE_BEFORE_INGESTION))
    )
    return joined.with_columns(kind.alias("kind")).select(
        [pl.col(name).cast(dtype) for name, dtype in FINDING_SCHEMA.items()]
    )
