"""FileSource: CSV / Parquet / JSON Lines reading, locations, rejections, ids, watermark."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import Batch, Watermark
from auditlens.sources.files import TRUNCATED, FileSource, derive_event_ids
from tests.sources.reading import read_one, unreadable

HEADER = "timestamp,user_id,action_type,resource_id,host"
ROWS = [
    "2026-09-01T09:03:12,E1001,view,/hr/salary,pc-01",
    "2026-09-01T09:04:00,E1002,download,/fin/ledger.xlsx,pc-02",
    "2026-09-01 22:15:00,E1001,login,,pc-01",
    "09/01/2026 23:00:00,E1003,export,/fin/ledger.xlsx,",
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rejected_rows(batch: Batch) -> list[tuple[str, str, str]]:
    assert batch.rejected is not None
    return sorted(batch.rejected.rows(), key=lambda r: int(re.split("[:=]", r[0])[-1]))


def lines_of(batch: Batch) -> list[int]:
    return [int(loc.rsplit(":", 1)[1]) for loc in batch.events[schema.LOCATION]]


# --- CSV -------------------------------------------------------------------------------


def test_csv_rows_become_raw_canonical_events_with_line_locations(tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", "\n".join([HEADER, *ROWS]) + "\n")
    batch = read_one(path)
    events = batch.events
    assert events.columns == [
        schema.EVENT_ID,
        schema.USER_ID,
        schema.TIMESTAMP,
        schema.ACTION_TYPE,
        schema.RESOURCE_ID,
        schema.HOST,
        schema.LOCATION,
    ]
    assert all(dtype == pl.String for dtype in events.dtypes)
    assert events[schema.TIMESTAMP].to_list() == [r.split(",")[0] for r in ROWS]
    assert events[schema.RESOURCE_ID].to_list() == [
        "/hr/salary",
        "/fin/ledger.xlsx",
        None,
        "/fin/ledger.xlsx",
    ]
    assert events[schema.HOST].to_list() == ["pc-01", "pc-02", "pc-01", None]
    assert events[schema.LOCATION].to_list() == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert batch.label == str(path)
    assert rejected_rows(batch) == []


def test_column_map_loads_a_differently_named_export(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.csv",
        "emp_no,login_time,menu,act,dept_code,remark\n"
        "1001,2026-09-01 09:00:00,HR-SALARY,view,D10,first\n"
        "1002,2026-09-01 09:05:00,FIN-LEDGER,print,D20,second\n",
    )
    column_map = {
        "login_time": "timestamp",
        "emp_no": "user_id",
        "menu": "resource_id",
        "act": "action_type",
    }
    events = read_one(path, column_map=column_map).events
    assert events.drop(schema.EVENT_ID, schema.LOCATION).rows() == [
        ("1001", "2026-09-01 09:00:00", "view", "HR-SALARY"),
        ("1002", "2026-09-01 09:05:00", "print", "FIN-LEDGER"),
    ]
    assert "dept_code" not in events.columns and "remark" not in events.columns


def test_truncated_last_line_is_rejected_with_its_location_and_text(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.csv", "\n".join([HEADER, *ROWS[:3]]) + "\n2026-09-01T09:10:00,E10")
    batch = read_one(path)
    assert batch.events.height == 3
    ((location, reason, raw),) = rejected_rows(batch)
    assert (location, raw) == (f"{path}:5", "2026-09-01T09:10:00,E10")
    assert reason == f"{TRUNCATED}: expected 5 fields, found 2"
    assert batch.events.height + len(rejected_rows(batch)) == 4  # data lines in the file


def test_ragged_rows_are_rejected_and_blank_lines_are_not_rows(tmp_path: Path) -> None:
    text = "\r\n".join(
        [
            HEADER,
            ROWS[0],
            "2026-09-01T09:05:00,E1002,view",  # too few fields
            "",  # blank: not a row
            ROWS[1] + ",extra",  # too many fields
            ROWS[2],
        ]
    )
    path = write(tmp_path / "ragged.csv", text + "\r\n")
    batch = read_one(path)
    assert lines_of(batch) == [2, 6]
    assert rejected_rows(batch) == [
        (f"{path}:3", "expected 5 fields, found 3", "2026-09-01T09:05:00,E1002,view"),
        (f"{path}:5", "expected 5 fields, found 6", ROWS[1] + ",extra"),
    ]
    assert batch.events.height + len(rejected_rows(batch)) == 4


def test_crlf_and_bom_and_quoted_fields(tmp_path: Path) -> None:
    text = (
        "\ufeff" + HEADER + "\r\n"
        '"2026-09-01T09:00:00","E1","view","/a,b","pc-1"\r\n'
        '2026-09-01T09:00:01,E2,view,"say ""hi""",""\r\n'
        '"2026-09-01T09:00:02","E3","view","/c"\r\n'
    )
    path = write(tmp_path / "quoted.csv", text)
    batch = read_one(path)
    assert batch.events.select(schema.USER_ID, schema.RESOURCE_ID, schema.HOST).rows() == [
        ("E1", "/a,b", "pc-1"),
        ("E2", 'say "hi"', None),
    ]
    assert lines_of(batch) == [2, 3]
    assert [r[:2] for r in rejected_rows(batch)] == [(f"{path}:4", "expected 5 fields, found 4")]


