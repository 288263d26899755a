"""Event ids in their scope: rows repeating an earlier or stored event, and reused ids.

A row repeating an event id of its scope (the source, or the file with ``id_scope =
"file"``) with identical content is a *duplicate* (a re-delivered export); with
different content it is a *reuse*, a possible log tampering that validate.py quarantines
and the ingestion records as a finding. Both work on the typed batch validate.py builds
(``ROW`` = the row's position, ``KEY`` = the id in its scope).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import polars as pl

from auditlens.schema import EVENT_COLUMNS, EVENT_DTYPES, EVENT_ID, LOCATION

#: Column of a row's position in the batch.
ROW = "__row"
#: Column of the key an id must be unique under (see :func:`scoped_key`).
KEY = "__key"
_HASH = "__content"

#: How far an ``event_id`` is unique: within the source, or within each file of it
#: (exports whose ids restart at 1 in every file).
IdScope = Literal["source", "file"]

#: The stored event ids: all of them, or a function returning those of the given ids
#: that are stored (the store answers for one batch without loading every id).
KnownIds = pl.Series | Callable[[pl.Series], pl.Series]

#: Column of a ``stored`` lookup's frame: the stored event came from the same source.
IN_SCOPE = "_in_scope"

#: Columns of ``ValidationResult.reused``: a row repeating a stored (or earlier) event's id
#: with different content, next to that event.
REUSED_SCHEMA: dict[str, pl.DataType] = {
    EVENT_ID: pl.String(),
    LOCATION: pl.String(),
    "first_at": pl.String(),
    "stored_copy": pl.String(),
    "current_row": pl.String(),
}


def _ids(typed: pl.DataFrame) -> pl.DataFrame:
    return typed.select(ROW, LOCATION, EVENT_ID).filter(pl.col(EVENT_ID).is_not_null())


#: A ``_location``'s file: everything before ``:<line>`` (CSV, JSON Lines), ``#row=<n>``
#: (Parquet) or ``:<sheet>:row <n>`` (Excel; a sheet name cannot hold ``:``).
_FILE_OF = r"(:\d+|#row=\d+|:[^:]*:row \d+)$"


def _file_of(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.replace(_FILE_OF, "")


def scoped_key(id_scope: IdScope) -> pl.Expr:
    """The key an id must be unique under: the id, or the file and the id."""
    if id_scope == "file":
        return pl.concat_str([_file_of(LOCATION), pl.col(EVENT_ID)], separator="\x1f").alias(KEY)
    return pl.col(EVENT_ID).alias(KEY)


def _content_hash() -> pl.Expr:
    """A hash of everything an event says except its id (same dtypes on both sides)."""
    columns = [pl.col(c).cast(EVENT_DTYPES[c], strict=False) for c in EVENT_COLUMNS]
    return pl.struct(columns[1:]).hash().alias(_HASH)


def _no_rows() -> pl.DataFrame:
    return pl.DataFrame(schema={ROW: pl.UInt32, "reason": pl.String})


def _no_reuse() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            ROW: pl.UInt32,
            "reason": pl.String,
            "first_at": pl.String,
            "stored_copy": pl.String,
        }
    )


def _reuse_reason(first_at: pl.Expr, *, stored: bool) -> pl.Expr:
    if not stored:
        text = "event_id {} repeated with different content (first at {}): possible log tampering"
    else:
        text = (
            "event_id {} was already ingested with different content (at {}): possible log "
            "tampering, see the findings (if ids restart in every file, set id_scope = 'file')"
        )
    return pl.format(text, EVENT_ID, first_at).alias("reason")


def batch_duplicates(
    typed: pl.DataFrame, broken: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Later rows repeating an id (in its scope) seen earlier in the same batch.

    Returns (duplicates with reasons, reuses): a repeat with identical content is a
    duplicate; one with different content a reuse (possible tampering).
    """
    # Sorted 64-bit hashes of the keys show quickly whether any key repeats, and which
    # hashes do: only keys with such a hash can repeat (a hash collision merely adds a
    # candidate), so the exact check below runs on those rows alone.
    keys = typed.get_column(KEY)
    hashes = keys.hash()
    present = hashes if keys.null_count() == 0 else hashes.filter(keys.is_not_null())
    ordered = present.sort()
    same = ordered.slice(1) == ordered.slice(0, max(ordered.len() - 1, 0))
    if not same.any():
        return _no_rows(), _no_reuse()
    repeating = ordered.slice(1).filter(same)
    # content is hashed for these few rows only (hashing every row costs time)
    candidates = typed.filter(keys.is_not_null() & hashes.is_in(repeating.implode())).select(
        ROW, LOCATION, EVENT_ID, KEY, _content_hash()
    )
    repeated = candidates.filter(pl.col(KEY).is_duplicated())
    first = repeated.group_by(KEY).agg(
        pl.col(LOCATION).sort_by(ROW).first().alias("first_at"),
        pl.col(_HASH).sort_by(ROW).first().alias("first_hash"),
    )
    later = repeated.filter(~pl.col(KEY).is_first_distinct()).join(first, on=KEY, how="left")
    differs = (pl.col(_HASH) != pl.col("first_hash")) & ~pl.col(ROW).is_in(
        broken.get_column(ROW).implode()
    )
    duplicates = later.filter(~differs).select(
        ROW,
        pl.format("duplicate event_id {} (first at {})", EVENT_ID, "first_at").alias("reason"),
    )
    reuses = later.filter(differs).select(
        ROW,
        _reuse_reason(pl.col("first_at"), stored=False),
        "first_at",
        pl.lit(None, pl.String).alias("stored_copy"),
    )
    return duplicates, reuses


