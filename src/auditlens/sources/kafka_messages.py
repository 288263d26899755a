"""Kafka message values as event rows: JSON objects (one per message) or CSV lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl

from auditlens import schema

MessageFormat = Literal["json", "csv"]
#: (location, reason, raw text) of a message that is not an event.
Rejected = tuple[str, str, str]

_JSON_TYPES: Final = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


@dataclass(frozen=True)
class MessageReader:
    """How a source's messages read: ``format``, the CSV field names, the column map."""

    format: MessageFormat = "json"
    csv_columns: tuple[str, ...] = ()
    column_map: Mapping[str, str] = field(default_factory=dict)

    def frame(
        self, raws: list[bytes], places: Sequence[str] | pl.Series
    ) -> tuple[pl.DataFrame, list[Rejected]]:
        """Events (canonical columns as text, ``event_id`` defaulting to
        ``kafka:<location>``, ``_location``) and the messages that are not events."""
        events = self._json_frame(raws, places) if self.format == "json" else None
        if events is not None:
            return events, []
        return self._decoded_frame(raws, places)

    def _json_frame(
        self, raws: list[bytes], places: Sequence[str] | pl.Series
    ) -> pl.DataFrame | None:
        """Fast path: every message one line of a JSON object, parsed by Polars at once
        (None when one is not, or when two keys map to one column: then one by one)."""
        keys = {key: target for key, target in self.column_map.items()}
        for column in schema.EVENT_COLUMNS:
            if column not in keys.values():
                keys.setdefault(column, column)
        if len(set(keys.values())) != len(keys):
            return None
        lines = b"\n".join(raws)
        if lines.count(b"\n") != len(raws) - 1:  # a message of more than one line
            return None
        try:
            frame = pl.read_ndjson(lines, schema=dict.fromkeys(keys, pl.String()))
        except pl.exceptions.PolarsError:
            return None
        if frame.height != len(raws):
            return None
        frame = frame.rename({k: t for k, t in keys.items() if k != t})
        frame = frame.select(c for c in schema.EVENT_COLUMNS if frame[c].null_count() < len(raws))
        derived = pl.Series(schema.LOCATION, places, pl.String())
        if schema.EVENT_ID not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String()).alias(schema.EVENT_ID))
        frame = frame.with_columns(pl.col(schema.EVENT_ID).fill_null("kafka:" + derived), derived)
        wanted = [*schema.EVENT_COLUMNS, schema.LOCATION]
        return frame.select(c for c in wanted if c in frame.columns)

    def _decoded_frame(
        self, raws: list[bytes], places: Sequence[str] | pl.Series
    ) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
        """Message by message: readable ones as events, the others with their reason."""
        rows: list[dict[str, str | None]] = []
        bad: list[tuple[str, str, str]] = []
        for raw, where in zip(raws, places, strict=True):
            row, reason = self._decode(raw)
            if row is None:
                bad.append((where, reason, raw.decode("utf-8", "replace")))
                continue
            row.setdefault(schema.EVENT_ID, f"kafka:{where}")
            row[schema.LOCATION] = where
            rows.append(row)
        # a column only where some message has a value (as the fast path reads them)
        columns = [c for c in schema.EVENT_COLUMNS if any(r.get(c) is not None for r in rows)]
        events = pl.DataFrame(
            {c: [r.get(c) for r in rows] for c in [*columns, schema.LOCATION]},
            schema=dict.fromkeys([*columns, schema.LOCATION], pl.String()),
        )
        return events, bad

    def _decode(self, raw: bytes) -> tuple[dict[str, str | None] | None, str]:
        """A message as canonical columns (values as text), or None and why not."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 text (byte {exc.start})"
        if self.format == "csv":
            fields = next(csv.reader([text.rstrip("\r\n")]), [])
            if len(fields) != len(self.csv_columns):
                return None, (
                    f"CSV line has {len(fields)} fields, expected {len(self.csv_columns)}"
                )
            found: dict[str, Any] = dict(zip(self.csv_columns, fields, strict=True))
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
            if not isinstance(value, dict):
                return None, f"not a JSON object (found {_JSON_TYPES.get(type(value), 'a number')})"
            found = value
        row: dict[str, str | None] = {}
        for key, item in found.items():
            target = self.column_map.get(key, key)
            if target in schema.EVENT_COLUMNS:
                row[target] = _text(item)
        return row, ""


def _text(value: Any) -> str | None:
    """A JSON value as the text a file source would give (scalars as their JSON text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
