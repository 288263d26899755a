"""Coerce a raw batch to the canonical event schema and split valid rows from bad ones.

Every input row ends up in exactly one of ``valid`` or ``quarantined``; a quarantined
row carries its location (file + line, table + key), every reason it failed, and its
raw values as JSON so an auditor can see what arrived.

Example::

    >>> result = validate(raw, timezone="Asia/Seoul", now=clock())
    >>> result.ingested == result.accepted + result.rejected
    True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from auditlens.schema import (
    ACTION_TYPE,
    EVENT_COLUMNS,
    EVENT_DTYPES,
    EVENT_ID,
    LOCATION,
    REQUIRED_COLUMNS,
    SUCCESS,
    TIMESTAMP,
    TIMESTAMP_DTYPE,
    event_schema,
)

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    LOCATION: pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}

#: Naive formats tried in order (after ISO normalisation); naive = configured zone.
NAIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
)
#: Formats with a UTC offset (``Z`` is normalised to ``+00:00``).
AWARE_FORMATS: tuple[str, ...] = ("%Y-%m-%dT%H:%M:%S%#z", "%Y-%m-%dT%H:%M:%S%.f%#z")
TIMESTAMP_HINT = "expected ISO 8601 like 2026-09-01T09:00:00+09:00, or MM/DD/YYYY HH:MM:SS"

_TRUE = ("true", "t", "1", "yes", "y", "ok", "success", "succeeded")
_FALSE = ("false", "f", "0", "no", "n", "fail", "failed", "failure")

_ROW = "__row"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome for one batch: valid events and quarantined rows with reasons."""

    valid: pl.DataFrame
    quarantined: pl.DataFrame
    #: Quarantined rows whose only fault is repeating an already-stored event (a
    #: re-delivered export): well-formed, just not new.
    redundant: int = 0

    @property
    def accepted(self) -> int:
        """Rows that passed."""
        return self.valid.height

    @property
    def rejected(self) -> int:
        """Rows sent to quarantine."""
        return self.quarantined.height

    @property
    def ingested(self) -> int:
        """Rows that came in (always accepted + rejected)."""
        return self.accepted + self.rejected


def validate(
    raw: pl.DataFrame,
    *,
    timezone: str,
    now: dt.datetime,
    future_tolerance: dt.timedelta = dt.timedelta(minutes=5),
    known_ids: pl.Series | None = None,
) -> ValidationResult:
    """Validate a raw batch (canonical column names, raw values, ``_location``).

    Args:
        raw: the source's rows; strings are parsed, typed columns are cast.
        timezone: zone in which naive timestamps are interpreted.
        now: the current time (from the caller's clock) for the future-timestamp check.
        future_tolerance: clock skew allowed before a timestamp counts as "in the future".
        known_ids: event ids already stored; a row repeating one is a duplicate.

    Returns:
        ``valid`` with the canonical dtypes plus ``_location``; ``quarantined`` with
        ``_location``, ``reason`` (all reasons, ``; ``-separated) and ``raw`` (JSON).
    """
    frame = raw.with_row_index(_ROW)
    if LOCATION not in frame.columns:
        frame = frame.with_columns(
            pl.format("row {}", pl.col(_ROW) + 1).alias(LOCATION).cast(pl.String)
        )
    typed, problems = _coerce(frame, timezone)
    problems.extend(_schema_problems(typed, now, future_tolerance, skip=problems))
    problems.append(_batch_duplicates(typed))
    broken = _collect(problems)
    stored_dups = _stored_duplicates(typed, known_ids)
    reasons = _collect([*problems, stored_dups])
    redundant = stored_dups.join(broken, on=_ROW, how="anti").height

    bad_rows = reasons.get_column(_ROW)
    valid = (
        typed.filter(~pl.col(_ROW).is_in(bad_rows.implode()))
        .select([*EVENT_COLUMNS, LOCATION])
        .cast(EVENT_DTYPES)  # type: ignore[arg-type]
    )
    raw_cols = [c for c in raw.columns if c != LOCATION]
    quarantined = (
        frame.join(reasons, on=_ROW, how="inner")
        .sort(_ROW)
        .select(
            pl.col(LOCATION).cast(pl.String),
            pl.col("reason"),
            pl.struct([pl.col(c).cast(pl.String) for c in raw_cols])
            .struct.json_encode()
            .alias("raw"),
        )
    )
    if valid.height + quarantined.height != raw.height:  # the invariant this module guarantees
        raise AssertionError(
            f"validation lost rows: {raw.height} in, {valid.height} valid + "
            f"{quarantined.height} quarantined"
        )
    return ValidationResult(valid=valid, quarantined=quarantined, redundant=redundant)