def stored_duplicates(
    typed: pl.DataFrame,
    known_ids: KnownIds | None,
    stored: Callable[[pl.Series], pl.DataFrame] | None,
    id_scope: IdScope,
    broken: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows repeating an already-stored event (duplicates) or its id (reuses)."""
    if known_ids is None:
        return _no_rows(), _no_reuse()
    ids = _ids(typed)
    if callable(known_ids):  # ask the store about this batch's ids only
        known_ids = known_ids(ids.get_column(EVENT_ID))
    if known_ids.len() == 0:
        return _no_rows(), _no_reuse()
    if known_ids.dtype == pl.String:  # a hash semi-join (row order does not matter here)
        known = known_ids.drop_nulls().alias(EVENT_ID).to_frame()
        hits = ids.join(known, on=EVENT_ID, how="semi")
    else:
        hits = ids.filter(pl.col(EVENT_ID).is_in(known_ids.implode()))
    reason = pl.format("duplicate event_id {} (already ingested)", EVENT_ID).alias("reason")
    if stored is None or hits.height == 0:
        return hits.select(ROW, reason), _no_reuse()
    found = stored(hits.get_column(EVENT_ID).unique())
    copies = found.select(
        pl.col(EVENT_ID).cast(pl.String),
        pl.col(LOCATION).cast(pl.String).alias("first_at"),
        pl.col(IN_SCOPE),
        _content_hash().alias("stored_hash"),
        pl.struct(pl.exclude(LOCATION, IN_SCOPE).cast(pl.String), pl.col(LOCATION))
        .struct.json_encode()
        .alias("stored_copy"),
    )
    hashed = typed.filter(pl.col(ROW).is_in(hits.get_column(ROW).implode()))
    pairs = hits.join(hashed.select(ROW, _content_hash()), on=ROW).join(
        copies, on=EVENT_ID, how="inner"
    )
    identical = pairs.filter(pl.col(_HASH) == pl.col("stored_hash")).get_column(ROW).unique()
    in_scope = pl.col(IN_SCOPE)
    if id_scope == "file":
        in_scope = in_scope & (_file_of(LOCATION) == _file_of("first_at"))
    conflicts = (
        pairs.filter(~pl.col(ROW).is_in(identical.implode()), in_scope)
        .filter(~pl.col(ROW).is_in(broken.get_column(ROW).implode()))
        .unique(ROW, keep="first", maintain_order=True)
    )
    duplicates = hits.filter(pl.col(ROW).is_in(identical.implode())).select(ROW, reason)
    reuses = conflicts.select(
        ROW, _reuse_reason(pl.col("first_at"), stored=True), "first_at", "stored_copy"
    )
    return duplicates, reuses


def reused_frame(frame: pl.DataFrame, reuses: pl.DataFrame) -> pl.DataFrame:
    """``REUSED_SCHEMA`` rows: each reuse with the row as it arrived (raw values, JSON)."""
    if reuses.height == 0:
        return pl.DataFrame(schema=REUSED_SCHEMA)
    raw_cols = [c for c in frame.columns if c not in (ROW, LOCATION)]
    rows = frame.select(
        pl.col(ROW).cast(pl.UInt32),
        pl.col(EVENT_ID).cast(pl.String)
        if EVENT_ID in frame.columns
        else pl.lit(None, pl.String).alias(EVENT_ID),
        pl.col(LOCATION).cast(pl.String),
        pl.struct([pl.col(c).cast(pl.String) for c in raw_cols])
        .struct.json_encode()
        .alias("current_row"),
    )
    # a repeat within the batch is set beside the batch's first row with that id
    firsts = rows.select(
        pl.col(LOCATION).alias("first_at"), pl.col("current_row").alias("_first_row")
    ).unique("first_at", keep="first")
    joined = (
        reuses.join(rows, on=ROW, how="left")
        .join(firsts, on="first_at", how="left")
        .with_columns(pl.coalesce("stored_copy", "_first_row").alias("stored_copy"))
        .sort(ROW)
    )
    return joined.select([pl.col(n).cast(t) for n, t in REUSED_SCHEMA.items()])
