"""Cast a raw batch's columns to the canonical types, mapping values on the way.

What validate.py calls first: each canonical column is read (timestamps in their zone and
date order, actions and flags through the source's value map), and every value that
cannot be read becomes a problem row (``ROW``, ``reason``) instead of an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from auditlens.duplicates import ROW as _ROW
from auditlens.schema import (
    ACTION_PATTERN,
    ACTION_TYPE,
    DEPARTMENT,
    EARLIEST_TIMESTAMP,
    EVENT_COLUMNS,
    EVENT_DTYPES,
    LOCATION,
    REQUIRED_COLUMNS,
    ROLE,
    SUCCESS,
    TIMESTAMP,
)
from auditlens.timestamps import ORDER_HINT, TOO_EARLY, parse_timestamps, refuse_day_month
from auditlens.vocabulary import FAILED_SUFFIX, ValueRules

#: Unknown action values listed in a reason at most (the rest are counted).
_LIST_UNKNOWN = 10
#: Text whose first and last characters lie in ``[_FIRST_PRINTABLE, _DEL)`` needs no strip.
_FIRST_PRINTABLE = "!"
_DEL = "\x7f"


def coerce(
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


def _all_rows(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    return frame.select(_ROW, pl.lit(reason).alias("reason"))
