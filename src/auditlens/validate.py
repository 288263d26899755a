# size: validation and what its quarantine reasons mean (Korean text, kinds) stay together.
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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from auditlens.coercion import coerce
from auditlens.duplicates import (
    REUSED_SCHEMA,
    IdScope,
    KnownIds,
    batch_duplicates,
    reused_frame,
    scoped_key,
    stored_duplicates,
)
from auditlens.duplicates import ROW as _ROW
from auditlens.schema import (
    EVENT_COLUMNS,
    EVENT_DTYPES,
    LOCATION,
    event_schema,
    pandera_polars,
)
from auditlens.timestamps import ORDER_HINT
from auditlens.vocabulary import ValueRules

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    LOCATION: pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}

_REASON = "__reason"
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
    known_ids: KnownIds | None = None,
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
        known_ids: event ids already stored (any source), or a function that returns
            those of the ids it is given that are stored; without ``stored`` a row
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
    typed, problems, unknown = coerce(frame, timezone, rules or _DEFAULT_RULES)
    problems.extend(_schema_problems(typed, now, future_tolerance, skip=problems))
    typed = typed.with_columns(scoped_key(id_scope))
    broken = _collect(problems)
    repeats, reused_here = batch_duplicates(typed, broken)
    problems.extend([repeats, reused_here.select(_ROW, "reason")])
    broken = _collect(problems)
    stored_dups, reused_stored = stored_duplicates(typed, known_ids, stored, id_scope, broken)
    reasons = _collect([*problems, stored_dups, reused_stored.select(_ROW, "reason")])
    redundant = stored_dups.join(broken, on=_ROW, how="anti").height
    reused = reused_frame(frame, pl.concat([reused_here, reused_stored]))

    valid, quarantined = _split(raw, frame, typed, reasons)
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


