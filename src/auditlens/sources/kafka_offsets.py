"""Where a Kafka read stands: the next offset of every partition, as a watermark."""

from __future__ import annotations

import json

import polars as pl

from auditlens.errors import SourceError
from auditlens.schema import Watermark

#: ``{topic: {partition: next offset}}``
Offsets = dict[str, dict[int, int]]


def location(topic: str, partition: int, offset: int) -> str:
    """Where a message is: ``topic/partition/offset`` (a quarantined row's location)."""
    return f"{topic}/{partition}/{offset}"


def location_expr(topic: str, partition: str, offset: str) -> pl.Expr:
    """:func:`location` of every row, from its topic, partition and offset columns.

    >>> pl.DataFrame({"t": ["ev"], "p": [2], "o": [41]}).select(location_expr("t", "p", "o")).item()
    'ev/2/41'
    """
    return pl.format("{}/{}/{}", topic, partition, offset)


def parse_offsets(since: Watermark | None) -> Offsets:
    """A Kafka watermark as ``{topic: {partition: next offset}}`` (empty for None)."""
    if since is None:
        return {}
    try:
        body = json.loads(since.value)["offsets"]
        return {
            str(topic): {int(p): int(o) for p, o in parts.items()} for topic, parts in body.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceError(
            f"watermark {since.value!r} is not a set of Kafka offsets",
            hint='expected JSON like {"offsets": {"topic": {"0": 42}}}; reset the source to '
            "read from the start",
            ko=f"저장된 워터마크가 Kafka 오프셋이 아닙니다: {since.value!r}",
            ko_hint='{"offsets": {"topic": {"0": 42}}} 형식의 JSON이어야 합니다. 처음부터 '
            "읽으려면 소스를 초기화하십시오",
        ) from None


def offsets_watermark(offsets: Offsets) -> Watermark:
    """The watermark holding ``offsets`` (sorted, so equal offsets give equal text)."""
    body = {
        topic: {str(p): offsets[topic][p] for p in sorted(offsets[topic])}
        for topic in sorted(offsets)
    }
    return Watermark(json.dumps({"offsets": body}))