def test_quoted_newline_keeps_line_numbers_exact(tmp_path: Path) -> None:
    text = "\n".join(
        [
            HEADER,
            '2026-09-01T09:00:00,E1,view,"/multi\nline",pc-1',  # lines 2-3
            "2026-09-01T09:00:01,E2,view",  # line 4, ragged
            ROWS[0],  # line 5
        ]
    )
    path = write(tmp_path / "multi.csv", text + "\n")
    batch = read_one(path)
    assert lines_of(batch) == [2, 5]
    assert batch.events[schema.RESOURCE_ID][0] == "/multi\nline"
    assert [r[0] for r in rejected_rows(batch)] == [f"{path}:4"]


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "cp949.csv"
    path.write_bytes(
        f"{HEADER}\n{ROWS[0]}\n".encode()
        + "2026-09-01T09:00:00,김철수,view,/a,pc\n".encode("cp949")
    )
    batch = read_one(path)
    assert lines_of(batch) == [2]
    ((location, reason, _raw),) = rejected_rows(batch)
    assert location == f"{path}:3"
    assert "not valid UTF-8" in reason


def test_big_plain_csv_takes_the_vectorised_path_with_exact_locations(tmp_path: Path) -> None:
    n = 20_000
    body = "".join(f"2026-09-01T09:00:00,E{i % 97},view,/r/{i},pc-{i % 7}\n" for i in range(n))
    path = write(tmp_path / "big.csv", f"{HEADER}\n{body}2026-09-01T09:00:00,E1,vi")
    batch = read_one(path)
    assert batch.events.height == n
    assert batch.events[schema.LOCATION][-1] == f"{path}:{n + 1}"
    assert batch.events[schema.RESOURCE_ID][-1] == f"/r/{n - 1}"
    assert rejected_rows(batch)[0][0] == f"{path}:{n + 2}"
    assert rejected_rows(batch)[0][1].startswith(TRUNCATED)


# --- JSON Lines and Parquet -------------------------------------------------------------


def test_jsonl_bad_lines_are_rejected_and_values_kept_as_text(tmp_path: Path) -> None:
    good = {
        "timestamp": "2026-09-01T09:00:00",
        "user_id": 1001,
        "action_type": "view",
        "resource_id": "/a",
    }
    lines = [
        json.dumps(good),
        '{"timestamp": "2026-09-01T09:01:00", "user_id": ',  # line 2: invalid JSON
        "",  # line 3: blank
        "[1, 2]",  # line 4: not an object
        json.dumps(good | {"success": True, "extra": {"k": 1}}),  # line 5
    ]
    path = write(tmp_path / "e.jsonl", "\n".join(lines) + '\n{"timestamp": "2026-09-')
    batch = read_one(path)
    assert lines_of(batch) == [1, 5]
    assert batch.events[schema.USER_ID].to_list() == ["1001", "1001"]
    assert batch.events[schema.SUCCESS].to_list() == [None, "true"]
    rows = rejected_rows(batch)
    assert [r[0] for r in rows] == [f"{path}:2", f"{path}:4", f"{path}:6"]
    assert rows[0][1].startswith("invalid JSON: Expecting value")
    assert rows[1][1] == "not a JSON object (found an array)"
    assert rows[2][1].startswith(TRUNCATED + ": invalid JSON")
    assert rows[2][2] == '{"timestamp": "2026-09-'
    assert batch.events.height + len(rows) == 5  # non-blank lines


