"""The contract every Source keeps (River's ``checks`` idea).

``read(None)`` yields batches of canonical columns with each row's ``_location``; reading
on from the last watermark yields nothing new; resuming from the first batch's watermark
yields exactly the rest; a watermark is a JSON string (what the store keeps) and one of
another kind is refused with a SourceError. A new source is checked by adding one line
to ``SOURCES``: a name and how to make it over a few events in ``tmp_path``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import Batch, Source, Watermark
from auditlens.sources.cert import CertSource
from auditlens.sources.files import FileSource
from auditlens.sources.kafka import KafkaSource
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.sources.synthetic import GeneratorSpec, SyntheticSource
from tests.kafka_broker import shared_broker
from tests.sources.customer_db import COLUMN_MAP, CustomerDb
from tests.sources.test_xlsx import workbook

CERT_R42 = Path(__file__).parents[1] / "data" / "cert_r42"
#: Columns a source may add beside the canonical ones, per source kind: the change log
#: names each insert (provenance), and unmapped customer columns keep their names (the
#: customer table's key column ``id`` here; validate.py drops them).
EXTRA_COLUMNS = {SqlChangeLogSource: {"_change_id", "id"}}


def _events(first: int, n: int) -> pl.DataFrame:
    """``n`` canonical events with ids from ``first``, all values as text."""
    ids = range(first, first + n)
    return pl.DataFrame(
        {
            schema.EVENT_ID: [f"e{i}" for i in ids],
            schema.USER_ID: [f"U{i % 3:04d}" for i in ids],
            schema.TIMESTAMP: [f"2026-09-0{1 + i % 5}T10:{i % 60:02d}:00+09:00" for i in ids],
            schema.ACTION_TYPE: ["view" if i % 2 else "download" for i in ids],
            schema.RESOURCE_ID: [f"doc-{i}" for i in ids],
        }
    )


def _two_files(tmp_path: Path, suffix: str, write: Callable[[pl.DataFrame, Path], None]) -> Path:
    for name, first in (("a", 0), ("b", 5)):
        write(_events(first, 5), tmp_path / f"{name}.{suffix}")
    return tmp_path


def _xlsx(frame: pl.DataFrame, path: Path) -> None:
    workbook(path, {"events": [frame.columns, *[list(r) for r in frame.rows()]]})


def _sql(tmp_path: Path) -> Source:
    db = CustomerDb.create(f"sqlite:///{tmp_path / 'customer.db'}")
    db.insert_events(25)
    return SqlChangeLogSource(str(db.engine.url), column_map=COLUMN_MAP, page_size=10)


def _kafka(tmp_path: Path) -> Source:
    broker = shared_broker()
    topic = broker.topic()  # one partition: the contract compares the order of rows
    broker.produce(topic, _events(0, 10).to_dicts())
    return KafkaSource(broker.bootstrap, [topic], max_records=4)


SOURCES: list[tuple[str, Callable[[Path], Source]]] = [
    ("csv", lambda d: FileSource(_two_files(d, "csv", lambda f, p: f.write_csv(p)))),
    ("jsonl", lambda d: FileSource(_two_files(d, "jsonl", lambda f, p: f.write_ndjson(p)))),
    ("parquet", lambda d: FileSource(_two_files(d, "parquet", lambda f, p: f.write_parquet(p)))),
    ("xlsx", lambda d: FileSource(_two_files(d, "xlsx", _xlsx))),
    ("sql", _sql),
    ("kafka", _kafka),
    ("cert", lambda d: CertSource(CERT_R42)),
    (
        "synthetic",
        lambda d: SyntheticSource(GeneratorSpec(users=10, days=3, seed=4), batch_rows=500),
    ),
]


@pytest.fixture(params=SOURCES, ids=[name for name, _ in SOURCES])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    _, make = request.param
    return make(tmp_path)


def _locations(batches: list[Batch]) -> list[str]:
    return [loc for b in batches for loc in b.events.get_column(schema.LOCATION).to_list()]


def test_batches_have_canonical_columns_and_every_row_a_location(source: Source) -> None:
    batches = list(source.read(None))
    assert len(batches) >= 2 and sum(b.events.height for b in batches) > 0
    allowed = {*schema.EVENT_COLUMNS, schema.LOCATION, *EXTRA_COLUMNS.get(type(source), ())}
    for batch in batches:
        assert set(batch.events.columns) <= allowed, set(batch.events.columns) - allowed
        assert set(schema.REQUIRED_COLUMNS) <= set(batch.events.columns)
        assert batch.events.get_column(schema.LOCATION).null_count() == 0
    locations = _locations(batches)
    assert len(set(locations)) == len(locations)  # each row read once, located apart


def test_reading_on_from_the_last_watermark_yields_nothing_new(source: Source) -> None:
    last = list(source.read(None))[-1].watermark
    assert list(source.read(last)) == []


def test_resuming_after_the_first_batch_yields_exactly_the_rest(source: Source) -> None:
    batches = list(source.read(None))
    rest = list(source.read(batches[0].watermark))
    assert _locations(batches[:1]) + _locations(rest) == _locations(batches)


def test_watermarks_are_json_strings_that_survive_the_store(source: Source) -> None:
    batches = list(source.read(None))
    for batch in batches:
        assert isinstance(batch.watermark.value, str)
        json.loads(batch.watermark.value)
    stored = Watermark(json.dumps(json.loads(batches[-1].watermark.value)))  # written, read back
    assert list(source.read(stored)) == []


def test_a_watermark_of_another_kind_is_refused(source: Source) -> None:
    with pytest.raises(SourceError):
        list(source.read(Watermark('{"someone else": [1, 2]}')))