# --- coercion ---------------------------------------------------------------------------


def _coerce(frame: pl.DataFrame, timezone: str) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Cast every canonical column; report values that could not be read."""
    problems: list[pl.DataFrame] = []
    columns: list[pl.Series] = [frame.get_column(_ROW), frame.get_column(LOCATION)]
    for name in EVENT_COLUMNS:
        if name not in frame.columns:
            if name in REQUIRED_COLUMNS:
                problems.append(_all_rows(frame, f"{name}: column is missing from the input"))
            columns.append(pl.Series(name, [None] * frame.height, dtype=EVENT_DTYPES[name]))
            continue
        source = frame.get_column(name)
        if name == TIMESTAMP:
            series, failed = _parse_timestamps(source, timezone)
            hint = TIMESTAMP_HINT
        elif name == SUCCESS:
            series, failed = _parse_bool(source)
            hint = "expected true/false"
        else:
            series = _clean_text(source, lower=name == ACTION_TYPE)
            failed = None
            hint = ""
        if failed is not None and failed.any():
            bad = frame.filter(failed).select(
                _ROW,
                pl.format(
                    "{}: cannot read {} ({})",
                    pl.lit(name),
                    pl.col(name).cast(pl.String).map_elements(repr, return_dtype=pl.String),
                    pl.lit(hint),
                ).alias("reason"),
            )
            problems.append(bad.with_columns(pl.lit(name).alias("column")))
        columns.append(series.alias(name))
    return pl.DataFrame(columns), problems


def _clean_text(series: pl.Series, *, lower: bool) -> pl.Series:
    text = series.cast(pl.String).str.strip_chars()
    if lower:
        text = text.str.to_lowercase()
    return pl.select(pl.when(text.str.len_chars() == 0).then(None).otherwise(text)).to_series()


def _parse_bool(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    if series.dtype == pl.Boolean:
        return series, pl.Series([False] * series.len())
    text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    parsed = pl.select(
        pl.when(text.is_in(_TRUE))
        .then(True)
        .when(text.is_in(_FALSE))
        .then(False)
        .otherwise(None)
        .alias("v")
    ).to_series()
    failed = parsed.is_null() & text.is_not_null() & (text.str.len_chars() > 0)
    return parsed, failed


def _parse_timestamps(series: pl.Series, timezone: str) -> tuple[pl.Series, pl.Series]:
    """Parse to UTC; naive values are local to ``timezone``. Returns (parsed, failed)."""
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            local = series.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
            failed = local.is_null() & series.is_not_null()
            return local.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE), failed
        utc = series.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE)
        return utc, pl.Series([False] * series.len())
    if series.dtype == pl.Date:
        return _parse_timestamps(series.cast(pl.Datetime("us")), timezone)
    text = series.cast(pl.String).str.strip_chars()
    text = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    result = pl.Series(TIMESTAMP, [None] * text.len(), dtype=TIMESTAMP_DTYPE)
    has_offset = text.str.contains(r"T.*[+-]\d{2}:?\d{2}$")
    _fill(result, text, has_offset, AWARE_FORMATS, timezone=None)
    _fill(result, text, ~has_offset, NAIVE_FORMATS, timezone=timezone)
    failed = result.is_null() & text.is_not_null() & (text.str.len_chars() > 0)
    return result, failed.fill_null(False)


def _fill(
    result: pl.Series,
    text: pl.Series,
    mask: pl.Series,
    formats: Sequence[str],
    *,
    timezone: str | None,
) -> None:
    """Parse the still-empty rows under ``mask`` with each format in turn, in place."""
    for fmt in formats:
        todo = (result.is_null() & mask & text.is_not_null()).fill_null(False)
        if not todo.any():
            return
        index = todo.arg_true()
        parsed = text.gather(index).str.to_datetime(fmt, strict=False, time_unit="us")
        if timezone is not None:
            parsed = parsed.dt.replace_time_zone(
                timezone, ambiguous="earliest", non_existent="null"
            )
        parsed = parsed.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE)
        ok = parsed.is_not_null()
        result.scatter(index.filter(ok), parsed.filter(ok))


# --- schema and duplicates ----------------------------------------------------------------

_CHECK_WORDING = {"not_nullable": "is missing (required)"}


def _schema_problems(
    typed: pl.DataFrame,
    now: dt.datetime,
    future_tolerance: dt.timedelta,
    *,
    skip: list[pl.DataFrame],
) -> list[pl.DataFrame]:
    """Run the pandera schema; one problem row per (row, failed check)."""
    try:
        event_schema(now, future_tolerance).validate(typed.drop(_ROW, LOCATION), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    already = [p.select(_ROW, "column") for p in skip if "column" in p.columns]
    cases = cases.filter(pl.col("index").is_not_null()).select(
        pl.col("index").cast(pl.UInt32).alias(_ROW),
        pl.col("column").fill_null(""),
        pl.col("check"),
    )
    if already:
        cases = cases.join(pl.concat(already), on=[_ROW, "column"], how="anti")
    wording = pl.col("check").replace_strict(_CHECK_WORDING, default=pl.col("check"))
    reason = (
        pl.when(pl.col("column") == "")
        .then(pl.col("check"))
        .otherwise(pl.format("{}: {}", pl.col("column"), wording))
    )
    return [cases.select(_ROW, reason.alias("reason"))]


def _ids(typed: pl.DataFrame) -> pl.DataFrame:
    return typed.select(_ROW, LOCATION, EVENT_ID).filter(pl.col(EVENT_ID).is_not_null())


def _batch_duplicates(typed: pl.DataFrame) -> pl.DataFrame:
    """Later rows repeating an event_id seen earlier in the same batch."""
    # find the (usually zero) repeated ids first: the per-id grouping then stays tiny
    repeated = _ids(typed).filter(pl.col(EVENT_ID).is_duplicated())
    first = repeated.group_by(EVENT_ID).agg(
        pl.col(LOCATION).sort_by(_ROW).first().alias("first_at")
    )
    return (
        repeated.filter(~pl.col(EVENT_ID).is_first_distinct())
        .join(first, on=EVENT_ID, how="left")
        .select(
            _ROW,
            pl.format("duplicate event_id {} (first at {})", EVENT_ID, "first_at").alias("reason"),
        )
    )


def _stored_duplicates(typed: pl.DataFrame, known_ids: pl.Series | None) -> pl.DataFrame:
    """Rows repeating an event_id that is already stored."""
    if known_ids is None or known_ids.len() == 0:
        return pl.DataFrame(schema={_ROW: pl.UInt32, "reason": pl.String})
    return (
        _ids(typed)
        .filter(pl.col(EVENT_ID).is_in(known_ids.implode()))
        .select(
            _ROW, pl.format("duplicate event_id {} (already ingested)", EVENT_ID).alias("reason")
        )
    )


def _all_rows(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    return frame.select(_ROW, pl.lit(reason).alias("reason"))


def _collect(problems: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per bad input row, with all its distinct reasons in a stable order."""
    if not problems:
        return pl.DataFrame(schema={_ROW: pl.UInt32, "reason": pl.String})
    every = pl.concat([p.select(pl.col(_ROW).cast(pl.UInt32), "reason") for p in problems])
    return every.group_by(_ROW, maintain_order=True).agg(
        pl.col("reason").unique(maintain_order=True).str.join("; ")
    )