def test_jsonl_blank_lines_and_bom_keep_line_numbers_exact(tmp_path: Path) -> None:
    row = {"timestamp": "2026-09-01T09:00:00", "user_id": "E1", "action_type": "login"}
    text = "\ufeff" + json.dumps(row) + "\n\n" + json.dumps(row | {"user_id": "E2"}) + "\n"
    batch = read_one(write(tmp_path / "b.jsonl", text))
    assert batch.events[schema.USER_ID].to_list() == ["E1", "E2"]
    assert lines_of(batch) == [1, 3]
    assert rejected_rows(batch) == []


def test_parquet_keeps_typed_timestamp_and_stringifies_ids(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "event_id": [7, 8],
            "user_id": [1001, 1002],
            "timestamp": [dt.datetime(2026, 9, 1, 9), dt.datetime(2026, 9, 1, 10)],
            "action_type": ["view", "edit"],
            "resource_id": ["/a", "/b"],
            "success": [True, False],
        }
    ).write_parquet(path)
    events = read_one(path).events
    assert events.schema[schema.TIMESTAMP] == pl.Datetime("us")
    assert events.schema[schema.SUCCESS] == pl.Boolean
    assert events[schema.EVENT_ID].to_list() == ["7", "8"]
    assert events[schema.USER_ID].to_list() == ["1001", "1002"]
    assert events[schema.LOCATION].to_list() == [f"{path}#row=0", f"{path}#row=1"]


