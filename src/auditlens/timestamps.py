"""Reading event times: formats, day/month order, the configured zone and its DST rules.

``validate.py`` calls :func:`parse_timestamps` for the ``timestamp`` column and
:func:`refuse_day_month` before anything of a batch is kept. Values with a UTC offset are
exact; naive ones are local to the configured zone. Dates that start with the day or the
month are read only with the source's ``date_order`` (never guessed); a local time the
zone skips (DST gap) or repeats (DST fall-back, ``ambiguous_times = "quarantine"``)
gets a reason of its own instead of "cannot read".
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from auditlens.errors import ValidationFailed
from auditlens.schema import EARLIEST_TIMESTAMP, LOCATION, TIMESTAMP, TIMESTAMP_DTYPE
from auditlens.vocabulary import DateOrder, ValueRules

#: Naive formats tried in order (after ISO normalisation); naive = configured zone. Dates
#: that start with the day or the month are read only with a date_order (DAY_MONTH_FORMATS).
NAIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d %H:%M:%S",
)
#: Formats with a UTC offset (``Z`` is normalised to ``+00:00``).
AWARE_FORMATS: tuple[str, ...] = ("%Y-%m-%dT%H:%M:%S%#z", "%Y-%m-%dT%H:%M:%S%.f%#z")
#: Naive formats of dates that start with the day (DMY) or the month (MDY).
DAY_MONTH_FORMATS: dict[str, tuple[str, ...]] = {
    order: tuple(
        f"{date.replace('/', sep)} {clock}"
        for sep in "/.-"
        for clock in ("%H:%M:%S", "%H:%M:%S%.f", "%H:%M")
    )
    for order, date in (("DMY", "%d/%m/%Y"), ("MDY", "%m/%d/%Y"))
}
TIMESTAMP_HINT = "expected ISO 8601 like 2026-09-01T09:00:00+09:00 or 2026/09/01 09:00:00"
ORDER_HINT = {
    "YMD": TIMESTAMP_HINT,
    "DMY": TIMESTAMP_HINT + ", or DD/MM/YYYY HH:MM:SS (date_order = DMY)",
    "MDY": TIMESTAMP_HINT + ", or MM/DD/YYYY HH:MM:SS (date_order = MDY)",
}
TOO_EARLY = (
    f"timestamp: is before {EARLIEST_TIMESTAMP:%Y-%m-%d} (accepted: "
    f"{EARLIEST_TIMESTAMP:%Y-%m-%d} to now + future_tolerance_seconds)"
)
#: Text that looks like a date starting with the day or the month.
_DAY_MONTH = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}\b"

#: ISO normalisation of timestamp text, in order: date-space-time, and ``Z`` for UTC.
_ISO_FIXES = ((r"^(\d{4}-\d{2}-\d{2}) ", "${1}T"), (r"Z$", "+00:00"))


def parse_timestamps(
    series: pl.Series, timezone: str, rules: ValueRules
) -> tuple[pl.Series, pl.Series | None, pl.Series | None]:
    """Parse to UTC; naive values are local to ``timezone``.

    Returns ``(parsed, failed, notes)``: ``failed`` marks unreadable values, ``notes``
    (None when there are none) gives a reason for readable local times that do not
    exist in the zone (DST gap) or occur twice (DST fall-back, ``ambiguous_times =
    "quarantine"``); those rows are neither parsed nor ``failed``.
    """
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            shown = series.dt.to_string("%Y-%m-%dT%H:%M:%S%.f").str.strip_suffix(".000000")
            local, notes = _localise(series, shown, timezone, rules)
            failed = local.is_null() & series.is_not_null()
            if notes is not None:
                failed = failed & notes.is_null()
            return local.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE), failed, notes
        return series.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE), None, None
    if series.dtype == pl.Date:
        return parse_timestamps(series.cast(pl.Datetime("us")), timezone, rules)
    text = series.cast(pl.String).str.strip_chars()
    for pattern, replacement in _ISO_FIXES:
        if text.str.contains(pattern).any():  # replacing copies every value: only if needed
            text = text.str.replace(pattern, replacement)
    result = pl.repeat(None, text.len(), dtype=TIMESTAMP_DTYPE, eager=True)
    notes = pl.repeat(None, text.len(), dtype=pl.String, eager=True)
    has_offset = text.str.contains(r"T.*[+-]\d{2}:?\d{2}$")
    result, notes = _fill(result, notes, text, has_offset, AWARE_FORMATS, None, rules)
    naive = NAIVE_FORMATS + DAY_MONTH_FORMATS.get(rules.date_order, ())
    result, notes = _fill(result, notes, text, ~has_offset, naive, timezone, rules)
    noted = notes.is_not_null()
    failed = result.is_null() & text.is_not_null() & (text.str.len_bytes() > 0) & ~noted
    return result, failed.fill_null(False), notes if noted.any() else None


def _fill(
    result: pl.Series,
    notes: pl.Series,
    text: pl.Series,
    mask: pl.Series,
    formats: Sequence[str],
    timezone: str | None,
    rules: ValueRules,
) -> tuple[pl.Series, pl.Series]:
    """Parse the still-empty rows under ``mask`` with each format in turn: first the one
    that reads the first such value (a batch is mostly one format; a row two formats
    read gets the same time from either, so the order changes no result, only how many
    failed attempts over every row it costs)."""
    first = text.filter((mask & text.is_not_null()).fill_null(False)).head(1)
    fits = [f for f in formats if first.str.to_datetime(f, strict=False).null_count() == 0]
    for fmt in [*fits[:1], *[f for f in formats if f not in fits[:1]]]:
        todo = (result.is_null() & notes.is_null() & mask & text.is_not_null()).fill_null(False)
        count = todo.sum()
        if count == 0:
            break
        every = count == text.len()  # then ``result`` is still all null
        subset = text if every else text.filter(todo)
        parsed = subset.str.to_datetime(fmt, strict=False, time_unit="us")
        note = None
        if timezone is not None:
            parsed, note = _localise(parsed, subset, timezone, rules)
        parsed = parsed.dt.convert_time_zone("UTC").cast(TIMESTAMP_DTYPE)
        if every and note is None:
            result = parsed
            continue
        where = todo.arg_true() if not every else pl.int_range(text.len(), eager=True)
        ok = parsed.is_not_null()
        result = result.scatter(where.filter(ok), parsed.filter(ok))
        if note is not None:
            has = note.is_not_null()
            notes = notes.scatter(where.filter(has), note.filter(has))
    return result, notes


def _localise(
    naive: pl.Series, text: pl.Series, timezone: str, rules: ValueRules
) -> tuple[pl.Series, pl.Series | None]:
    """Naive local times -> aware, with a reason for times the zone skips or repeats."""
    ambiguous = "null" if rules.ambiguous_times == "quarantine" else rules.ambiguous_times
    local = naive.dt.replace_time_zone(timezone, ambiguous=ambiguous, non_existent="null")
    trouble = local.is_null() & naive.is_not_null()
    if not trouble.any():
        return local, None
    twice = (
        naive.dt.replace_time_zone(
            timezone, ambiguous="earliest", non_existent="null"
        ).is_not_null()
        & trouble
    )
    shown = text.cast(pl.String).map_elements(repr, return_dtype=pl.String)
    notes = (
        pl.DataFrame({"shown": shown, "twice": twice, "trouble": trouble})
        .select(
            pl.when(pl.col("twice"))
            .then(
                pl.format(
                    "timestamp: {} is ambiguous in {} (DST fall-back: this local time occurs "
                    'twice); set ambiguous_times = "earliest" or "latest" to accept such times',
                    "shown",
                    pl.lit(timezone),
                )
            )
            .when(pl.col("trouble"))
            .then(
                pl.format(
                    "timestamp: {} does not exist in {} (DST gap: the clocks skip this hour)",
                    "shown",
                    pl.lit(timezone),
                )
            )
        )
        .to_series()
    )
    return local, notes


def refuse_day_month(frame: pl.DataFrame, failed: pl.Series | None, order: DateOrder) -> None:
    """Refuse a batch whose dates start with the day or month when no order is set.

    Raises ValidationFailed naming the column, an example value and its location, how
    it reads each way, and the setting to use.
    """
    if order != "YMD" or failed is None or not failed.any():
        return
    text = frame.get_column(TIMESTAMP).cast(pl.String).str.strip_chars()
    suspect = failed & text.str.contains(_DAY_MONTH).fill_null(False)
    if not suspect.any():
        return
    values = text.filter(suspect)
    places = frame.get_column(LOCATION).filter(suspect)
    reads = {o: _first_parse(values, DAY_MONTH_FORMATS[o]).is_not_null() for o in DAY_MONTH_FORMATS}
    dmy, mdy = reads["DMY"], reads["MDY"]
    if not (dmy | mdy).any():
        return  # unreadable either way: quarantined as "cannot read"
    both = dmy & mdy
    # an example that really is ambiguous, else one that reads only one way
    pick = int((both if both.any() else dmy | mdy).arg_true()[0])
    value, place = values[pick], places[pick]
    if both.any():
        day_first = _first_parse(values[pick : pick + 1], DAY_MONTH_FORMATS["DMY"])[0]
        month_first = _first_parse(values[pick : pick + 1], DAY_MONTH_FORMATS["MDY"])[0]
        how = f"it reads as {day_first:%d %B %Y} day first or {month_first:%d %B %Y} month first"
        how_ko = (
            f"일을 앞으로 읽으면 {day_first:%Y-%m-%d}, 월을 앞으로 읽으면 "
            f"{month_first:%Y-%m-%d}입니다"
        )
    else:
        only = "day first (DD/MM/YYYY)" if dmy.any() else "month first (MM/DD/YYYY)"
        how = f"here they read only {only}, but auditlens does not guess the order from the data"
        only_ko = "일이 앞(DD/MM/YYYY)" if dmy.any() else "월이 앞(MM/DD/YYYY)"
        how_ko = (
            f"이 데이터는 {only_ko}으로만 읽히지만 auditlens는 데이터로 순서를 추측하지 않습니다"
        )
    raise ValidationFailed(
        f"{place}: column {TIMESTAMP!r} has dates that start with the day or the month, e.g. "
        f"{value!r} ({int(suspect.sum())} such rows); {how}; nothing of this batch was stored",
        hint='set date_order = "DMY" (day first) or "MDY" (month first) for this source '
        "([sources.NAME] in auditlens.toml, AUDITLENS_DATE_ORDER, or --date-order)",
        ko=f"{place}: {TIMESTAMP!r} 열에 일 또는 월로 시작하는 날짜가 있습니다 (예: {value!r}, "
        f"{int(suspect.sum()):,}행). {how_ko}. 이 배치는 하나도 저장하지 않았습니다",
        ko_hint='이 소스에 date_order = "DMY"(일이 앞) 또는 "MDY"(월이 앞)를 지정하십시오 '
        "(auditlens.toml의 [sources.NAME], AUDITLENS_DATE_ORDER 또는 --date-order)",
    )


def _first_parse(values: pl.Series, formats: Sequence[str]) -> pl.Series:
    """Naive datetimes of ``values`` read with the first format that fits (null if none)."""
    out = pl.repeat(None, values.len(), dtype=pl.Datetime("us"), eager=True)
    for fmt in formats:
        out = out.fill_null(values.str.to_datetime(fmt, strict=False, time_unit="us"))
    return out
