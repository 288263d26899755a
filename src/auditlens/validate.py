"""Coerce a raw batch to the canonical event schema and split valid rows from bad ones.

Every input row ends up in exactly one of ``valid`` or ``quarantined``; a quarantined
row carries its location (file + line, table + key), every reason it failed, and its
raw values as JSON so an auditor can see what arrived.

Example::

    >>> raw = pl.DataFrame({
    ...     "timestamp": ["2026-09-01 09:00:00", "yesterday"],
    ...     "event_id": ["e1", "e2"],
    ...     "user_id": ["kim", "lee"],
    ...     "action_type": ["login", "login"],
    ...     LOCATION: ["in.csv:2", "in.csv:3"],
    ... })
    >>> result = validate(raw, timezone="Asia/Seoul", now=dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    >>> result.ingested == result.accepted + result.rejected
    True
    >>> result.valid["timestamp"].to_list()  # local time, stored in UTC
    [datetime.datetime(2026, 9, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
    >>> location, reason = result.quarantined.select(LOCATION, "reason").row(0)
    >>> location, reason.split(" (expected")[0]
    ('in.csv:3', "timestamp: cannot read 'yesterday'")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandera.polars as pa
import polars as pl

from auditlens.schema import (
    ACTION_PATTERN,
    ACTION_TYPE,
    DEPARTMENT,
    EARLIEST_TIMESTAMP,
    EVENT_COLUMNS,
    EVENT_DTYPES,
    EVENT_ID,
    LOCATION,
    REQUIRED_COLUMNS,
    ROLE,
    SUCCESS,
    TIMESTAMP,
    event_schema,
)
from auditlens.timestamps import ORDER_HINT, TOO_EARLY, parse_timestamps, refuse_day_month
from auditlens.vocabulary import FAILED_SUFFIX, ValueRules

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    LOCATION: pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}

#: Text whose first and last characters lie in ``[_FIRST_PRINTABLE, _DEL)`` needs no strip.
_FIRST_PRINTABLE = "!"
_DEL = "\x7f"

_ROW = "__row"
_REASON = "__reason"
_KEY = "__key"
_HASH = "__content"

#: How far an ``event_id`` is unique: within the source, or within each file of it
#: (exports whose ids restart at 1 in every file).
IdScope = Literal["source", "file"]

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
#: Unknown action values listed in a reason at most (the rest are counted).
_LIST_UNKNOWN = 10
_DEFAULT_RULES = ValueRules()


@dataclass(frozen=True)
class ValidationResult:
    """The outcome for one batch: valid events and quarantined rows with reasons."""

    valid: pl.DataFrame
    quarantined: pl.DataFrame
    #: Quarantined rows whose only fault is repeating an already-stored event (a
    #: re-delivered export): well-formed, just not new.
    redundant: int = 0
    #: Rows (also quarantined) that reuse an event id of their scope with different
    #: content: possible log tampering (``REUSED_SCHEMA``).
    reused: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REUSED_SCHEMA))
    #: Action values outside the vocabulary after mapping, with their row counts
    #: (quarantined or kept, as the source's ``unknown_actions`` says).
    unknown_actions: Mapping[str, int] = field(default_factory=dict)

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
    stored: Callable[[pl.Series], pl.DataFrame] | None = None,
    id_scope: IdScope = "source",
    rules: ValueRules | None = None,
) -> ValidationResult:
    """Validate a raw batch (canonical column names, raw values, ``_location``).

    Args:
        raw: the source's rows; strings are parsed, typed columns are cast.
        timezone: zone in which naive timestamps are interpreted.
        now: the current time (from the caller's clock) for the future-timestamp check.
        future_tolerance: clock skew allowed before a timestamp counts as "in the future".
        known_ids: event ids already stored (any source); without ``stored`` a row
            repeating one is a duplicate.
        stored: returns the stored events with the given ids (canonical columns,
            ``_location`` and ``_in_scope``: from this source). With it a row repeating a
            stored id is a duplicate only when its content is identical; with different
            content it is a reuse (quarantined, in ``reused``) when the stored event is in
            its scope, else a new event (ids of other sources, or files, are their own).
        id_scope: ``"file"``: ids are unique only within each file (``_location`` up to
            its line or row number), so the same id in another file is another event.
        rules: the source's value map, unknown-action policy, date order and DST rule
            (default: built-in synonyms only, quarantine unknown actions, year-first
            dates only, quarantine ambiguous local times).

    Returns:
        ``valid`` with the canonical dtypes plus ``_location``; ``quarantined`` with
        ``_location``, ``reason`` (all reasons, ``; ``-separated) and ``raw`` (JSON).

    Raises:
        ValidationFailed: dates start with the day or the month and ``rules.date_order``
            does not say which (auditlens does not guess; nothing of the batch is kept).
    """
    frame = raw.with_row_index(_ROW)
    if LOCATION not in frame.columns:
        frame = frame.with_columns(
            pl.format("row {}", pl.col(_ROW) + 1).alias(LOCATION).cast(pl.String)
        )
    typed, problems, unknown = _coerce(frame, timezone, rules or _DEFAULT_RULES)
    problems.extend(_schema_problems(typed, now, future_tolerance, skip=problems))
    typed = typed.with_columns(_scoped_key(id_scope))
    broken = _collect(problems)
    repeats, reused_here = _batch_duplicates(typed, broken)
    problems.extend([repeats, reused_here.select(_ROW, "reason")])
    broken = _collect(problems)
    stored_dups, reused_stored = _stored_duplicates(typed, known_ids, stored, id_scope, broken)
    reasons = _collect([*problems, stored_dups, reused_stored.select(_ROW, "reason")])
    redundant = stored_dups.join(broken, on=_ROW, how="anti").height
    reused = _reused_frame(frame, pl.concat([reused_here, reused_stored]))

    # cast column by column: DataFrame.cast would also copy every column into one chunk
    valid = typed.select(*(pl.col(c).cast(EVENT_DTYPES[c]) for c in EVENT_COLUMNS), LOCATION)
    if reasons.height == 0:  # the common case: a clean batch, nothing to take out
        quarantined = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    else:
        reasons = reasons.sort(_ROW)
        bad_rows = reasons.get_column(_ROW)
        keep = pl.repeat(True, typed.height, eager=True).scatter(bad_rows, False)
        valid = valid.filter(keep)
        raw_cols = [c for c in raw.columns if c != LOCATION]
        # ``_ROW`` is the row's position: gather the bad rows rather than join the batch
        quarantined = (
            frame.select(pl.col(LOCATION, *raw_cols).gather(bad_rows))
            .with_columns(reasons.get_column("reason").alias(_REASON))
            .select(
                pl.col(LOCATION).cast(pl.String),
                pl.col(_REASON).alias("reason"),
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
    return ValidationResult(
        valid=valid,
        quarantined=quarantined,
        redundant=redundant,
        reused=reused,
        unknown_actions=unknown,
    )


# --- coercion ---------------------------------------------------------------------------


def _coerce(
    frame: pl.DataFrame, timezone: str, rules: ValueRules
) -> tuple[pl.DataFrame, list[pl.DataFrame], dict[str, int]]:
    """Cast every canonical column, mapping values; report values that could not be read.

    Returns the typed frame, the problems and the unknown actions with their counts.
    """
    problems: list[pl.DataFrame] = []
    columns: dict[str, pl.Series] = {_ROW: frame.get_column(_ROW), LOCATION: frame[LOCATION]}
    # action_type is cleaned with its mapping, on its distinct values (_map_actions)
    text = [c for c in EVENT_COLUMNS if c in frame.columns and c not in (TIMESTAMP, SUCCESS)]
    text = [c for c in text if c != ACTION_TYPE]
    cleaned = _clean_text(frame, text)
    unknown: dict[str, int] = {}
    failed_action: pl.Series | None = None
    for name in EVENT_COLUMNS:
        if name not in frame.columns:
            if name in REQUIRED_COLUMNS:
                problems.append(_all_rows(frame, f"{name}: column is missing from the input"))
            columns[name] = pl.repeat(
                None, frame.height, dtype=EVENT_DTYPES[name], eager=True
            ).alias(name)
            continue
        source = frame.get_column(name)
        failed: pl.Series | None = None
        hint = ""
        if name == TIMESTAMP:
            series, failed, notes = parse_timestamps(source, timezone, rules)
            if notes is not None:
                problems.append(
                    frame.select(_ROW)
                    .with_columns(notes.alias("reason"), pl.lit(name).alias("column"))
                    .filter(pl.col("reason").is_not_null())
                )
            refuse_day_month(frame, failed, rules.date_order)
            hint = ORDER_HINT[rules.date_order]
            early = (series < EARLIEST_TIMESTAMP).fill_null(False)
            if early.any():  # out of range: also for pandera, which cannot show year 0
                problems.append(
                    frame.filter(early).select(
                        _ROW, pl.lit(TOO_EARLY).alias("reason"), pl.lit(name).alias("column")
                    )
                )
                series = series.set(early, None)
        elif name == SUCCESS:
            series, failed = _parse_bool(source, rules)
            hint = "expected true/false"
        elif name == ACTION_TYPE:
            series, failed_action, unknown = _map_actions(source, rules)
            if unknown and rules.unknown_actions == "quarantine":
                problems.append(_unknown_action_problems(frame, series, unknown))
        else:
            series = cleaned.get(name, source)
            if name in (DEPARTMENT, ROLE) and rules.value_map.get(name):
                series = series.replace(dict(rules.value_map[name]))
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
        columns[name] = series.alias(name)
    if failed_action is not None:  # "로그인실패" says the login failed, whatever success says
        flags = pl.DataFrame({"ok": columns[SUCCESS], "failed": failed_action})
        columns[SUCCESS] = flags.select(
            pl.when("failed").then(False).otherwise("ok").alias(SUCCESS)
        ).to_series()
    return pl.DataFrame(list(columns.values())), problems, unknown


def _map_actions(
    series: pl.Series, rules: ValueRules
) -> tuple[pl.Series, pl.Series | None, dict[str, int]]:
    """Clean (trim, lower-case, empty = null) and map raw action values onto the vocabulary.

    Works on the distinct values (a handful), then rewrites the column only when some
    value changes (not at all for a clean canonical column). Returns the mapped column,
    the rows whose value said the action failed (``:failed`` targets; None if none) and
    the unknown values (cleaned) with their row counts.
    """
    series = series.cast(pl.String)
    distinct = series.drop_nulls().unique()
    pairs = (
        distinct.to_frame("value")
        .with_columns(_cleaned("value", lower=True).alias("clean"))
        .with_columns(
            pl.col("clean")
            .replace_strict(rules.actions(), default=None, return_dtype=pl.String)
            .alias("target")
        )
    )
    unknown_values = pairs.filter(pl.col("target").is_null() & pl.col("clean").is_not_null())
    final = pl.coalesce(pl.col("target").str.strip_suffix(FAILED_SUFFIX), pl.col("clean"))
    changed = pairs.with_columns(final.alias("final")).filter(
        pl.col("final").ne_missing(pl.col("value"))
    )
    failed = None
    if changed.height:
        failing = changed.filter(pl.col("target").str.ends_with(FAILED_SUFFIX))["value"]
        if failing.len():
            failed = series.is_in(failing.implode()).fill_null(False)
        series = series.replace(changed["value"], changed["final"])
    unknown: dict[str, int] = {}
    if unknown_values.height:
        counts = (
            series.filter(series.is_in(unknown_values["clean"].unique().implode()))
            .value_counts(name="n")
            .sort(["n", series.name], descending=[True, False])
        )
        unknown = dict(zip(counts[series.name], counts["n"], strict=True))
    return series, failed, unknown


def _unknown_action_problems(
    frame: pl.DataFrame, actions: pl.Series, unknown: dict[str, int]
) -> pl.DataFrame:
    """One problem per row with an unknown action; the reason lists the batch's unknowns."""
    listed = ", ".join(f"{v!r} x{n}" for v, n in list(unknown.items())[:_LIST_UNKNOWN])
    more = len(unknown) - _LIST_UNKNOWN
    if more > 0:
        listed += f" and {more} more"
    reasons = pl.DataFrame(
        {
            ACTION_TYPE: list(unknown),
            "reason": [
                f"action_type: unknown action {v!r} (not in the vocabulary; unknown in this "
                f"batch: {listed}); map it in the source's value_map.action_type or set "
                'unknown_actions = "keep"'
                for v in unknown
            ],
        },
        schema={ACTION_TYPE: pl.String, "reason": pl.String},
    )
    rows = pl.DataFrame([frame.get_column(_ROW), actions.alias(ACTION_TYPE)])
    return (
        rows.join(reasons, on=ACTION_TYPE, how="inner")
        .select(_ROW, "reason")
        .with_columns(pl.lit(ACTION_TYPE).alias("column"))
    )


def _clean_text(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, pl.Series]:
    """Strip (and for ``action_type`` lower-case) text; empty text becomes null.

    Returns only the columns this changes; the others are String columns that are
    already clean and are used as they are (no copy). A cheap test of every value
    (:func:`_maybe_unclean`), of all columns in one parallel pass, finds the values
    cleaning could change; only those are cleaned, and only real changes written.
    """
    strings = [n for n in names if frame.schema[n] == pl.String]
    out = {n: frame.select(_cleaned(n)).to_series() for n in names if n not in strings}
    masks = frame.lazy().select([_maybe_unclean(n).alias(n) for n in strings]).collect()
    for name in strings:
        rows = masks.get_column(name).arg_true()
        if rows.len() == 0:
            continue
        source = frame.get_column(name)
        dense = 2 * rows.len() > source.len()  # then clean the whole column at once
        before = source if dense else source.gather(rows)
        after = before.to_frame().select(_cleaned(name)).to_series()
        changed = after.ne_missing(before)
        if not changed.any():
            continue  # clean after all (e.g. text ending in a non-ASCII letter)
        if dense:
            out[name] = after
        else:
            out[name] = source.clone().scatter(rows.filter(changed), after.filter(changed))
    return out


def _cleaned(name: str, *, lower: bool | None = None) -> pl.Expr:
    """The cleaned text of column ``name`` (lower-cased for ``action_type`` or ``lower``)."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    if lower or (lower is None and name == ACTION_TYPE):
        text = text.str.to_lowercase()
    return pl.when(text.str.len_chars() == 0).then(None).otherwise(text).alias(name)


def _maybe_unclean(name: str) -> pl.Expr:
    """Per value of String column ``name``: might :func:`_cleaned` change it? Never a
    false "no" (null stays null); a false "yes" only costs time.

    Every Unicode white space character is either ASCII at most 0x20 or encoded in
    UTF-8 with a first byte of at least 0xC2 and a last byte of at least 0x80; so text
    whose first byte and last byte are printable ASCII is left alone by
    ``strip_chars`` (and is not empty). Action types are checked against the schema's
    lower-case word pattern instead, which also rules out upper case.
    """
    value = pl.col(name)
    if name == ACTION_TYPE:
        return value.str.contains(ACTION_PATTERN).not_()
    last = value.cast(pl.Binary).bin.get(-1, null_on_oob=True)
    first_odd = (value < _FIRST_PRINTABLE) | (value >= _DEL)  # "" sorts first
    return first_odd | (last < ord(_FIRST_PRINTABLE)) | (last >= ord(_DEL))


def _parse_bool(series: pl.Series, rules: ValueRules) -> tuple[pl.Series, pl.Series | None]:
    if series.dtype == pl.Boolean:
        return series, None
    flags = rules.success()
    exact = series.cast(pl.String).replace_strict(flags, default=None, return_dtype=pl.Boolean)
    if exact.null_count() == series.null_count():  # every value is a plain lower-case word
        return exact, None
    text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    parsed = text.replace_strict(flags, default=None, return_dtype=pl.Boolean)
    failed = parsed.is_null() & text.is_not_null() & (text.str.len_bytes() > 0)
    return parsed, failed


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


#: A ``_location``'s file: everything before ``:<line>`` (CSV, JSON Lines), ``#row=<n>``
#: (Parquet) or ``:<sheet>:row <n>`` (Excel; a sheet name cannot hold ``:``).
_FILE_OF = r"(:\d+|#row=\d+|:[^:]*:row \d+)$"


def _file_of(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.replace(_FILE_OF, "")


def _scoped_key(id_scope: IdScope) -> pl.Expr:
    """The key an id must be unique under: the id, or the file and the id."""
    if id_scope == "file":
        return pl.concat_str([_file_of(LOCATION), pl.col(EVENT_ID)], separator="\x1f").alias(_KEY)
    return pl.col(EVENT_ID).alias(_KEY)


def _content_hash() -> pl.Expr:
    """A hash of everything an event says except its id (same dtypes on both sides)."""
    columns = [pl.col(c).cast(EVENT_DTYPES[c], strict=False) for c in EVENT_COLUMNS]
    return pl.struct(columns[1:]).hash().alias(_HASH)


def _no_rows() -> pl.DataFrame:
    return pl.DataFrame(schema={_ROW: pl.UInt32, "reason": pl.String})


def _no_reuse() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            _ROW: pl.UInt32,
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


def _batch_duplicates(
    typed: pl.DataFrame, broken: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Later rows repeating an id (in its scope) seen earlier in the same batch.

    Returns (duplicates with reasons, reuses): a repeat with identical content is a
    duplicate; one with different content a reuse (possible tampering).
    """
    # Sorted 64-bit hashes of the keys show quickly whether any key repeats, and which
    # hashes do: only keys with such a hash can repeat (a hash collision merely adds a
    # candidate), so the exact check below runs on those rows alone.
    keys = typed.get_column(_KEY)
    hashes = keys.hash()
    present = hashes if keys.null_count() == 0 else hashes.filter(keys.is_not_null())
    ordered = present.sort()
    same = ordered.slice(1) == ordered.slice(0, max(ordered.len() - 1, 0))
    if not same.any():
        return _no_rows(), _no_reuse()
    repeating = ordered.slice(1).filter(same)
    # content is hashed for these few rows only (hashing every row costs time)
    candidates = typed.filter(keys.is_not_null() & hashes.is_in(repeating.implode())).select(
        _ROW, LOCATION, EVENT_ID, _KEY, _content_hash()
    )
    repeated = candidates.filter(pl.col(_KEY).is_duplicated())
    first = repeated.group_by(_KEY).agg(
        pl.col(LOCATION).sort_by(_ROW).first().alias("first_at"),
        pl.col(_HASH).sort_by(_ROW).first().alias("first_hash"),
    )
    later = repeated.filter(~pl.col(_KEY).is_first_distinct()).join(first, on=_KEY, how="left")
    differs = (pl.col(_HASH) != pl.col("first_hash")) & ~pl.col(_ROW).is_in(
        broken.get_column(_ROW).implode()
    )
    duplicates = later.filter(~differs).select(
        _ROW,
        pl.format("duplicate event_id {} (first at {})", EVENT_ID, "first_at").alias("reason"),
    )
    reuses = later.filter(differs).select(
        _ROW,
        _reuse_reason(pl.col("first_at"), stored=False),
        "first_at",
        pl.lit(None, pl.String).alias("stored_copy"),
    )
    return duplicates, reuses


def _stored_duplicates(
    typed: pl.DataFrame,
    known_ids: pl.Series | None,
    stored: Callable[[pl.Series], pl.DataFrame] | None,
    id_scope: IdScope,
    broken: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows repeating an already-stored event (duplicates) or its id (reuses)."""
    if known_ids is None or known_ids.len() == 0:
        return _no_rows(), _no_reuse()
    ids = _ids(typed)
    if known_ids.dtype == pl.String:  # a hash semi-join (row order does not matter here)
        known = known_ids.drop_nulls().alias(EVENT_ID).to_frame()
        hits = ids.join(known, on=EVENT_ID, how="semi")
    else:
        hits = ids.filter(pl.col(EVENT_ID).is_in(known_ids.implode()))
    reason = pl.format("duplicate event_id {} (already ingested)", EVENT_ID).alias("reason")
    if stored is None or hits.height == 0:
        return hits.select(_ROW, reason), _no_reuse()
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
    hashed = typed.filter(pl.col(_ROW).is_in(hits.get_column(_ROW).implode()))
    pairs = hits.join(hashed.select(_ROW, _content_hash()), on=_ROW).join(
        copies, on=EVENT_ID, how="inner"
    )
    identical = pairs.filter(pl.col(_HASH) == pl.col("stored_hash")).get_column(_ROW).unique()
    in_scope = pl.col(IN_SCOPE)
    if id_scope == "file":
        in_scope = in_scope & (_file_of(LOCATION) == _file_of("first_at"))
    conflicts = (
        pairs.filter(~pl.col(_ROW).is_in(identical.implode()), in_scope)
        .filter(~pl.col(_ROW).is_in(broken.get_column(_ROW).implode()))
        .unique(_ROW, keep="first", maintain_order=True)
    )
    duplicates = hits.filter(pl.col(_ROW).is_in(identical.implode())).select(_ROW, reason)
    reuses = conflicts.select(
        _ROW, _reuse_reason(pl.col("first_at"), stored=True), "first_at", "stored_copy"
    )
    return duplicates, reuses


def _reused_frame(frame: pl.DataFrame, reuses: pl.DataFrame) -> pl.DataFrame:
    """``REUSED_SCHEMA`` rows: each reuse with the row as it arrived (raw values, JSON)."""
    if reuses.height == 0:
        return pl.DataFrame(schema=REUSED_SCHEMA)
    raw_cols = [c for c in frame.columns if c not in (_ROW, LOCATION)]
    rows = frame.select(
        pl.col(_ROW).cast(pl.UInt32),
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
        reuses.join(rows, on=_ROW, how="left")
        .join(firsts, on="first_at", how="left")
        .with_columns(pl.coalesce("stored_copy", "_first_row").alias("stored_copy"))
        .sort(_ROW)
    )
    return joined.select([pl.col(n).cast(t) for n, t in REUSED_SCHEMA.items()])


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
