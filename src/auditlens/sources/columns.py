"""Canonical columns of a file export: column mapping, text casting and derived event ids."""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.parquetfile import TYPED_COLUMNS

#: Row content a derived event id is computed from (never the file name: an event exported
#: twice in overlapping files gets the same id, so the store keeps it once).
ID_CONTENT: Final = (
    schema.USER_ID,
    schema.TIMESTAMP,
    schema.ACTION_TYPE,
    schema.RESOURCE_ID,
    schema.HOST,
)
_NULL: Final = "\x00"  # stands for null inside the derived-id content (never in real text)
_MAP_HINT: Final = (
    "rename your columns with the source's column_map option, "
    "e.g. column_map = {login_time = 'timestamp', emp_no = 'user_id'}"
)
_MAP_HINT_KO: Final = (
    "소스의 column_map 옵션으로 열 이름을 바꾸십시오 "
    "(예: column_map = {login_time = 'timestamp', emp_no = 'user_id'})"
)


def plan_columns(
    present: Sequence[str], column_map: Mapping[str, str], path: Path
) -> dict[str, str]:
    """Map each kept source column to its canonical name (``column_map`` applied first).

    Columns that are not canonical after mapping are left out. Raises SourceError when
    ``column_map`` names an unknown target, two columns become the same canonical column,
    or a required column (other than ``event_id``, which can be derived) is missing.
    """
    unknown = sorted(set(column_map.values()) - set(schema.EVENT_COLUMNS))
    if unknown:
        raise SourceError(
            f"column_map maps to unknown column(s) {unknown}",
            hint=f"map to the canonical columns {list(schema.EVENT_COLUMNS)}",
            ko=f"column_map에 알 수 없는 대상 열이 있습니다: {unknown}",
            ko_hint=f"표준 열({list(schema.EVENT_COLUMNS)}) 중 하나로 매핑하십시오",
        )
    plan: dict[str, str] = {}
    source_of: dict[str, str] = {}
    for name in present:
        target = column_map.get(name.strip(), name.strip())
        if target not in schema.EVENT_COLUMNS:
            continue
        if target in source_of:
            raise SourceError(
                f"{path}: columns {source_of[target]!r} and {name!r} both become {target!r}",
                hint="keep one of them (drop it from column_map or from the export)",
                ko=f"{path}: {source_of[target]!r} 열과 {name!r} 열이 모두 {target!r} 열이 됩니다",
                ko_hint="둘 중 하나만 남기십시오 (column_map이나 내보낸 파일에서 빼십시오)",
            )
        source_of[target] = name
        plan[name] = target
    missing = [c for c in schema.REQUIRED_COLUMNS if c != schema.EVENT_ID and c not in source_of]
    if missing:
        mapped = f" after column_map {dict(column_map)}" if column_map else ""
        raise SourceError(
            f"{path}: required column(s) {missing} missing{mapped}; "
            f"columns present: {list(present)}",
            hint=_MAP_HINT,
            ko=f"{path}: 필수 열이 없습니다: {missing}"
            f"{f' (column_map {dict(column_map)} 적용 후)' if column_map else ''}. "
            f"있는 열: {list(present)}",
            ko_hint=_MAP_HINT_KO,
        )
    return plan


def to_events(frame: pl.DataFrame, plan: Mapping[str, str], path: Path) -> pl.DataFrame:
    """Rename planned columns to canonical names, cast ids and text to String, add ids.

    The result has the canonical columns in ``schema.EVENT_COLUMNS`` order, then
    ``_location``; ``event_id`` is derived (:func:`derive_event_ids`) when absent.
    """
    out = frame.select(*(pl.col(s).alias(t) for s, t in plan.items()), pl.col(schema.LOCATION))
    for name in [c for c in plan.values() if c not in TYPED_COLUMNS]:
        if out.schema[name] != pl.String:
            try:
                out = out.with_columns(pl.col(name).cast(pl.String))
            except pl.exceptions.PolarsError as exc:
                raise SourceError(
                    f"{path}: column {name!r} of type {out.schema[name]} cannot be read as text",
                    ko=f"{path}: {out.schema[name]} 형식인 {name!r} 열을 텍스트로 읽을 수 없습니다",
                ) from exc
    if schema.EVENT_ID not in out.columns:
        out = out.with_columns(derive_event_ids(out))
    return out.select(*(c for c in schema.EVENT_COLUMNS if c in out.columns), schema.LOCATION)


def derive_event_ids(events: pl.DataFrame) -> pl.Series:
    """Deterministic ids ``h:<16 hex>`` for events that have none.

    The id is BLAKE2b (8 bytes) of user_id, timestamp, action_type, resource_id and host
    as raw text (null distinct from empty); the k-th repeat (k >= 1) of an identical row
    in ``events`` also hashes k. So two identical rows in one file are two events, while
    the same row in two overlapping exports gets one id (the store keeps it once), on any
    machine and Polars version. Values are hashed as given:
    ``2026-09-01T09:00:00`` and ``2026-09-01 09:00:00`` give different ids. Hashing is
    the one per-row Python step (about 0.5 µs a row).
    """
    parts = [
        pl.col(c).cast(pl.String).fill_null(_NULL) if c in events.columns else pl.lit(_NULL)
        for c in ID_CONTENT
    ]
    content = events.select(pl.concat_str(parts, separator="\x1f")).to_series()
    twins = content.is_duplicated()
    if twins.any():  # counting repeats is a group-by: do it only for rows that have a twin
        where = twins.arg_true()
        same = content.gather(where)
        repeat = same.to_frame("c").select(pl.int_range(pl.len()).over("c")).to_series()
        later = repeat > 0
        tagged = same.filter(later) + "\x1e" + repeat.filter(later).cast(pl.String)
        content = content.scatter(where.filter(later), tagged)
    hashes = map(_HEX, map(_BLAKE2B_64, content.cast(pl.Binary).to_list()))
    return ("h:" + pl.Series(list(hashes), dtype=pl.String)).alias(schema.EVENT_ID)


_BLAKE2B_64: Final = functools.partial(hashlib.blake2b, digest_size=8)
_HEX: Final = operator.methodcaller("hexdigest")