def _split(
    raw: pl.DataFrame, frame: pl.DataFrame, typed: pl.DataFrame, reasons: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The valid events (canonical dtypes) and the quarantined rows (raw values as JSON)."""
    # cast column by column: DataFrame.cast would also copy every column into one chunk
    valid = typed.select(*(pl.col(c).cast(EVENT_DTYPES[c]) for c in EVENT_COLUMNS), LOCATION)
    if reasons.height == 0:  # the common case: a clean batch, nothing to take out
        return valid, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    reasons = reasons.sort(_ROW)
    bad_rows = reasons.get_column(_ROW)
    keep = pl.repeat(True, typed.height, eager=True).scatter(bad_rows, False)
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
    return valid.filter(keep), quarantined


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
    pa = pandera_polars()

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


def _collect(problems: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per bad input row, with all its distinct reasons in a stable order."""
    if not problems:
        return pl.DataFrame(schema={_ROW: pl.UInt32, "reason": pl.String})
    every = pl.concat([p.select(pl.col(_ROW).cast(pl.UInt32), "reason") for p in problems])
    return every.group_by(_ROW, maintain_order=True).agg(
        pl.col("reason").unique(maintain_order=True).str.join("; ")
    )


# --- quarantine reasons in Korean ---------------------------------------------------------
#
# A reason is stored as English text in the quarantine table (stable: older rows, grep, the
# tests and the audit trail all see the same words). A person reading it in Korean gets it
# through quarantine_reason(reason, "ko"), which rewrites each known part; a part it does not
# know (a future reason, a pandera message) stays English rather than being guessed.

_PART = re.compile(r"; (?=[a-z_]+: |duplicate event_id |event_id |resource_id is required)")
_ISO_KO = "ISO 8601(예: 2026-09-01T09:00:00+09:00, 2026/09/01 09:00:00)"
_HINTS_KO: Final = (  # longest first: the DMY/MDY hints contain the plain one
    (ORDER_HINT["DMY"], f"{_ISO_KO} 또는 DD/MM/YYYY HH:MM:SS(date_order = DMY) 형식이어야 함"),
    (ORDER_HINT["MDY"], f"{_ISO_KO} 또는 MM/DD/YYYY HH:MM:SS(date_order = MDY) 형식이어야 함"),
    (ORDER_HINT["YMD"], f"{_ISO_KO} 형식이어야 함"),
    ("expected true/false", "true 또는 false여야 함"),
)
_REASONS_KO: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern, re.DOTALL), ko)
    for pattern, ko in (
        (r"(\w+): column is missing from the input", r"\1: 입력에 열이 없음"),
        (r"(\w+): cannot read (.*) \((expected .*)\)", r"\1: 읽을 수 없는 값 \2 (\3)"),
        (r"(\w+): is missing \(required\)", r"\1: 값 없음 (필수)"),
        (r"(\w+): must not be empty", r"\1: 빈 값 (필수)"),
        (r"(\w+): is in the future \(later than (.*)\)", r"\1: 미래 시각 (\2 이후)"),
        (
            r"timestamp: is before (\S+) \(accepted: (\S+) to now \+ future_tolerance_seconds\)",
            r"timestamp: \1 이전 시각 (허용 범위: \2부터 현재 + future_tolerance_seconds까지)",
        ),
        (
            r"timestamp: (.*) is ambiguous in (\S+) \(DST fall-back: this local time occurs "
            r'twice\); set ambiguous_times = "earliest" or "latest" to accept such times',
            r"timestamp: \1 시각은 \2에서 모호함 (일광 절약 시간 종료로 같은 현지 시각이 두 번 "
            r'있음). ambiguous_times = "earliest" 또는 "latest"로 설정하면 받아들임',
        ),
        (
            r"timestamp: (.*) does not exist in (\S+) \(DST gap: the clocks skip this hour\)",
            r"timestamp: \1 시각은 \2에 없는 시각 (일광 절약 시간 시작으로 건너뛰는 시간)",
        ),
        (
            r"action_type: unknown action (.*?) \(not in the vocabulary; unknown in this batch: "
            r"(.*)\); map it in the source's value_map.action_type or set "
            r'unknown_actions = "keep"',
            r"action_type: 어휘에 없는 작업 \1 (이 배치에서 알 수 없는 작업: \2). 소스의 "
            r'value_map.action_type에 매핑하거나 unknown_actions = "keep"으로 설정하면 받아들임',
        ),
        (r"duplicate event_id (.*) \(first at (.*)\)", r"중복된 event_id \1 (처음 위치 \2)"),
        (r"duplicate event_id (.*) \(already ingested\)", r"중복된 event_id \1 (이미 수집됨)"),
        (
            r"event_id (.*) repeated with different content \(first at (.*)\): possible log "
            r"tampering",
            r"event_id \1 값이 다른 내용으로 반복됨 (처음 위치 \2). 로그 변조 가능성",
        ),
        (
            r"event_id (.*) was already ingested with different content \(at (.*)\): possible "
            r"log tampering, see the findings \(if ids restart in every file, set "
            r"id_scope = 'file'\)",
            r"event_id \1 값이 이미 다른 내용으로 수집됨 (위치 \2). 로그 변조 가능성이 있으니 변조 "
            r"의심 항목을 확인할 것 (파일마다 ID가 새로 시작하면 id_scope = 'file'로 설정)",
        ),
        (
            r"resource_id is required unless action_type is one of (.*)",
            r"action_type이 \1 중 하나가 아니면 resource_id 필요",
        ),
        # what a CSV reader says of a line it cannot split (sources/csvfile.py)
        (
            r"truncated last line \(file does not end with a newline\): expected (\d+) fields, "
            r"found (\d+)",
            r"마지막 줄이 잘림 (파일이 줄바꿈으로 끝나지 않음): 필드 \1개가 있어야 하나 \2개",
        ),
        (r"expected (\d+) fields, found (\d+)", r"필드 \1개가 있어야 하나 \2개"),
        (
            r"a quoted field opened here does not close \((.*); an unclosed quote\?\)",
            r"여기서 연 따옴표가 닫히지 않음 (\1; 닫는 따옴표 누락?)",
        ),
    )
)
_COUNTS_KO: Final = (
    (re.compile(r"' x(\d+)(?=[,)]|$| and )"), r"' \1건"),
    (re.compile(r" and (\d+) more(?=\)|$)"), r" 외 \1종"),
)


def quarantine_reason(reason: str, lang: str) -> str:
    """A stored quarantine reason (English) in ``lang``.

    >>> quarantine_reason("user_id: is missing (required); duplicate event_id e1 "
    ...                   "(first at in.csv:2)", "ko")
    'user_id: 값 없음 (필수); 중복된 event_id e1 (처음 위치 in.csv:2)'
    >>> quarantine_reason("truncated last line (file does not end with a newline): "
    ...                   "expected 10 fields, found 4", "ko")
    '마지막 줄이 잘림 (파일이 줄바꿈으로 끝나지 않음): 필드 10개가 있어야 하나 4개'
    """
    if lang != "ko":
        return reason
    return "; ".join(_reason_part_ko(part) for part in _PART.split(reason))