def test_csv_parquet_and_jsonl_of_the_same_data_give_the_same_events(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    frame = pl.read_csv(csv_path, infer_schema=False)
    frame.write_parquet(tmp_path / "b.parquet")
    write(
        tmp_path / "c.jsonl", "".join(json.dumps(row) + "\n" for row in frame.iter_rows(named=True))
    )
    batches = list(FileSource(tmp_path).read())
    assert [Path(b.label).name for b in batches] == ["a.csv", "b.parquet", "c.jsonl"]
    first, *others = (b.events.drop(schema.LOCATION) for b in batches)
    assert first.height == len(ROWS)
    for other in others:
        assert other.equals(first)


# --- derived event ids -------------------------------------------------------------------


def test_derived_ids_are_deterministic_and_unique_for_repeated_rows(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1], ROWS[0], ROWS[0]]
    one = read_one(write(tmp_path / "one.csv", "\n".join([HEADER, *rows]) + "\n")).events
    ids = one[schema.EVENT_ID].to_list()
    assert all(re.fullmatch(r"h:[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == 4
    # Another file (other name, other rows around) gives the same row the same id.
    other = tmp_path / "sub"
    other.mkdir()
    text = "\n".join([HEADER, ROWS[3], ROWS[0], ROWS[1], ROWS[0]]) + "\n"
    two = read_one(write(other / "two.csv", text)).events[schema.EVENT_ID].to_list()
    assert two[1:] == ids[:3]
    # Pinned value: the id must not change with Polars or Python versions.
    assert derive_event_ids(one.head(1)).to_list() == [ids[0]]
    assert ids[0] == "h:" + _blake2b_of(ROWS[0])


def _blake2b_of(row: str) -> str:
    import hashlib

    timestamp, user, action, resource, host = row.split(",")
    content = "\x1f".join([user, timestamp, action, resource, host])
    return hashlib.blake2b(content.encode(), digest_size=8).hexdigest()


def test_an_event_id_column_is_used_as_is(tmp_path: Path) -> None:
    path = write(tmp_path / "ids.csv", f"event_id,{HEADER}\nX-1,{ROWS[0]}\nX-2,{ROWS[0]}\n")
    assert read_one(path).events[schema.EVENT_ID].to_list() == ["X-1", "X-2"]


# --- errors -------------------------------------------------------------------------------


def test_missing_required_column_names_file_column_and_option(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "emp_no,when,act\n1,2026-09-01,view\n")
    message = unreadable(path, column_map={"emp_no": "user_id"})
    assert str(path) in message
    assert "['timestamp', 'action_type'] missing" in message
    assert "['emp_no', 'when', 'act']" in message
    assert "column_map" in message


def test_column_map_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", f"user,{HEADER}\nx,{ROWS[0]}\n")
    assert re.search(r"unknown column.*usr_id", unreadable(path, column_map={"user": "usr_id"}))
    assert "'user' and 'user_id' both become 'user_id'" in unreadable(
        path, column_map={"user": "user_id"}
    )


def test_path_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist.*path"):
        read_one(tmp_path / "missing.csv")
    with pytest.raises(SourceError, match="is not a directory"):
        read_one(tmp_path / "nodir" / "*.csv")
    odd = write(tmp_path / "events.txt", "\n".join([HEADER, *ROWS]) + "\n")
    with pytest.raises(SourceError, match=r"events\.txt.*'\.txt'.*\.csv.*format"):
        read_one(odd)
    assert read_one(odd, format="csv").events.height == len(ROWS)
    old_mac = tmp_path / "mac.csv"
    old_mac.write_bytes(f"{HEADER}\r{ROWS[0]}\r".encode())
    assert re.search(r"mac\.csv: lines end with a bare carriage return", unreadable(old_mac))


def test_directory_skips_unknown_extensions_and_glob_is_sorted(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "notes.txt", ".hidden.csv"):
        write(tmp_path / name, "\n".join([HEADER, *ROWS]) + "\n")
    (tmp_path / "a.csv").write_text(f"{HEADER}\n{ROWS[0]}\n")
    labels = [Path(b.label).name for b in FileSource(tmp_path).read()]
    assert labels == ["a.csv", "b.csv"]
    assert [Path(b.label).name for b in FileSource(tmp_path / "*.csv").read()] == ["a.csv", "b.csv"]
    assert list(FileSource(tmp_path / "*.jsonl").read()) == []


def test_empty_and_header_only_files_yield_empty_batches(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "")
    write(tmp_path / "b.csv", HEADER + "\n")
    write(tmp_path / "c.jsonl", "\n\n")  # blank lines only (an empty file again is skipped)
    batches = list(FileSource(tmp_path).read())
    assert [b.events.height for b in batches] == [0, 0, 0]
    assert all(b.rejected is not None and b.rejected.height == 0 for b in batches)


# --- watermark ------------------------------------------------------------------------------


def test_watermark_skips_files_already_read(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", f"{HEADER}\n{ROWS[0]}\n")
    write(tmp_path / "b.csv", f"{HEADER}\n{ROWS[1]}\n")
    source = FileSource(tmp_path)
    first = list(source.read())
    digests = [b.metadata["sha256"] for b in first]
    a_csv = str(tmp_path / "a.csv")
    assert json.loads(first[0].watermark.value) == {
        "files": {digests[0]: a_csv},
        "marks": {a_csv: {"offset": 95, "line": 2, "prefix": digests[0]}},
    }
    assert set(json.loads(first[1].watermark.value)["files"]) == set(digests)
    # A renamed copy has the same digest: not read again. A new file is.
    shutil.copy(tmp_path / "a.csv", tmp_path / "a_copy.csv")
    write(tmp_path / "c.csv", f"{HEADER}\n{ROWS[2]}\n")
    again = list(source.read(first[-1].watermark))
    assert [Path(b.label).name for b in again] == ["c.csv"]
    assert len(json.loads(again[0].watermark.value)["files"]) == 3
    # Resuming after the first batch reads only the second file.
    assert [Path(b.label).name for b in source.read(first[0].watermark)] == ["b.csv", "c.csv"]


def test_appended_jsonl_is_read_from_where_the_last_read_stopped(tmp_path: Path) -> None:
    def line(i: int) -> str:
        row = {"timestamp": "2026-09-01T09:00:00", "user_id": f"E{i}", "action_type": "view"}
        return json.dumps(row) + "\n"

    path = write(tmp_path / "e.jsonl", line(1) + "{not json\n")
    source = FileSource(path)
    (first,) = source.read()
    assert lines_of(first) == [1]
    assert [r[0] for r in rejected_rows(first)] == [f"{path}:2"]
    size = path.stat().st_size
    with path.open("a") as fh:
        fh.write(line(3) + "\n" + line(5))
    (second,) = source.read(first.watermark)
    assert lines_of(second) == [3, 5]
    assert rejected_rows(second) == []  # line 2 is not quarantined a second time
    assert second.metadata["bytes"] == f"{size}-{path.stat().st_size}"
    assert list(source.read(second.watermark)) == []


def test_a_watermark_written_before_offsets_existed_still_skips_read_files(
    tmp_path: Path,
) -> None:
    import hashlib

    path = write(tmp_path / "a.csv", f"{HEADER}\n{ROWS[0]}\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    old = Watermark(json.dumps({"files": {digest: str(path)}}))
    assert list(FileSource(path).read(old)) == []
    with path.open("a") as fh:
        fh.write(ROWS[1] + "\n")
    (batch,) = FileSource(path).read(old)  # changed: read whole once, then by offset
    assert lines_of(batch) == [2, 3]
    assert json.loads(batch.watermark.value)["marks"][str(path)]["line"] == 3
