"""One watermark test for every source: resume exactly where a read stopped, refuse others'.

Each case builds a source holding at least two batches. Reading from the last batch's
watermark yields nothing; reading from the first batch's yields the other batches' events,
unchanged; a watermark of another kind of source is a SourceError that says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from sqlalchemy import create_engine

from auditlens.errors import SourceError
from auditlens.sources.base import Batch, Source, Watermark
from auditlens.sources.cert import CertSource
from auditlens.sources.files import FileSource
from auditlens.sources.kafka import KafkaSource
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.sources.synthetic import GeneratorSpec, SyntheticSource
from tests.sources.customer_db import COLUMN_MAP, CustomerDb

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = "timestamp,user_id,action_type,resource_id,host"
FILE_MARK = Watermark('{"change_id": 42}')  # a SQL source's mark given to a file source
NOT_FILE = "is not a file watermark"


@dataclass(frozen=True)
class Case:
    """A source with two or more batches, a watermark it must refuse, and its words."""

    source: Source
    foreign: Watermark
    refusal: str


def _csv_files(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    for name, user in (("a.csv", "E1"), ("b.csv", "E2")):
        (tmp_path / name).write_text(f"{HEADER}\n2026-09-01T09:00:00,{user},view,/r,pc\n")
    return Case(FileSource(tmp_path, settle_seconds=0), FILE_MARK, NOT_FILE)


def _workbooks(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    for name, user in (("a.xlsx", "E1"), ("b.xlsx", "E2")):
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(HEADER.split(",")[:3])
        sheet.append(["2026-09-01T09:00:00", user, "view"])
        book.save(tmp_path / name)
    return Case(FileSource(tmp_path), FILE_MARK, NOT_FILE)


def _cert(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    shutil.copytree(DATA / "cert_r42", tmp_path / "r42")
    return Case(CertSource(tmp_path / "r42"), FILE_MARK, NOT_FILE)


def _synthetic(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    source = SyntheticSource(GeneratorSpec(users=10, days=3, seed=2), batch_rows=300)
    return Case(source, Watermark("nonsense"), "synthetic watermark 'nonsense' is not readable")


def _sql(url: str, request: pytest.FixtureRequest) -> Case:
    engine = create_engine(url)
    request.addfinalizer(engine.dispose)
    CustomerDb.create(engine).insert_events(12)
    source = SqlChangeLogSource(url, engine=engine, column_map=COLUMN_MAP, page_size=5)
    return Case(source, Watermark('{"offset": 3}'), "is not a change-log position")


def _sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    return _sql(f"sqlite:///{tmp_path / 'customer.db'}", request)


def _postgresql(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    return _sql(request.getfixturevalue("pg_url"), request)


def _kafka(tmp_path: Path, request: pytest.FixtureRequest) -> Case:
    broker = request.getfixturevalue("kafka_broker")
    topic = broker.topic(partitions=1)  # one partition: an order the comparison can rely on
    rows = [f'{{"timestamp": "2026-09-01T09:00:0{i % 10}", "user_id": "E{i}"}}' for i in range(12)]
    broker.produce(topic, rows)
    source = KafkaSource(broker.bootstrap, [topic], max_records=5, idle_seconds=5)
    return Case(source, FILE_MARK, "is not a set of Kafka offsets")


CASES: dict[str, Callable[[Path, pytest.FixtureRequest], Case]] = {
    "csv-files": _csv_files,
    "xlsx-workbooks": _workbooks,
    "cert": _cert,
    "synthetic": _synthetic,
    "sql-sqlite": _sqlite,
    "sql-postgresql": _postgresql,
    "kafka": _kafka,
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.postgres] if "postgresql" in name else [])
        for name in CASES
    ]
)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    return CASES[request.param](tmp_path, request)


def _events(batches: list[Batch]) -> pl.DataFrame:
    return pl.concat([b.events for b in batches], how="diagonal_relaxed")


def test_a_read_resumes_where_its_watermark_says_and_nowhere_else(case: Case) -> None:
    batches = list(case.source.read())
    assert len(batches) >= 2 and all(b.events.height for b in batches)
    assert list(case.source.read(batches[-1].watermark)) == []  # all read: nothing again
    rest = list(case.source.read(batches[0].watermark))
    assert _events(rest).equals(_events(batches[1:]))  # the others, each row once, unchanged
    with pytest.raises(SourceError, match=case.refusal):
        list(case.source.read(case.foreign))
