"""CSV reading around broken records: unclosed quotes, huge fields and lines, last lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditlens import schema
from auditlens.sources.base import Batch
from auditlens.sources.files import TRUNCATED, FileSource
from tests.sources.reading import read_one

HEADER = "timestamp,user_id,action_type,resource_id,host"


def row(i: int) -> str:
    return f"2026-09-01T09:{i % 60:02d}:00,E{i},view,/r/{i},pc-{i % 7}"


def rejected(batch: Batch) -> list[tuple[str, str, str]]:
    assert batch.rejected is not None
    return list(batch.rejected.rows())


def lines_of(batch: Batch) -> list[int]:
    return [int(loc.rsplit(":", 1)[1]) for loc in batch.events[schema.LOCATION]]


def test_an_unclosed_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    rows = [row(i) for i in range(1001)]
    rows[500] = '2026-09-01T09:00:00,E500,view,"/r/unclosed,pc-1'  # line 502
    path = tmp_path / "q.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    batch = read_one(path)
    assert batch.events.height == 1000
    ((location, reason, raw),) = rejected(batch)
    assert location == f"{path}:502"
    assert raw == rows[500]
    assert "unclosed quote" in reason and "resumed on the next line" in reason
    assert lines_of(batch) == [n for n in range(2, 1003) if n != 502]
    assert batch.events[schema.USER_ID][500] == "E501"  # the line after it is intact


def test_unclosed_quotes_next_to_real_multiline_fields(tmp_path: Path) -> None:
    text = "\n".join(
        [
            HEADER,
            '2026-09-01T09:00:00,E1,view,"/multi\nline",pc-1',  # lines 2-3: a real one
            '2026-09-01T09:00:01,E2,view,"/open,pc-2',  # line 4: never closed
            row(5),  # line 5
            '2026-09-01T09:00:03,E3,view,"/also ""open,pc-3',  # line 6: never closed
            row(7),  # line 7
            '2026-09-01T09:00:04,E4,view,"/two\n\nblank",pc-4',  # lines 8-10: real
            row(11),  # line 11
        ]
    )
    path = tmp_path / "mixed.csv"
    path.write_text(text + "\n")
    batch = read_one(path)
    assert lines_of(batch) == [2, 5, 7, 8, 11]
    assert batch.events[schema.RESOURCE_ID].to_list()[::3] == ["/multi\nline", "/two\n\nblank"]
    assert [r[0] for r in rejected(batch)] == [f"{path}:4", f"{path}:6"]


def test_a_200kb_field_is_read_and_an_unclosed_one_is_not_swallowing(tmp_path: Path) -> None:
    big = "x" * 200_000
    rows = [row(i) for i in range(1001)]
    rows[300] = f'2026-09-01T09:00:00,E300,view,"{big}",pc-1'
    path = tmp_path / "big.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    batch = read_one(path)
    assert rejected(batch) == []
    assert batch.events.height == 1001
    assert batch.events[schema.RESOURCE_ID][300] == big

    rows[300] = f'2026-09-01T09:00:00,E300,view,"{big},pc-1'  # the same, never closed
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    batch = read_one(path)
    assert batch.events.height == 1000
    assert [r[0] for r in rejected(batch)] == [f"{path}:302"]


def test_a_header_over_128kb_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(f"{HEADER},{'y' * 200_000}\n{row(1)},extra\n")
    batch = read_one(path)
    assert batch.events[schema.USER_ID].to_list() == ["E1"]


def test_a_50mb_first_line_is_a_short_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_bytes(b"a" * (50 << 20) + b"\n" + row(1).encode() + b"\n")
    batch = read_one(path)  # the file is quarantined as unreadable, with a short reason
    assert batch.events.height == 0
    ((location, message, _),) = rejected(batch)
    assert location == str(path)
    assert len(message) < 600
    assert f"{path}:1: the first line is longer than the 16 MiB" in message


def test_every_quoted_input_in_a_reason_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": "' + "z" * 1_000_000 + "\n")
    batch = read_one(path)
    ((_, reason, raw),) = rejected(batch)
    assert len(reason) < 300
    assert len(raw) == 1_000_013  # the quarantine keeps the whole line


def test_a_complete_last_line_without_newline_is_read_once_the_file_settled(
    tmp_path: Path,
) -> None:
    path = tmp_path / "last.csv"
    path.write_text(f"{HEADER}\n{row(1)}\n{row(2)}")
    fresh = read_one(path, settle_seconds=60)
    assert lines_of(fresh) == [2]
    assert rejected(fresh) == []  # not quarantined: the writer may not be done
    assert "next run" in fresh.metadata["notice"] and "다음 실행" in fresh.metadata["notice_ko"]

    settled = os.stat(path).st_mtime - 120
    os.utime(path, (settled, settled))
    source = FileSource(path, settle_seconds=60)
    assert [lines_of(b) for b in source.read(fresh.watermark)] == [[3]]
    (batch,) = source.read()
    assert lines_of(batch) == [2, 3] and rejected(batch) == []


def test_a_settled_cut_last_line_is_quarantined_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text(f"{HEADER}\n{row(1)}\n2026-09-01T09:10:00,E10")
    ((location, reason, raw),) = rejected(read_one(path))
    assert (location, raw) == (f"{path}:3", "2026-09-01T09:10:00,E10")
    assert reason.startswith(TRUNCATED)


def test_clean_file_stays_on_the_vectorised_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditlens.sources import csvfile

    def no_slow_path(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clean file must not take the line-by-line path")

    monkeypatch.setattr(csvfile, "_csv_lines", no_slow_path)
    path = tmp_path / "clean.csv"
    path.write_text("\n".join([HEADER, *(row(i) for i in range(5000))]) + "\n")
    assert read_one(path).events.height == 5000