def _reason_part_ko(part: str) -> str:
    for pattern, ko in _REASONS_KO:
        found = pattern.fullmatch(part)
        if found is None:
            continue
        text = found.expand(ko)
        for en, hint_ko in _HINTS_KO:
            text = text.replace(en, hint_ko)
        for count, count_ko in _COUNTS_KO:
            text = count.sub(count_ko, text)
        return text
    return part


# --- quarantine reasons by kind -----------------------------------------------------------
#
# Counting quarantined rows "by reason" needs the reason without its values (the row's own
# timestamp, event id, line): each part of a stored reason falls into one kind, named here
# beside the sentences above so that a new reason gets its kind where it gets its Korean.

_KINDS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern, re.DOTALL), kind)
    for pattern, kind in (
        (r"(\w+): column is missing from the input", "column_missing"),
        (r"(\w+): cannot read .*", "unreadable"),
        (r"(\w+): is missing(?: \(required\))?", "missing"),
        (r"(\w+): must not be empty", "empty"),
        (r"(\w+): is in the future .*", "future"),
        (r"(timestamp): is before .*", "too_old"),
        (r"(timestamp): .* is ambiguous in .*", "ambiguous_time"),
        (r"(timestamp): .* does not exist in .*", "nonexistent_time"),
        (r"(action_type): unknown action .*", "unknown_action"),
        (r"duplicate event_id .*", "duplicate_event_id"),
        (r"event_id .* different content.*", "event_id_reused"),
        (r"resource_id is required unless .*", "resource_id_missing"),
        (r"(?:truncated last line|expected \d+ fields|a quoted field opened).*", "malformed_line"),
    )
)
#: Each quarantine kind in words: kind -> (English, Korean).
QUARANTINE_KINDS: Final[dict[str, tuple[str, str]]] = {
    "column_missing": ("column missing from the input", "입력에 열 없음"),
    "unreadable": ("value cannot be read", "읽을 수 없는 값"),
    "missing": ("value missing (required)", "값 없음(필수)"),
    "empty": ("empty value", "빈 값"),
    "future": ("time in the future", "미래 시각"),
    "too_old": ("time before the accepted range", "허용 범위 이전 시각"),
    "ambiguous_time": ("ambiguous local time (DST)", "모호한 현지 시각(일광 절약)"),
    "nonexistent_time": ("nonexistent local time (DST)", "없는 현지 시각(일광 절약)"),
    "unknown_action": ("unknown action", "어휘에 없는 작업"),
    "duplicate_event_id": ("duplicate event id", "중복된 event_id"),
    "event_id_reused": ("event id reused with other content", "다른 내용으로 재사용된 event_id"),
    "resource_id_missing": ("resource id missing", "resource_id 없음"),
    "malformed_line": ("malformed line", "형식이 깨진 줄"),
    "other": ("other", "기타"),
}


def quarantine_kinds(reason: str) -> list[str]:
    """The kinds of a stored quarantine reason, one per part, each ``kind`` or
    ``field:kind`` (the column it concerns), in the reason's order.

    >>> quarantine_kinds("user_id: is missing (required); duplicate event_id e1 (first at a:2)")
    ['user_id:missing', 'duplicate_event_id']
    """
    found = []
    for part in _PART.split(reason):
        kind = "other"
        for pattern, name in _KINDS:
            match = pattern.fullmatch(part)
            if match is not None:
                kind = f"{match.group(1)}:{name}" if match.groups() else name
                break
        found.append(kind)
    return found


def quarantine_kind_label(kind: str, lang: str) -> str:
    """A kind of :func:`quarantine_kinds` in words (``user_id: 값 없음(필수)``).

    >>> quarantine_kind_label("user_id:missing", "en"), quarantine_kind_label("other", "ko")
    ('user_id: value missing (required)', '기타')
    """
    field, _, name = kind.rpartition(":")
    en, ko = QUARANTINE_KINDS.get(name, (name, name))
    words = ko if lang == "ko" else en
    return f"{field}: {words}" if field else words
